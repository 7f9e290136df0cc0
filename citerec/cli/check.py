"""`citerec check DRAFT`: the sentences that may need a citation, and what to cite there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from citerec.check.detector import DEFAULT_THRESHOLD
from citerec.cli.common import (
    AllowOutsideIncludesOption,
    BackendOption,
    LibraryDirOption,
    RecallArgs,
    RerankerOption,
    RerankOption,
    StrictOption,
    announce_embedder,
    command_options,
    console,
    emit,
    fail,
    read_named_draft,
    recall_options,
    rich_progress,
    stdout_console,
    user_errors,
    warn,
)
from citerec.rerank import DEFAULT_RERANKER

if TYPE_CHECKING:
    from citerec.check import CheckResult

FORMATS = ("table", "json")


@recall_options
def check(
    draft: Annotated[
        str, typer.Argument(help="The draft: a .tex file (includes are followed), .txt/.md, or - (stdin).")
    ],
    bib: Annotated[
        list[Path],
        typer.Option(
            "--bib", "-b", help="BibTeX file(s) to import into the library first (only changes are re-indexed)."
        ),
    ] = [],  # noqa: B006
    library_dir: LibraryDirOption = None,
    threshold: Annotated[
        float, typer.Option(help="Score (0–1) from which a sentence is listed as needing a citation.")
    ] = DEFAULT_THRESHOLD,
    top: Annotated[int, typer.Option("--top", "-n", help="Suggestions per listed sentence (0: none).")] = 3,
    rerank: RerankOption = "auto",
    reranker: RerankerOption = DEFAULT_RERANKER,
    backend: BackendOption = "hf",
    adapt: Annotated[
        bool,
        typer.Option(
            "--adapt/--no-adapt", help="Read the draft's own cited sentences (the draft model) when it has enough."
        ),
    ] = True,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    allow_outside_includes: AllowOutsideIncludesOption = False,
    strict: StrictOption = False,
    *,
    recall: RecallArgs,
) -> None:
    """List the sentences without a citation that likely need one, with suggestions from the library."""
    if output_format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {output_format!r}")
    if draft != "-" and not Path(draft).is_file():
        fail(f"{draft}: no such file")
    with user_errors():
        from citerec.check import CheckOptions, check_draft
        from citerec.suggest import Suggester, open_library

        suggest_options = command_options(
            recall, top_n=max(top, 1), rerank=rerank, reranker=reranker, backend=backend,
            allow_outside_includes=allow_outside_includes, strict=strict,
        )  # fmt: skip
        options = CheckOptions(threshold=threshold, top_n=top, adapt=adapt, suggest=suggest_options)
        announce_embedder(None)
        with rich_progress() as progress:
            library, imports = open_library(library_dir, bib=bib, near=None if draft == "-" else Path(draft))
            for bib_import, _report in imports:
                for problem in bib_import.problems:
                    warn(str(problem))
            parsed = read_named_draft(draft, allow_outside_includes, strict)
            for warning in parsed.warnings:
                warn(str(warning))
            suggester = Suggester(library, options=suggest_options, progress=progress)
            result = check_draft(suggester, parsed, options)
        for note in suggester.load_notes:
            warn(note)
    if output_format == "json":
        emit(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    _print_table(result)


def _print_table(result: CheckResult) -> None:
    """The flagged sentences, likeliest first, each with its suggestions."""
    flagged = result.flagged()
    how = "read with this draft's citations" if result.adapted else "as a first draft (too few citations to read)"
    title = (
        f"{len(flagged)} of {len(result.sentences)} uncited sentences in {result.source} may need a citation "
        f"(score ≥ {result.threshold:g}; {how})"
    )
    if not flagged:
        console.print(title, highlight=False)
        return
    table = Table(title=title, title_justify="left", expand=True)
    table.add_column("where", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("sentence / suggestions", ratio=1, overflow="fold")
    for item in sorted(flagged, key=lambda s: -s.score):
        text = item.text if len(item.text) <= 240 else item.text[:237] + "..."
        table.add_row(f"[bold cyan]{escape(item.file)}:{item.line}[/]", f"{item.score:.2f}", escape(text))
        for number, suggestion in enumerate(item.suggestions, start=1):
            table.add_row(
                "", "", f"  {number}. [green]{escape(suggestion.key)}[/] {escape(suggestion.title)}",
                end_section=number == len(item.suggestions),
            )  # fmt: skip
    stdout_console.print(table)
