"""Enrich a library: ask each source in turn for the entries still missing something, match, fill, report.

An entry is sought while it lacks an abstract, a year, or any id (DOI or arXiv);
a source fills every empty field its matched record has, never one the user
set. Online answers are cached in the library before they are matched, so an
interrupted run loses nothing it asked and a re-run asks nothing twice; each
entry's fills are one transaction (a snapshot's are one for the whole pass).
A dry run computes the same report and writes nothing but the cached answers.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from citerec.enrich.http import SourceError
from citerec.enrich.lookup import OnlineSource
from citerec.enrich.match import MATCHED, NOT_FOUND, Match, decide
from citerec.enrich.sources import SnapshotSource, Source
from citerec.library import Library
from citerec.library_enriched import Fill, fills_for, is_empty, now_utc
from citerec.papers import Paper, normalise_key
from citerec.progress import ProgressCallback, no_progress

log = logging.getLogger(__name__)

FILLED, NOTHING_NEW, FAILED = "filled", "nothing new", "failed"
STATUSES = (FILLED, NOTHING_NEW, "ambiguous", "weak", NOT_FOUND, FAILED)
MAX_FAILURES_IN_A_ROW = 5  # a source that keeps failing is down: stop asking it


@dataclass(frozen=True)
class Outcome:
    """What one source made of one entry."""

    key: str
    source: str
    status: str  # one of STATUSES
    matched_by: str = ""
    record: str = ""
    score: float = 0.0
    fields: tuple[str, ...] = ()
    reason: str = ""
    record_title: str = ""


@dataclass(frozen=True)
class EnrichReport:
    """Every outcome and fill of a run; `problems` are the source-wide ones (malformed lines, a source down)."""

    outcomes: tuple[Outcome, ...]
    fills: tuple[Fill, ...]
    dry_run: bool
    problems: tuple[str, ...] = ()

    def counts(self) -> dict[str, dict[str, int]]:
        """{source: {status: n}} in the order the sources ran."""
        table: dict[str, Counter[str]] = {}
        for outcome in self.outcomes:
            table.setdefault(outcome.source, Counter())[outcome.status] += 1
        return {source: {s: counter[s] for s in STATUSES} for source, counter in table.items()}


def wants_enrichment(paper: Paper) -> bool:
    """Whether a source is still worth asking about `paper`."""
    return is_empty(paper.abstract) or paper.year is None or (not paper.doi and not paper.arxiv_id)


def enrich_library(
    library: Library,
    sources: Sequence[Source],
    *,
    keys: Iterable[str] | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> EnrichReport:
    """Enrich the library's entries (those of `keys` alone, when given) from `sources`, in order."""
    report = progress or no_progress
    wanted = None if keys is None else {normalise_key(k) for k in keys}
    current = {  # only the papers that want something: a 3-million-paper corpus with abstracts holds few
        normalise_key(p.key): p
        for p in library.iter_papers()
        if wants_enrichment(p) and (wanted is None or normalise_key(p.key) in wanted)
    }
    outcomes: list[Outcome] = []
    fills: list[Fill] = []
    problems: list[str] = []
    for source in sources:
        entries = [p for p in current.values() if wants_enrichment(p)]
        if not entries:
            break
        if isinstance(source, SnapshotSource):
            verdicts = _snapshot_verdicts(source, entries, report, problems)
        else:
            verdicts = _online_verdicts(library, source, entries, report, problems)
        batch: list[Fill] = []
        for entry, verdict in verdicts:
            outcome, entry_fills = _outcome(entry, source.name, verdict)
            outcomes.append(outcome)
            if entry_fills and not dry_run and not isinstance(source, SnapshotSource):
                entry_fills = library.apply_fills(entry_fills)  # an online run keeps each entry as it goes
            batch.extend(entry_fills)
            for fill in entry_fills:
                norm = normalise_key(fill.key)
                current[norm] = dataclasses.replace(current[norm], **{fill.field: fill.value})
        if batch and not dry_run and isinstance(source, SnapshotSource):
            batch = library.apply_fills(batch)
        fills.extend(batch)
    result = EnrichReport(tuple(outcomes), tuple(fills), dry_run, tuple(problems))
    log.info("enrich %s: %s", library.root, result.counts())
    return result


def _outcome(entry: Paper, source: str, verdict: Match | str) -> tuple[Outcome, list[Fill]]:
    if isinstance(verdict, str):
        return Outcome(entry.key, source, FAILED, reason=verdict), []
    record = verdict.record
    base = Outcome(
        entry.key,
        source,
        verdict.status,
        verdict.matched_by,
        record.key if record else "",
        verdict.score,
        reason=verdict.reason,
        record_title=record.title if record else "",
    )
    if verdict.status != MATCHED or record is None:
        return base, []
    entry_fills = fills_for(entry, record, source, verdict.matched_by, now_utc())
    status = FILLED if entry_fills else NOTHING_NEW
    return dataclasses.replace(base, status=status, fields=tuple(f.field for f in entry_fills)), entry_fills


def _snapshot_verdicts(
    source: SnapshotSource, entries: list[Paper], report: ProgressCallback, problems: list[str]
) -> list[tuple[Paper, Match]]:
    from citerec.enrich.snapshot import snapshot_candidates
    from citerec.ingest.snapshot import SnapshotProblem

    found: list[SnapshotProblem] = []
    candidates = snapshot_candidates(source.path, entries, progress=report, problems=found)
    problems.extend(str(p) for p in found)
    return [(entry, decide(entry, candidates.get(normalise_key(entry.key), []))) for entry in entries]


def _online_verdicts(
    library: Library, source: OnlineSource, entries: list[Paper], report: ProgressCallback, problems: list[str]
) -> Iterable[tuple[Paper, Match | str]]:
    """(entry, verdict or the failure) for each entry, asking the source only what the cache lacks."""
    failures = 0
    for done, entry in enumerate(entries, start=1):
        request = source.request(entry)
        if request is None:
            yield entry, Match(NOT_FOUND, reason=f"nothing to ask {source.name} by")
            continue
        records = library.cached_answer(source.name, request)
        if records is None:
            if failures >= MAX_FAILURES_IN_A_ROW:
                yield entry, "not asked: the source failed too often"
                continue
            try:
                records = source.fetch(entry)
            except SourceError as exc:
                failures += 1
                if failures == MAX_FAILURES_IN_A_ROW:
                    problems.append(f"{source.name}: {MAX_FAILURES_IN_A_ROW} failures in a row, stopped asking ({exc})")
                yield entry, str(exc)
                continue
            failures = 0
            library.cache_answer(source.name, request, records)
        report(source.name, done, len(entries))
        yield entry, decide(entry, records)
