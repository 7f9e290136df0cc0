"""The command line documents itself: every command has help, the examples of the README and of docs/ name real
commands and options, and neither `import citerec` nor `citerec --help` loads torch."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from citerec.cli import app

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
HEAVY_MODULES = ("torch", "transformers", "sentence_transformers", "faiss", "vllm")


# Typer builds click commands (recent typer vendors its own copy of click), so groups and options are
# recognised by what they have, not by their class.


def is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group under `command` (depth first), with the words that invoke it."""
    yield path, command
    if is_group(command):
        for name in sorted(command.commands):
            yield from walk(command.commands[name], (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = list(walk(ROOT))


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("citerec", *path))


def test_the_app_has_the_documented_commands():
    names = {_name(path) for path, _ in COMMANDS}
    for expected in ("citerec suggest", "citerec eval", "citerec library import", "citerec library list"):
        assert expected in names, sorted(names)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[_name(path) for path, _ in COMMANDS])
def test_every_command_has_help(path: tuple[str, ...], command: Any):
    text = (command.help or command.short_help or "").strip()
    assert text, f"`{_name(path)}` has no help text (give it a docstring or help=)"
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert text.splitlines()[0].strip()[:30] in " ".join(result.output.split())


# -- README and docs/ examples ----------------------------------------------

_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1\s*$", re.DOTALL | re.MULTILINE)
_INLINE = re.compile(r"(?<!`)`(citerec [^`\n]+)`(?!`)")
_ENV_ASSIGNMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+")  # `CITEREC_API_KEY=x citerec serve`


def readme_command_lines(text: str) -> list[str]:
    """Lines of fenced code blocks that start with `citerec `, and inline code spans that do."""
    lines = []
    for block in _FENCE.finditer(text):
        for line in block.group(2).splitlines():
            line = _ENV_ASSIGNMENT.sub("", line.strip().removeprefix("$ ").strip())
            if line.startswith("citerec "):
                lines.append(line)
    outside = _FENCE.sub("", text)
    lines.extend(match.group(1).strip() for match in _INLINE.finditer(outside))
    return lines


def _options(command: Any) -> dict[str, Any]:
    """Option name (long or short) -> the click option, `--help` included."""
    found: dict[str, Any] = {name: None for name in ("--help",)}
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option":
            for opt in (*param.opts, *param.secondary_opts):
                found[opt] = param
    return found


def check_line(line: str) -> list[str]:
    """Problems of one README command line: unknown (sub)commands and options not of that command."""
    try:
        tokens = shlex.split(re.split(r"\s#", line, maxsplit=1)[0])  # a `# comment` is not part of the command
    except ValueError as exc:
        return [f"cannot split into words: {exc}"]
    assert tokens and tokens[0] == "citerec"
    problems: list[str] = []
    command: Any = ROOT
    path: list[str] = []
    positional = False
    i = 1
    while i < len(tokens):
        token = tokens[i].strip("[]")  # `[--pool other.bib …]`: an optional part, still checked
        i += 1
        if token in ("", "…", "...") or token.endswith("…"):  # "and so on"
            continue
        if token.startswith("-") and token != "-":
            name = token.split("=", 1)[0]
            options = _options(command)
            param = options.get(name)
            if name not in options:
                problems.append(f"`{_name(tuple(path))}` has no option {name}")
            elif param is not None and "=" not in token and not (param.is_flag or param.count):
                i += param.nargs  # skip the option's value(s)
            continue
        if is_group(command) and not positional:
            sub = command.commands.get(token)
            if sub is None:
                problems.append(f"`{_name(tuple(path))}` has no command {token!r}")
                break
            command = sub
            path.append(token)
            continue
        positional = True
    if is_group(command) and command is not ROOT and not problems:
        problems.append(f"`{_name(tuple(path))}` is a group: the example names no command of it")
    return problems


def test_readme_has_command_examples():
    lines = readme_command_lines(README.read_text(encoding="utf-8"))
    assert any(line.startswith("citerec suggest ") for line in lines), lines
    assert any(line.startswith("citerec library import ") for line in lines), lines


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda page: page.relative_to(REPO).as_posix())
def test_documented_commands_and_options_exist(page: Path):
    problems = []
    for line in readme_command_lines(page.read_text(encoding="utf-8")):
        problems.extend(f"{page.name}: {line!r}: {problem}" for problem in check_line(line))
    assert not problems, "\n".join(problems)


def test_the_readme_checker_catches_mistakes():
    assert check_line("citerec suggest draft.tex --bib refs.bib --top 3 --format json  # --not-an-option") == []
    assert check_line("citerec suggest draft.tex --bogus") == ["`citerec suggest` has no option --bogus"]
    assert check_line("citerec frobnicate x") == ["`citerec` has no command 'frobnicate'"]
    assert check_line("citerec library import refs.bib --top 3") == ["`citerec library import` has no option --top"]
    assert check_line("citerec eval paper.tex --bib paper.bib [--pool other.bib …]") == []
    assert check_line("citerec eval paper.tex [--nope x …]") == ["`citerec eval` has no option --nope"]
    assert check_line("citerec --verbose …") == []
    assert check_line("citerec library") == ["`citerec library` is a group: the example names no command of it"]


def test_readme_lines_are_found():
    text = "Run `citerec suggest a.tex --top 3`.\n\n```bash\nX=1 citerec index build  # note\nmake demo\n```\n"
    assert readme_command_lines(text) == ["citerec index build  # note", "citerec suggest a.tex --top 3"]


# -- no torch at import or --help ---------------------------------------------


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)


def test_import_citerec_does_not_load_torch():
    done = _run_python(
        "import sys, citerec\n"
        f"heavy = sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert 'torch' not in sys.modules\n"
    )
    assert done.returncode == 0, done.stderr


def test_help_of_every_command_does_not_load_torch():
    done = _run_python(
        "import sys\n"
        "import typer\n"
        "from typer.testing import CliRunner\n"
        "from citerec.cli import app\n"
        "def walk(command, path=()):\n"
        "    yield path\n"
        "    for name, sub in getattr(command, 'commands', {}).items():\n"
        "        yield from walk(sub, (*path, name))\n"
        "for path in walk(typer.main.get_command(app)):\n"
        "    result = CliRunner().invoke(app, [*path, '--help'])\n"
        "    assert result.exit_code == 0, (path, result.output)\n"
        f"heavy = sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    assert done.returncode == 0, done.stderr


def _imported_modules(stderr: str) -> set[str]:
    """Module names from the `-X importtime` report."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_citerec_help_in_a_subprocess_does_not_load_torch():
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "COLUMNS": "100"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    commands = [[sys.executable, "-c", "import sys; sys.argv[0] = 'citerec'; from citerec.cli import main; main()"]]
    script = Path(sys.executable).with_name("citerec")
    if script.exists():  # the installed console script, exactly as a user runs it
        commands.append([str(script)])
    for command in commands:
        done = subprocess.run([*command, "--help"], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Usage" in done.stdout and "suggest" in done.stdout
        modules = _imported_modules(done.stderr)
        assert "citerec.cli" in modules, "the import-time report is missing"
        heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY_MODULES)
        assert not heavy, f"{' '.join(command)} --help imported {heavy[:10]}"
