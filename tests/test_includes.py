"""Include confinement: text never reads files; a draft on disk reads only inside its own folder tree."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.latex import extract_contexts, read_draft

SECRET = "Zanzibar quokka secret passphrase sentence \\cite{?}."
runner = CliRunner()


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A draft folder `paper/` with a section inside it, and a secret file beside (outside) it."""
    paper = tmp_path / "paper"
    (paper / "sections").mkdir(parents=True)
    (paper / "sections" / "intro.tex").write_text("Inside the tree, an intro sentence \\cite{?}.\n")
    secret = tmp_path / "secret.tex"
    secret.write_text(SECRET + "\n")
    return {"root": tmp_path, "paper": paper, "secret": secret}


def _draft(paper: Path, body: str) -> Path:
    main = paper / "main.tex"
    main.write_text("\\documentclass{article}\n\\begin{document}\n" + body + "\n\\end{document}\n")
    return main


def _texts(draft) -> str:
    return "\n".join(f.text for f in draft.files)


# -- text given as a string: never touches the file system -------------------------------
@pytest.mark.parametrize(
    "command",
    [
        "\\input{{{abs}}}",
        "\\input {abs}",
        "\\include{{{abs}}}",
        "\\subfile{{{abs}}}",
        "\\import{{{dir}/}}{{secret}}",
        "\\subimport{{../}}{{secret}}",
        "\\input{{secret}}",
        "\\newcommand{{\\chap}}[1]{{\\input{{#1}}}}\\chap{{secret}}",
    ],
)
def test_text_never_reads_included_files(layout, monkeypatch, command) -> None:
    monkeypatch.chdir(layout["root"])  # even a relative name that exists in the working folder is not read
    tex = "A first sentence \\cite{?}.\n" + command.format(abs=layout["secret"], dir=layout["root"]) + "\n"
    draft = read_draft("<text>", text=tex, is_tex=True)
    assert len(draft.files) == 1
    assert "quokka" not in _texts(draft)
    assert len(draft.problems) == 1 and "not followed" in draft.problems[0], draft.problems
    assert "quokka" not in " ".join(c.text for c in extract_contexts(draft, all_sentences=True))


def test_stdin_never_reads_included_files(layout, monkeypatch) -> None:
    monkeypatch.chdir(layout["root"])
    data = f"Intro sentence \\cite{{?}}.\n\\input{{{layout['secret']}}}\n\\input{{secret}}\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    draft = read_draft("-", is_tex=True)
    assert len(draft.files) == 1 and "quokka" not in _texts(draft)
    assert len(draft.problems) == 2 and all("not followed" in p for p in draft.problems)


# -- a draft on disk: only its own folder tree --------------------------------------------
def _ways_out(layout) -> dict[str, str]:
    paper, secret = layout["paper"], layout["secret"]
    (paper / "link.tex").symlink_to(secret)
    (paper / "linkdir").symlink_to(layout["root"], target_is_directory=True)
    return {
        "absolute": f"\\input{{{secret}}}",
        "absolute-no-ext": f"\\input{{{secret.with_suffix('')}}}",
        "dotdot": "\\input{../secret}",
        "dotdot-deep": "\\include{sections/../../secret}",
        "symlink-file": "\\input{link}",
        "symlink-dir": "\\input{linkdir/secret}",
        "import-abs": f"\\import{{{layout['root']}/}}{{secret}}",
        "subimport-dotdot": "\\subimport{../}{secret}",
        "subfile-dotdot": "\\subfile{../secret.tex}",
        "macro": "\\newcommand{\\chapterfile}[1]{\\input{../#1}}\n\\chapterfile{secret}",
    }


@pytest.mark.parametrize(
    "way",
    [
        "absolute",
        "absolute-no-ext",
        "dotdot",
        "dotdot-deep",
        "symlink-file",
        "symlink-dir",
        "import-abs",
        "subimport-dotdot",
        "subfile-dotdot",
        "macro",
    ],
)
def test_each_way_out_of_the_folder_is_refused_unless_allowed(layout, way) -> None:
    command = _ways_out(layout)[way]
    main = _draft(layout["paper"], "Main text \\cite{?}.\n\\input{sections/intro}\n" + command)
    draft = read_draft(main)
    assert "quokka" not in _texts(draft)
    assert "intro sentence" in _texts(draft)  # includes inside the tree still work
    (problem,) = draft.problems
    assert problem.startswith("main.tex:") and "refused" in problem and "--allow-outside-includes" in problem
    assert "\n" not in problem
    allowed = read_draft(main, allow_outside_includes=True)
    assert "quokka" in _texts(allowed) and not allowed.problems


