"""Candidates from the arXiv metadata snapshot: one streaming pass matches every library entry at once.

The snapshot has millions of records and a library thousands of entries, so the
entries are indexed and each record is looked up, never the other way round:
by DOI and arXiv id, by the first author's surname (then a title close enough,
which only a few records per entry reach), and by the exact title (which finds
the same-titled records by other authors, to report them). Only a record that
is a candidate becomes a `Paper` (its abstract decoded from LaTeX); memory
holds the entries and their candidates, whatever the size of the file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from citerec.enrich.match import WEAK_TITLE, TitleForm, first_surname, surname, title_similarity
from citerec.ingest.snapshot import SnapshotProblem, iter_snapshot_records, record_problem, record_to_paper
from citerec.papers import Paper, extract_arxiv_id, normalise_doi, normalise_key
from citerec.progress import ProgressCallback

log = logging.getLogger(__name__)

MAX_CANDIDATES = 20  # per entry: more would only be same-titled records that cannot all be it
MIN_SHARED_WORDS = 0.5  # of the shorter title's words, before the exact similarity is computed


@dataclass(frozen=True)
class _Entry:
    norm_key: str
    form: TitleForm
    words: frozenset[str]


class SnapshotIndex:
    """The entries to enrich, indexed by what a snapshot record can be looked up with."""

    def __init__(self, entries: Sequence[Paper]) -> None:
        self.by_doi: dict[str, list[str]] = {}
        self.by_arxiv: dict[str, list[str]] = {}
        self.by_surname: dict[str, list[_Entry]] = {}
        self.by_letters: dict[str, list[str]] = {}
        for paper in entries:
            norm = normalise_key(paper.key)
            if doi := normalise_doi(paper.doi):
                self.by_doi.setdefault(doi, []).append(norm)
            if arxiv := extract_arxiv_id(paper.arxiv_id):
                self.by_arxiv.setdefault(arxiv.lower(), []).append(norm)
            form = TitleForm.of(paper.title)
            if not form.letters:
                continue
            self.by_letters.setdefault(form.letters, []).append(norm)
            if name := first_surname(paper):
                self.by_surname.setdefault(name, []).append(_Entry(norm, form, frozenset(form.words)))

    def entries_for(self, record: dict) -> set[str]:
        """Normalised keys of the entries `record` (a raw snapshot record) may be."""
        found: set[str] = set()
        if self.by_arxiv and (arxiv := extract_arxiv_id(str(record.get("id") or ""))):
            found.update(self.by_arxiv.get(arxiv.lower(), ()))
        if self.by_doi and isinstance(record.get("doi"), str) and (doi := normalise_doi(record["doi"])):
            found.update(self.by_doi.get(doi, ()))
        title = record.get("title")
        if not isinstance(title, str):
            return found
        form = TitleForm.of(title)
        found.update(self.by_letters.get(form.letters, ()))
        name = _record_surname(record)
        if name and (entries := self.by_surname.get(name)):
            words = frozenset(form.words)
            for entry in entries:
                shared = len(words & entry.words) / max(1, min(len(words), len(entry.words)))
                if shared >= MIN_SHARED_WORDS and title_similarity(entry.form, form) >= WEAK_TITLE:
                    found.add(entry.norm_key)
        return found


def _record_surname(record: dict) -> str:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], list) and parsed[0]:
        return surname(f"{parsed[0][0]}, x")  # 'Last, First': the first item of authors_parsed is the surname
    authors = record.get("authors")
    if isinstance(authors, str) and authors.strip():
        return surname(authors.replace(" and ", ",").split(",")[0])
    return ""


def snapshot_candidates(
    path: Path | str,
    entries: Sequence[Paper],
    *,
    progress: ProgressCallback | None = None,
    problems: list[SnapshotProblem] | None = None,
) -> dict[str, list[Paper]]:
    """For each entry (by normalised key), the snapshot records that may be it, in one pass over the file."""
    index = SnapshotIndex(entries)
    found: dict[str, list[Paper]] = {}
    records = 0
    for number, record in iter_snapshot_records(path, progress=progress, problems=problems, stage="snapshot"):
        records += 1
        keys = index.entries_for(record)
        if not keys:
            continue
        try:
            paper = record_to_paper(record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            record_problem(problems, SnapshotProblem(str(path), number, f"malformed record skipped ({exc})"))
            continue
        for key in keys:
            kept = found.setdefault(key, [])
            if len(kept) < MAX_CANDIDATES:
                kept.append(paper)
    log.info("snapshot %s: %d records, candidates for %d of %d entries", path, records, len(found), len(entries))
    return found
