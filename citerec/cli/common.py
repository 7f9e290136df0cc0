"""What every CLI group shares: the stderr console, the library-dir option, error exits, the recall options.

Only the CLI prints. Human-facing output (tables, progress, warnings) goes to
stderr through `console`, except where a command's job is to print a table;
machine output (`--format json`, `bib`, `tex`) goes to stdout alone via `emit`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from citerec.errors import CiterecError
from citerec.request import RECALL_SETTINGS, RecallSetting, as_option

if TYPE_CHECKING:
    from citerec.latex import Draft
    from citerec.suggest import SuggestOptions

console = Console(stderr=True)
stdout_console = Console()

AllowOutsideIncludesOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-includes",
        help="Follow \\input/\\include to files outside the draft's folder (absolute paths, .., symlinks).",
    ),
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Refuse a damaged draft (a '{' never closed, an environment never ended, a runaway argument) "
        "instead of reading on and listing what was recovered.",
    ),
]
RerankOption = Annotated[
    str,
    typer.Option(
        "--rerank",
        help="auto: rerank with --reranker when it loads, else with the small CPU judge (citerec-small); "
        "on: require --reranker; off: recall only.",
    ),
]
RerankerOption = Annotated[
    str,
    typer.Option(
        "--reranker",
        help="Reranker: a Qwen3-Reranker hub name or local folder (0.6B/4B/8B), or citerec-small (the CPU judge).",
    ),
]
BackendOption = Annotated[
    str,
    typer.Option("--backend", help="Where the reranker runs: hf (transformers), vllm, or the URL of a vLLM server."),
]
EmbedderOption = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        "-e",
        help="Embedding model: a sentence-transformers hub name (e.g. Qwen/Qwen3-Embedding-0.6B) or a local folder. "
        "Default: the index's current one, else the bundled all-MiniLM-L6-v2 on ONNX Runtime "
        "(all-MiniLM-L6-v2@onnx-int8,doc128).",
        show_default=False,
    ),
]
ModeOption = Annotated[
    str,
    typer.Option("--mode", help="A context is the citing sentence with its neighbours (sentence) or its paragraph."),
]
LibraryDirOption = Annotated[
    Path | None,
    typer.Option(
        "--library-dir",
        "-L",
        help="Library folder (default: $CITEREC_LIBRARY_DIR, else .citerec/ beside the draft or in the current folder).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class RecallArgs:
    """The recall settings as a command's options wrote them, by name (`citerec.request.RECALL_SETTINGS`)."""

    written: Mapping[str, Any]


def _recall_parameter(setting: RecallSetting) -> inspect.Parameter:
    """A recall setting as a typer option: a switch as on|off, the fusion settings as NAME=VALUE (repeatable)."""
    default, kind, help_text = setting.default(), setting.written, setting.help
    if setting.written is bool:
        default, kind = "on" if default else "off", str
    elif setting.written is dict:
        default, kind, help_text = [], list[str], f"{help_text} {as_option(setting.name)} NAME=VALUE, repeatable."
    shown = default not in ("", [])  # an empty default (no ranker file, no fusion change) goes unsaid
    option = typer.Option(as_option(setting.name), help=help_text, show_default=shown)
    return inspect.Parameter(
        setting.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, option]
    )


def recall_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` with one option per recall setting: typer reads them from the signature, and `command` gets
    what was written as one `recall: RecallArgs`, for `command_options`. A setting added to `citerec.request`
    thus reaches every command that ranks, at once."""
    signature = inspect.signature(command, eval_str=True)
    own = [parameter for name, parameter in signature.parameters.items() if name != "recall"]

    @functools.wraps(command)
    def run(**values: Any) -> None:
        written = {setting.name: values.pop(setting.name) for setting in RECALL_SETTINGS}
        command(**values, recall=RecallArgs(written))

    run.__signature__ = signature.replace(parameters=[*own, *map(_recall_parameter, RECALL_SETTINGS)])  # type: ignore[attr-defined]
    return run


def _name_values(given: Sequence[str], option: str) -> dict[str, str]:
    """`["a=1", "b=x"]` → `{"a": "1", "b": "x"}`; a one-line error for anything else."""
    pairs = [item.partition("=") for item in given]
    for item, (name, equals, _) in zip(given, pairs, strict=True):
        if not (name.strip() and equals):
            fail(f"{option} expects NAME=VALUE, not {item!r}")
    return {name.strip(): value.strip() for name, _, value in pairs}


def command_options(recall: RecallArgs, **values: Any) -> SuggestOptions:
    """The one place a command's `SuggestOptions` are made: its own settings (`values`, fields of
    `SuggestOptions`), then the recall settings its options wrote (errors name the option, `--plan`)."""
    from citerec.suggest import SuggestOptions

    pairs = {setting.name for setting in RECALL_SETTINGS if setting.written is dict}  # NAME=VALUE options
    written = {
        name: (_name_values(value, as_option(name)) or None) if name in pairs else value
        for name, value in recall.written.items()
    }
    return SuggestOptions(**values).with_settings(written, label=as_option)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error to stderr and exit non-zero."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def read_warnings_caption(warnings: Sequence[object]) -> str | None:
    """A table footer listing the damage reading recovered from (each `file:line: what was done`)."""
    if not warnings:
        return None
    lines = "\n".join(escape(str(warning)) for warning in warnings)
    return f"[yellow]{len(warnings)} reading warning(s), recovered from:[/]\n{lines}"


def emit(text: str) -> None:
    """Write machine-readable output to stdout, unstyled."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn library exceptions into one-line errors with exit code 1."""
    try:
        yield
    except CiterecError as exc:
        fail(str(exc))
    except FileNotFoundError as exc:
        fail(f"{exc.filename}: no such file")
    except KeyboardInterrupt:
        fail("interrupted", code=130)


def progress_bar(transient: bool = True) -> Progress:
    """A rich progress bar on stderr, for long work (imports, embedding, reranking)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal,
    )


class RichProgress:
    """A `ProgressCallback` that draws one rich bar per stage on stderr."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._progress.add_task(stage, total=total)
        self._progress.update(task, completed=done, total=total)  # type: ignore[arg-type]


@contextlib.contextmanager
def rich_progress() -> Iterator[RichProgress]:
    """Context manager yielding a progress callback backed by rich bars."""
    with progress_bar() as progress:
        yield RichProgress(progress)


def announce_embedder(name: str | None) -> None:
    """Say so before a first use exports the embedder to ONNX (10–25 s, once per machine): a silent pause
    looks like a hang."""
    from citerec.embed import embedder_name

    canonical = embedder_name(name)
    if "@" not in canonical:
        return
    from citerec.embed.onnx import export_pending

    if export_pending(canonical):
        console.print(f"preparing {canonical} for ONNX Runtime (once per machine, about 10–25 s)", highlight=False)


def read_named_draft(draft: str, allow_outside_includes: bool, strict: bool, bibs: Sequence[Path] = ()) -> Draft:
    """The draft read with its includes (`-`: stdin; `bibs` mark its project's top); an error that does not
    say which draft gets its name."""
    from citerec.errors import CiterecError
    from citerec.latex import read_draft

    try:
        return read_draft(draft, allow_outside_includes=allow_outside_includes, strict=strict, bibs=bibs)
    except CiterecError as exc:
        if draft in str(exc):
            raise
        raise type(exc)(f"{draft}: {exc}") from exc
