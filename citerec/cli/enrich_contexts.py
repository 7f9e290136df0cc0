"""`citerec library enrich --citing-contexts`: keep how other papers cite each entry, print what was kept.

The table of entries asked (or, with --dry-run, what would be kept) goes to
stdout, the counts to stderr; `--format json` writes the report to stdout alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table

from citerec.cli.common import console, emit, rich_progress, stdout_console, warn

if TYPE_CHECKING:
    from citerec.enrich.citing_run import ContextsReport
    from citerec.library import Library

REVERT_NAME = "citing-contexts"  # what `--revert` takes to drop them
SHOWN_SENTENCE = 70  # characters of a context the table shows


def run_citing_contexts(
    library: Library,
    *,
    keys: Sequence[str] | None,
    limit: int,
    refresh: bool,
    dry_run: bool,
    mailto: str,
    timeout: float,
) -> ContextsReport:
    """Ask Semantic Scholar for the entries' citing contexts, with a progress bar on stderr."""
    from citerec.enrich import citing_contexts
    from citerec.enrich.citing_run import fetch_citing_contexts
    from citerec.enrich.http import HttpSettings
    from citerec.enrich.semanticscholar import API_KEY_ENV

    if not os.environ.get(API_KEY_ENV):
        warn(f"no ${API_KEY_ENV}: Semantic Scholar answers about one request a second without a key")
    source = citing_contexts.CitingContextsSource(HttpSettings(mailto=mailto, timeout_s=timeout))
    try:
        with rich_progress() as bars:
            return fetch_citing_contexts(
                library, source, keys=keys, limit=limit, refresh=refresh, dry_run=dry_run, progress=bars
            )
    finally:
        source.close()


def revert_citing_contexts(library: Library, fmt: str) -> None:
    """Drop every citing context kept, and the record of what was asked."""
    from citerec.enrich.citing_contexts import SOURCE

    dropped, papers = library.revert_citing_contexts(SOURCE)
    if fmt == "json":
        emit(json.dumps({"source": SOURCE, "contexts": dropped, "papers": papers}))
    console.print(
        f"citing contexts: {dropped} sentences about {papers} papers dropped", highlight=False, soft_wrap=True
    )


def contexts_json(report: ContextsReport) -> dict:
    return {
        "dry_run": report.dry_run,
        "source": report.source,
        "counts": report.counts(),
        "outcomes": [
            {
                "key": o.key,
                "status": o.status,
                "contexts": o.contexts,
                "matched_by": o.matched_by,
                "record": o.record,
                "reason": o.reason,
            }
            for o in report.outcomes
        ],
        "contexts": [
            {
                "key": c.key,
                "sentence": c.sentence,
                "citing_id": c.citing_id,
                "citing_title": c.citing_title,
                "citing_year": c.citing_year,
                "matched_by": c.matched_by,
                "record": c.record,
            }
            for c in report.contexts
        ],
        "problems": list(report.problems),
    }


def print_contexts(report: ContextsReport) -> None:
    """One row per entry asked: what became of it and how many contexts were (or would be) kept."""
    from citerec.enrich.citing_run import ASKED_BEFORE

    asked = [o for o in report.outcomes if o.status != ASKED_BEFORE]
    if not asked:
        return
    first = {}
    for context in report.contexts:
        first.setdefault(context.key, context.sentence)
    title = "Would keep (dry run)" if report.dry_run else "Citing contexts"
    columns = ("key", "status", "contexts", "matched by", "first context, or why none")
    table = Table(*columns, title=title, title_justify="left")
    for outcome in asked:
        said = first.get(outcome.key, outcome.reason)
        shown = said if len(said) <= SHOWN_SENTENCE else said[: SHOWN_SENTENCE - 1] + "…"
        table.add_row(outcome.key, outcome.status, str(outcome.contexts), outcome.matched_by, shown)
    stdout_console.print(table)


def print_contexts_summary(report: ContextsReport) -> None:
    """The counts on stderr, and the problems met."""
    for problem in report.problems:
        warn(problem)
    counts = report.counts()
    kept = "would be kept" if report.dry_run else "kept"
    entries = "entry" if counts["asked"] == 1 else "entries"
    line = (
        f"{report.source} citing contexts: {counts['asked']} {entries} asked, {counts['with contexts']} with "
        f"contexts, {counts['contexts']} contexts {kept}, {counts['not found']} not found"
    )
    if counts["not matched"]:
        line += f", {counts['not matched']} not matched (weak or ambiguous)"
    line += f", {counts['failed']} failed"
    if counts["asked before"]:
        line += f"; {counts['asked before']} asked before (--refresh asks again)"
    console.print(line, highlight=False, soft_wrap=True)
