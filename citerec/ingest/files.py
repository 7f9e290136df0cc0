"""Importing .bib files into a library: unchanged files skipped, large imports parsed in parallel.

Parsing is what an import costs (pybtex and LaTeX decoding, a few ms an
entry), so:

- a file whose bytes are those of its last import is not parsed again
  (`Library.imported_source`), unless an @string macro it takes from an
  earlier file changed since;
- several files, when there is enough to parse, are parsed by worker processes
  while this process writes what they return, in the files' order;
- everything is written in one transaction: an interrupted import leaves the
  library as it was, and a concurrent import waits for it instead of losing
  its work.

@string macros carry from one file to the next, as with `\\bibliography{a,b}`.
A worker parses its file alone; when the file turns out to use a macro that an
earlier file defines, it is parsed again here with the carried macros.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from citerec.ingest.bibtex import BibImport, BibProblem, parse_bibtex_bytes, read_bib_bytes
from citerec.library import AddReport, ImportedSource, Library
from citerec.progress import ProgressCallback, no_progress

log = logging.getLogger(__name__)

PARALLEL_MIN_BYTES = 4 << 20  # below this, starting worker processes costs more than it saves
JOBS_ENV = "CITEREC_JOBS"


@dataclass(frozen=True)
class _Planned:
    """One file of an import: its bytes' digest and whether its last import can stand."""

    path: Path
    digest: str
    size: int
    skip: bool  # unchanged and takes no macro from other files: reuse without looking further
    maybe_skip: bool  # unchanged, but takes macros from earlier files: reuse if those are unchanged too


def default_jobs() -> int:
    """Worker processes for parsing: `$CITEREC_JOBS`, else the CPU count."""
    env = os.environ.get(JOBS_ENV, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, os.cpu_count() or 1)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plan(library: Library, paths: Sequence[Path], reuse: bool) -> list[_Planned]:
    plans = []
    for path in paths:
        data = read_bib_bytes(path)
        digest = _digest(data)
        known = library.imported_source(path) if reuse else None
        unchanged = known is not None and known.digest == digest
        external = dict(known.external) if known is not None else {}
        plans.append(_Planned(path, digest, len(data), unchanged and not external, unchanged and bool(external)))
    return plans


def _unchanged(path: Path, known: ImportedSource) -> BibImport:
    """What a skipped file stands for: no papers to add, its macros and its problems as last read."""
    problems = tuple(BibProblem(str(path), line, key, message) for line, key, message in known.problems)
    return BibImport(str(path), (), problems, known.entries, known.strings, unchanged=True)


def _as_source(plan: _Planned, result: BibImport, macros: dict[str, str]) -> ImportedSource:
    return ImportedSource(
        path=str(plan.path),
        digest=plan.digest,
        strings=result.strings,
        external=tuple((name, macros.get(name)) for name in result.external_macros),
        entries=result.entries,
        problems=tuple((p.line, p.key, p.message) for p in result.problems),
    )


def _parse_alone(path: Path) -> BibImport:
    """A worker's job: one file parsed with its own macros only."""
    return parse_bibtex_bytes(read_bib_bytes(path), str(path))


def _parsed_in_order(plans: Sequence[_Planned], jobs: int) -> Iterator[BibImport | None]:
    """For each plan in order: the file parsed alone by a worker, or None (skipped, or left to the caller).

    At most `2 × jobs` files are in flight, so memory stays bounded however
    many files there are.
    """
    to_parse = [p for p in plans if not p.skip and not p.maybe_skip]
    if jobs <= 1 or len(to_parse) < 2 or sum(p.size for p in to_parse) < PARALLEL_MIN_BYTES:
        yield from (None for _ in plans)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(to_parse))) as pool:
        pending: dict[Path, Future[BibImport]] = {}
        queue = iter(to_parse)
        for plan in plans:
            while len(pending) < 2 * jobs and (nxt := next(queue, None)) is not None:
                pending[nxt.path] = pool.submit(_parse_alone, nxt.path)
            future = pending.pop(plan.path, None)
            yield future.result() if future is not None else None


def import_bibtex_files(
    library: Library,
    paths: Sequence[Path | str],
    *,
    reuse: bool = True,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> list[tuple[BibImport, AddReport]]:
    """Import .bib files in order, in one transaction; returns what was read from each and what changed.

    `reuse=False` parses every file even when unchanged; `jobs` caps the worker
    processes (default: `default_jobs()`).
    """
    report_progress = progress or no_progress
    plans = _plan(library, [Path(p) for p in paths], reuse)
    total = sum(p.size for p in plans)
    done = 0
    macros: dict[str, str] = {}
    results: list[tuple[BibImport, AddReport]] = []
    report_progress("importing", 0, total)
    with library.transaction():
        for plan, alone in zip(plans, _parsed_in_order(plans, jobs or default_jobs()), strict=True):
            known = library.imported_source(plan.path) if (plan.skip or plan.maybe_skip) else None
            if known is not None and all(macros.get(k) == v for k, v in known.external):
                result = _unchanged(plan.path, known)
                report = AddReport()
            else:
                if alone is None or any(name in macros for name in alone.external_macros):
                    alone = parse_bibtex_bytes(read_bib_bytes(plan.path), str(plan.path), macros=macros)
                result = alone
                report = library.add(result.papers)
                if result.papers or result.strings:  # a file with nothing usable is read again, and fails again
                    library.record_source(_as_source(plan, result, macros))
            macros.update({k.lower(): v for k, v in result.strings})
            results.append((result, report))
            done += plan.size
            report_progress("importing", done, total)
    return results
