"""What every CLI group shares: the stderr console, the library-dir option, error exits.

Only the CLI prints. Human-facing output (tables, progress, warnings) goes to
stderr through `console`, except where a command's job is to print a table;
machine output (`--format json`, `bib`, `tex`) goes to stdout alone via `emit`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from citerec.errors import CiterecError

if TYPE_CHECKING:
    from citerec.latex import Draft

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
PlanOption = Annotated[
    str,
    typer.Option(
        "--plan",
        help="How passages are read: auto (with --draft-evidence on: the learned ranking; off: a draft citing 30+ "
        "library papers reads them by their window when that finds its own citations clearly more often), passage "
        "(own sentence, window and wider window), window, or learned (both combined by the shipped ranking model).",
    ),
]
DraftEvidenceOption = Annotated[
    str,
    typer.Option(
        "--draft-evidence",
        help="on (default): what the draft cites in its other passages counts (nearby citations, how the draft "
        "describes each paper, papers it cites that recall missed) and the sentences `library learn` kept from "
        "your other drafts, combined with the readings by the shipped ranking model; off: none of it (the plan "
        "switch decides).",
    ),
]
RankerOption = Annotated[
    str, typer.Option("--ranker", help="A ranking model file (scripts/train_ranker.py) instead of the shipped one.")
]
RerankOption = Annotated[
    str,
    typer.Option("--rerank", help="auto: rerank when the reranker can be loaded; on: require it; off: recall only."),
]
RerankerOption = Annotated[
    str, typer.Option("--reranker", help="Reranker model: a hub name or a local folder (Qwen3-Reranker 0.6B/4B/8B).")
]
BackendOption = Annotated[
    str,
    typer.Option("--backend", help="Where the reranker runs: hf (transformers), vllm, or the URL of a vLLM server."),
]
MethodOption = Annotated[
    str, typer.Option("--method", help="Recall method: hybrid (BM25 and dense, fused), bm25 or dense.")
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


def on_off(value: str, option: str) -> bool:
    """An on|off option's value as a bool; a one-line error otherwise."""
    if value not in ("on", "off"):
        fail(f"{option} must be on or off, not {value!r}")
    return value == "on"


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