def test_a_file_included_from_a_subfolder_may_go_up_inside_the_tree(layout) -> None:
    paper = layout["paper"]
    (paper / "macros.tex").write_text("Macros file sentence \\cite{?}.\n")
    (paper / "sections" / "intro.tex").write_text("Intro \\cite{?}.\n\\input{../macros}\n")
    draft = read_draft(_draft(paper, "\\input{sections/intro}"))
    assert not draft.problems
    assert {f.name for f in draft.files} == {"main.tex", "sections/intro.tex", "macros.tex"}


# -- end to end: the Python API, the CLI and the HTTP service --------------------------------
def test_suggest_text_notes_the_include_and_reads_nothing(example_library_dir, layout) -> None:
    from citerec.library import Library
    from citerec.suggest import Suggester, SuggestOptions

    suggester = Suggester(Library(example_library_dir), options=SuggestOptions(rerank="off"))
    result = suggester.suggest_text(f"Transformers \\cite{{?}}.\n\\input{{{layout['secret']}}}\n")
    dumped = json.dumps(result.to_json())
    assert "quokka" not in dumped
    assert any("not followed" in note for note in result.notes)


def test_cli_refuses_then_follows_with_the_flag(example_library_dir, layout) -> None:
    main = _draft(layout["paper"], "Transformers are used for retrieval \\cite{?}.\n\\input{../secret}")
    args = ["suggest", str(main), "-L", str(example_library_dir), "--rerank", "off", "--format", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "quokka" not in result.stdout
    assert "refused" in result.stderr and "main.tex:" in result.stderr
    allowed = runner.invoke(app, [*args, "--allow-outside-includes"])
    assert allowed.exit_code == 0, allowed.output
    assert any("quokka" in c["sentence"] for c in json.loads(allowed.stdout)["contexts"])


def test_cli_stdin_reads_no_include(example_library_dir, layout, monkeypatch) -> None:
    monkeypatch.chdir(layout["root"])
    text = f"Transformers are used for retrieval \\cite{{?}}.\n\\input{{{layout['secret']}}}\n\\input{{secret}}\n"
    args = ["suggest", "-", "-L", str(example_library_dir), "--rerank", "off", "--format", "json"]
    result = runner.invoke(app, [*args, "--allow-outside-includes"], input=text)
    assert result.exit_code == 0, result.output
    assert "quokka" not in result.stdout and "not followed" in result.stderr


def test_http_suggest_never_reads_server_files(_indexed_example_library, layout) -> None:
    pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    import asyncio

    from citerec.serve import create_app
    from citerec.suggest import SuggestOptions

    application = create_app(_indexed_example_library, options=SuggestOptions(rerank="off"))
    tex = f"Transformers \\cite{{?}}.\n\\input{{{layout['secret']}}}\n\\include{{/etc/hostname}}\n"

    async def post():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/suggest", json={"tex": tex})

    try:
        response = asyncio.run(post())
    finally:
        application.state.service.close()
    assert response.status_code == 200, response.text
    assert "quokka" not in response.text
    notes = response.json()["notes"]
    assert sum("not followed" in note for note in notes) == 2


def test_eval_refuses_then_follows_with_the_flag(layout) -> None:
    """`citerec eval` reads a paper the way `suggest` does: outside includes only with the flag."""
    bib = Path(__file__).resolve().parents[1] / "data" / "examples" / "refs.bib"
    (layout["root"] / "outside.tex").write_text("Dense retrieval uses dual encoders \\cite{karpukhin2020dense}.\n")
    main = _draft(layout["paper"], "Transformers use attention \\cite{vaswani2017attention}.\n\\input{../outside}")
    args = ["eval", str(main), "--bib", str(bib), "--rerank", "off", "--json", "-"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 0, refused.output
    assert json.loads(refused.stdout)["papers"][0]["n_contexts"] == 1
    allowed = runner.invoke(app, [*args, "--allow-outside-includes"])
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["papers"][0]["n_contexts"] == 2


@pytest.mark.parametrize(
    ("command", "folder"),
    [("\\inputfrom{sub}{part}", "sub"), ("\\includefrom{sub}{part}", "sub"), ("\\subimport{sub/}{part}", "sub")],
)
def test_the_import_packages_commands_are_followed_by_their_whole_name(
    tmp_path: Path, command: str, folder: str
) -> None:
    """`\\inputfrom` once read as `\\input` followed by the word "from", and the file was silently not read."""
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "part.tex").write_text("Deep learning works \\cite{lecun2015}.\n", encoding="utf-8")
    main = tmp_path / "main.tex"
    main.write_text(
        "\\documentclass{article}\n\\usepackage{import}\n\\begin{document}\n"
        f"{command}\n\\includegraphics{{figure}}\n\\end{{document}}\n",
        encoding="utf-8",
    )
    assert [c.cited_keys for c in extract_contexts(read_draft(main))] == [("lecun2015",)]
