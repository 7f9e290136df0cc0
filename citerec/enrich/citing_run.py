"""Ask how others cite each library paper, keep the sentences with their provenance, report.

Each entry is asked once: its paper look-up is the metadata run's cached answer
when there is one (`enrich_answers`), and the ask is recorded with its contexts,
or with none, in one transaction per entry; a re-run asks only entries never
asked, asked by another request since (the entry gained a DOI), or asked for
fewer contexts than now wanted while more may exist. `refresh` asks every entry
again. A dry run keeps no context (only the look-up answers, as the metadata run
does). A source that fails five entries in a row is not asked again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from citerec.enrich.citing_contexts import DEFAULT_CONTEXTS, CitingContextsSource, Found
from citerec.enrich.http import SourceError
from citerec.enrich.match import AMBIGUOUS, MATCHED, NOT_FOUND, WEAK
from citerec.enrich.run import MAX_FAILURES_IN_A_ROW
from citerec.library import Library
from citerec.library_citing import FOUND, CitingContext
from citerec.papers import Paper, normalise_key
from citerec.progress import ProgressCallback, no_progress

log = logging.getLogger(__name__)

STAGE = "citing contexts"
FAILED, ASKED_BEFORE = "failed", "asked before"
STATUSES = (FOUND, NOT_FOUND, WEAK, AMBIGUOUS, FAILED, ASKED_BEFORE)


@dataclass(frozen=True)
class ContextsOutcome:
    """What the source made of one entry: found (with `contexts` kept, maybe none), not found, not matched, failed."""

    key: str
    status: str  # one of STATUSES
    contexts: int = 0
    matched_by: str = ""
    record: str = ""  # the paper's id at the source
    reason: str = ""


@dataclass(frozen=True)
class ContextsReport:
    """Every entry's outcome and the contexts kept (or, in a dry run, that would be)."""

    source: str
    outcomes: tuple[ContextsOutcome, ...]
    contexts: tuple[CitingContext, ...]
    dry_run: bool
    problems: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """Entries asked, with contexts, contexts kept, not found, not matched (weak or ambiguous), failed, and
        those asked before (not asked again)."""
        asked = [o for o in self.outcomes if o.status not in (ASKED_BEFORE, FAILED)]
        return {
            "asked": len(asked),
            "with contexts": sum(1 for o in asked if o.contexts),
            "contexts": len(self.contexts),
            "not found": sum(1 for o in asked if o.status == NOT_FOUND),
            "not matched": sum(1 for o in asked if o.status in (WEAK, AMBIGUOUS)),
            "failed": sum(1 for o in self.outcomes if o.status == FAILED),
            "asked before": sum(1 for o in self.outcomes if o.status == ASKED_BEFORE),
        }


def fetch_citing_contexts(
    library: Library,
    source: CitingContextsSource,
    *,
    keys: Iterable[str] | None = None,
    limit: int = DEFAULT_CONTEXTS,
    refresh: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ContextsReport:
    """Keep up to `limit` citing contexts of each library entry (those of `keys` alone, when given)."""
    report = progress or no_progress
    wanted = None if keys is None else {normalise_key(k) for k in keys}
    entries = [p for p in library.iter_papers() if wanted is None or normalise_key(p.key) in wanted]
    asked = {} if refresh else library.citing_asked(source.name)
    outcomes: list[ContextsOutcome] = []
    kept: list[CitingContext] = []
    problems: list[str] = []
    failures = 0
    for done, entry in enumerate(entries, start=1):
        request = source.request(entry)
        before = asked.get(normalise_key(entry.key))
        if request is None:
            outcomes.append(ContextsOutcome(entry.key, NOT_FOUND, reason=f"nothing to ask {source.name} by"))
        elif before is not None and before.answers(request, limit):
            outcomes.append(ContextsOutcome(entry.key, ASKED_BEFORE, before.kept))
        elif failures >= MAX_FAILURES_IN_A_ROW:
            outcomes.append(ContextsOutcome(entry.key, FAILED, reason="not asked: the source failed too often"))
        else:
            try:
                found = _find(library, source, entry, request, limit, refresh)
            except SourceError as exc:
                failures += 1
                if failures == MAX_FAILURES_IN_A_ROW:
                    problems.append(f"{source.name}: {MAX_FAILURES_IN_A_ROW} failures in a row, stopped asking ({exc})")
                outcomes.append(ContextsOutcome(entry.key, FAILED, reason=str(exc)))
            else:
                failures = 0
                status = FOUND if found.match.status == MATCHED else found.match.status
                if not dry_run:
                    library.keep_citing_contexts(entry.key, source.name, request, limit, status, found.contexts)
                kept.extend(found.contexts)
                outcomes.append(
                    ContextsOutcome(
                        entry.key,
                        status,
                        len(found.contexts),
                        found.match.matched_by,
                        found.paper_id,
                        found.match.reason,
                    )
                )
        report(STAGE, done, len(entries))
    result = ContextsReport(source.name, tuple(outcomes), tuple(kept), dry_run, tuple(problems))
    log.info("citing contexts %s: %s", library.root, result.counts())
    return result


def _find(
    library: Library, source: CitingContextsSource, entry: Paper, request: str, limit: int, refresh: bool
) -> Found:
    """The entry's paper (the look-up answer from the cache unless `refresh`) and its contexts."""
    records = None if refresh else library.cached_answer(source.name, request)
    if records is None:
        records = source.papers.fetch(entry)
        library.cache_answer(source.name, request, records)
    return source.find(entry, limit, records)
