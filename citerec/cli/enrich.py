"""`citerec library enrich`: fill missing abstracts, ids, venues and years from a snapshot or online sources.

Prints what was filled (or, with --dry-run, what would be), what was weak or
ambiguous and not applied, and counts per source; `--format json` writes the
same to stdout alone.
"""

from __future__ import annotations

import json
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
        envvar=MAILTO_ENV,
        help="Your contact address, sent to OpenAlex and Crossref as their polite pools ask, and in every source's "
        "User-Agent.",
        show_default=False,
    ),
]


def enrich(
    source: SourceOption = None,
    mailto: MailtoOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be filled; change nothing.")] = False,
    revert: Annotated[
        str | None,
        typer.Option(
            "--revert",
            help="Empty the fields this source filled (snapshot, arxiv, openalex, …) instead; "
            "citing-contexts drops every citing context kept.",
        ),
    ] = None,
    citing: Annotated[
        bool,
        typer.Option(
            "--citing-contexts",
            help="Instead of filling fields, keep the sentences other papers cite each entry with "
            "(Semantic Scholar); recall reads them as it reads your past sentences.",
        ),
    ] = False,
    max_contexts: Annotated[
        int | None,
        typer.Option("--max-contexts", min=1, help="With --citing-contexts: sentences kept per entry [default: 10]."),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="With --citing-contexts: ask again about entries asked before.")
    ] = False,
    keys: Annotated[
        list[str] | None, typer.Option("--key", "-k", help="Only this entry (repeatable).", show_default=False)
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for one answer.")] = 20.0,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    library_dir: LibraryDirOption = None,
) -> None:
    """Fill in what your entries leave out (abstract, DOI, arXiv id, venue, year), never what you wrote.

    Entries are matched by DOI or arXiv id, else by title, year (±1) and first author; weak and ambiguous
    matches are reported, not applied. Online answers are kept in the library, so a re-run asks nothing twice.
    With --citing-contexts, keep how other papers cite each entry instead.
    """
    from citerec.library import Library, default_library_dir

    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r} (expected table or json)")
    if not citing and (refresh or max_contexts is not None):
        fail("--refresh and --max-contexts go with --citing-contexts")
    if citing and any(s.strip().lower() != "semanticscholar" for s in source or []):
        fail("--citing-contexts asks Semantic Scholar alone: leave out --source")
    with user_errors():
        library = Library(library_dir or default_library_dir())
        if revert is not None:
            _revert(library, revert, fmt)
            return
        if len(library) == 0:
            fail(f"the library in {library.root} is empty: import a .bib first (citerec library import)")
        missing = [k for k in keys or [] if k not in library]
        if missing:
            fail(f"not in the library: {', '.join(missing)}")
        if citing:
            _citing_contexts(library, keys, max_contexts, refresh, dry_run, mailto, timeout, fmt)
            return
        report = run_enrich(library, source or [], mailto, timeout=timeout, dry_run=dry_run, keys=keys)
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
    keys: list[str] | None = None,
) -> EnrichReport:
    """Enrich (`keys` alone, when given) with a progress bar on stderr (`progress`: the bars of a command already
    drawing some)."""
    from citerec.enrich.http import HttpSettings
    from citerec.enrich.run import enrich_library
    from citerec.enrich.sources import make_sources

    settings = HttpSettings(mailto=mailto or "", timeout_s=timeout)
    sources = make_sources(specs, settings)
    polite = {"openalex", "crossref"} & {source.name for source in sources}
    if polite and not settings.mailto:
        warn(f"no --mailto (or ${MAILTO_ENV}): {' and '.join(sorted(polite))} serve anonymous requests more slowly")
    if progress is not None:
        return enrich_library(library, sources, keys=keys, dry_run=dry_run, progress=progress)
    with rich_progress() as bars:
        return enrich_library(library, sources, keys=keys, dry_run=dry_run, progress=bars)


def _citing_contexts(
    library: Library,
    keys: list[str] | None,
    limit: int | None,
    refresh: bool,
    dry_run: bool,
    mailto: str | None,
    timeout: float,
    fmt: str,
) -> None:
    from citerec.cli import enrich_contexts as contexts
    from citerec.enrich.citing_contexts import DEFAULT_CONTEXTS

    report = contexts.run_citing_contexts(
        library,
        keys=keys,
        limit=limit or DEFAULT_CONTEXTS,
        refresh=refresh,
        dry_run=dry_run,
        mailto=mailto or "",
        timeout=timeout,
    )
    if fmt == "json":
        emit(json.dumps(contexts.contexts_json(report), ensure_ascii=False, indent=2))
    else:
        contexts.print_contexts(report)
    contexts.print_contexts_summary(report)


def _revert(library: Library, spec: str, fmt: str) -> None:
    from citerec.cli.enrich_contexts import REVERT_NAME, revert_citing_contexts
    from citerec.enrich.sources import source_name

    if spec.strip().lower() == REVERT_NAME:
        revert_citing_contexts(library, fmt)
        return
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
