"""`citerec library enrich`: fill missing abstracts, ids, venues and years from a snapshot or online sources.

Prints what was filled (or, with --dry-run, what would be), what was weak or
ambiguous and not applied, and counts per source; `--format json` writes the
same to stdout alone.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from citerec.cli.common import (
    LibraryDirOption,
    console,
    emit,
    fail,
    rich_progress,
    stdout_console,
    user_errors,
    warn,
)

if TYPE_CHECKING:
    from citerec.enrich.run import EnrichReport
    from citerec.library import Library
    from citerec.progress import ProgressCallback

MAILTO_ENV = "CITEREC_MAILTO"
SHOWN_VALUE = 70  # characters of a filled value a table shows

SourceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        "-s",
        help="Where to look, in order (repeatable): snapshot:PATH (the arXiv metadata snapshot, offline), arxiv, "
        "openalex, crossref, semanticscholar. Default: openalex, semanticscholar, arxiv, crossref.",
        show_default=False,
    ),
]
MailtoOption = Annotated[
    str | None,
    typer.Option(
        "--mailto",
        help=f"Your contact address, sent to OpenAlex and Crossref as their polite pools ask (default: ${MAILTO_ENV}).",
        show_default=False,
    ),
]


def enrich(
    source: SourceOption = None,
    mailto: MailtoOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be filled; change nothing.")] = False,
    revert: Annotated[
        str | None,
        typer.Option("--revert", help="Empty the fields this source filled (snapshot, arxiv, openalex, …) instead."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for one answer.")] = 20.0,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    library_dir: LibraryDirOption = None,
) -> None:
    """Fill in what your entries leave out (abstract, DOI, arXiv id, venue, year), never what you wrote.

    Entries are matched by DOI or arXiv id, else by title, year (±1) and first author; weak and ambiguous
    matches are reported, not applied. Online answers are kept in the library, so a re-run asks nothing twice.
    """
    from citerec.library import Library, default_library_dir

    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r} (expected table or json)")
    with user_errors():
        library = Library(library_dir or default_library_dir())
        if revert is not None:
            _revert(library, revert, fmt)
            return
        if len(library) == 0:
            fail(f"the library in {library.root} is empty: import a .bib first (citerec library import)")
        report = run_enrich(library, source or [], mailto, timeout=timeout, dry_run=dry_run)
    if fmt == "json":
        emit(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        print_report(report)
    print_summary(report)


def run_enrich(
    library: Library,
    specs: list[str],
    mailto: str | None,
    *,
    timeout: float = 20.0,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> EnrichReport:
    """Enrich with a progress bar on stderr (`progress`: the bars of a command already drawing some)."""
    from citerec.enrich.http import HttpSettings
    from citerec.enrich.run import enrich_library
    from citerec.enrich.sources import make_sources

    settings = HttpSettings(mailto=mailto or os.environ.get(MAILTO_ENV, ""), timeout_s=timeout)
    sources = make_sources(specs, settings)
    polite = {"openalex", "crossref"} & {source.name for source in sources}
    if polite and not settings.mailto:
        warn(f"no --mailto (or ${MAILTO_ENV}): {' and '.join(sorted(polite))} serve anonymous requests more slowly")
    if progress is not None:
        return enrich_library(library, sources, dry_run=dry_run, progress=progress)
    with rich_progress() as bars:
        return enrich_library(library, sources, dry_run=dry_run, progress=bars)


def _revert(library: Library, spec: str, fmt: str) -> None:
    from citerec.enrich.sources import source_name

    name = source_name(spec)
    reverted = library.revert_fills(name)
    if fmt == "json":
        emit(json.dumps([{"key": f.key, "field": f.field, "source": f.source} for f in reverted], indent=2))
    papers = len({f.key for f in reverted})
    console.print(f"{name}: {len(reverted)} filled fields of {papers} papers emptied", highlight=False)


def report_json(report: EnrichReport) -> dict:
    return {
        "dry_run": report.dry_run,
        "counts": report.counts(),
        "filled": [
            {
                "key": f.key,
                "field": f.field,
                "value": f.value,
                "source": f.source,
                "matched_by": f.matched_by,
                "record": f.record,
                "filled_at": f.filled_at,
            }
            for f in report.fills
        ],
        "outcomes": [
            {
                "key": o.key,
                "source": o.source,
                "status": o.status,
                "matched_by": o.matched_by,
                "record": o.record,
                "score": round(o.score, 3),
                "fields": list(o.fields),
                "reason": o.reason,
            }
            for o in report.outcomes
        ],
        "problems": list(report.problems),
    }


def print_report(report: EnrichReport) -> None:
    """The fills (or would-be fills), then the matches not applied, as tables on stdout."""
    if report.fills:
        title = "Would fill (dry run)" if report.dry_run else "Filled"
        table = Table("key", "field", "value", "source", "matched by", title=title, title_justify="left")
        for fill in report.fills:
            value = str(fill.value)
            shown = value if len(value) <= SHOWN_VALUE else value[: SHOWN_VALUE - 1] + "…"
            table.add_row(fill.key, fill.field, shown, fill.source, fill.matched_by)
        stdout_console.print(table)
    doubtful = [o for o in report.outcomes if o.status in ("ambiguous", "weak")]
    if doubtful:
        table = Table(
            "key", "source", "verdict", "why not applied", "record", title="Not applied", title_justify="left"
        )
        for outcome in doubtful:
            record = f"{outcome.record}: {outcome.record_title}"[:SHOWN_VALUE]
            table.add_row(outcome.key, outcome.source, outcome.status, outcome.reason, record)
        stdout_console.print(table)


def print_summary(report: EnrichReport) -> None:
    """Counts per source on stderr, the problems met, and what the index will do."""
    for problem in report.problems[:20]:
        warn(problem)
    if len(report.problems) > 20:
        warn(f"{len(report.problems) - 20} more problems")
    for source, counts in report.counts().items():
        names = {"filled": "to fill"} if report.dry_run else {}  # the JSON keeps one vocabulary, with dry_run
        parts = ", ".join(f"{n} {names.get(status, status)}" for status, n in counts.items() if n)
        console.print(f"{source}: {parts}", highlight=False)
    if not report.outcomes:
        console.print("nothing to enrich: every entry has an abstract, a year and an id", highlight=False)
    papers = len({f.key for f in report.fills})
    if report.dry_run:
        console.print(f"dry run: {len(report.fills)} fields of {papers} papers would be filled", highlight=False)
    elif papers:
        console.print(
            f"{len(report.fills)} fields of {papers} papers filled; the next index build re-embeds those papers only",
            highlight=False,
        )


def enrich_after_import(
    library: Library, specs: list[str], mailto: str | None, progress: ProgressCallback | None = None
) -> None:
    """`library import --enrich`, `suggest --bib … --enrich`: enrich the library and print the summary."""
    report = run_enrich(library, specs, mailto, progress=progress)
    print_summary(report)
