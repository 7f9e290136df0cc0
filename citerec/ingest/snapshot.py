"""Stream the arXiv metadata snapshot (Kaggle's JSON-lines dump) as `Paper`s.

The file is millions of lines: it is read line by line (memory stays flat),
a malformed line is logged and recorded with its line number, and progress
is reported in bytes read.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from citerec.errors import InputError
from citerec.papers import Paper, normalise_doi
from citerec.progress import ProgressCallback, no_progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def iter_arxiv_snapshot(
    path: Path | str,
    *,
    categories: Iterable[str] | None = None,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    problems: list[SnapshotProblem] | None = None,
) -> Iterator[Paper]:
    """Papers from the snapshot, optionally only those in `categories` (e.g. cs.CL, or a whole archive: cs)."""
    wanted = tuple(categories or ())
    count = 0
    for number, record in iter_snapshot_records(path, progress=progress, problems=problems):
        try:
            paper = record_to_paper(record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            record_problem(problems, SnapshotProblem(str(path), number, f"malformed record skipped ({exc})"))
            continue
        if wanted and not any(c == w or c.startswith(w + ".") for c in paper.keywords for w in wanted):
            continue
        yield paper
        count += 1
        if limit is not None and count >= limit:
            break


def iter_snapshot_records(
    path: Path | str,
    *,
    progress: ProgressCallback | None = None,
    problems: list[SnapshotProblem] | None = None,
    stage: str = "arXiv snapshot",
) -> Iterator[tuple[int, dict]]:
    """(line number, record) for every JSON object of the file, read line by line; a line that is not one is
    recorded in `problems` and skipped, except the first: then the file is not a snapshot (`InputError`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    report = progress or no_progress
    total = os.path.getsize(path)
    done = 0
    seen_one = False
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            done += len(raw)
            if number % 1000 == 0:
                report(stage, done, total)
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise TypeError(f"a JSON {type(record).__name__}, not an object")
            except (ValueError, TypeError) as exc:
                if not seen_one:
                    raise InputError(f"not an arXiv metadata snapshot (JSON lines): {exc}", str(path), number) from exc
                record_problem(problems, SnapshotProblem(str(path), number, f"malformed record skipped ({exc})"))
                continue
            seen_one = True
            yield number, record
    report(stage, done, total)


def record_problem(problems: list[SnapshotProblem] | None, problem: SnapshotProblem) -> None:
    log.warning("%s", problem)
    if problems is not None:
        problems.append(problem)


def _authors(record: dict) -> tuple[str, ...]:
    parsed = record.get("authors_parsed")
    if parsed:
        names = []
        for parts in parsed:
            last, first = (parts + ["", ""])[:2]
            suffix = parts[2] if len(parts) > 2 else ""
            names.append(" ".join(p for p in (first, last, suffix) if p))
        return tuple(n for n in names if n)
    text = re.sub(r"\s+and\s+", ", ", record.get("authors") or "")
    return tuple(a.strip() for a in text.split(",") if a.strip())


def _year(record: dict) -> int | None:
    versions = record.get("versions") or []
    if versions and isinstance(versions[0], dict):
        match = re.search(r"\b(19|20)\d\d\b", versions[0].get("created", ""))
        if match:
            return int(match.group(0))
    ident = record["id"]
    match = re.match(r"(\d\d)(\d\d)\.", ident) or re.search(r"/(\d\d)(\d\d)\d{3}", ident)
    if match:
        yy = int(match.group(1))
        return 1900 + yy if yy >= 91 else 2000 + yy
    date = record.get("update_date") or ""
    return int(date[:4]) if date[:4].isdigit() else None


def record_to_paper(record: dict) -> Paper:
    """A `Paper` (provisional key `arxiv:<id>`) from one snapshot record."""
    from citerec.ingest.texconv import latex_to_text

    ident = str(record["id"]).strip()
    if not ident:
        raise ValueError("record without id")
    title = latex_to_text(record.get("title") or "")
    if not title:
        raise ValueError(f"record {ident} has no title")
    journal = " ".join((record.get("journal-ref") or "").split())
    categories = tuple((record.get("categories") or "").split())
    return Paper(
        key=f"arxiv:{ident}",
        title=title,
        abstract=latex_to_text(record.get("abstract") or ""),
        authors=tuple(latex_to_text(a) for a in _authors(record)),
        year=_year(record),
        venue=journal or f"arXiv preprint arXiv:{ident}",
        doi=normalise_doi(record.get("doi") or ""),
        arxiv_id=ident,
        keywords=categories,
        entry_type="article" if journal else "misc",
        url=f"https://arxiv.org/abs/{ident}",
        source="arxiv-snapshot",
        extra=(("primaryclass", categories[0]),) if categories else (),
    )
