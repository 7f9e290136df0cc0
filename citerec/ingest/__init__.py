"""Getting papers into a `Library`: BibTeX files, a Zotero database, arXiv ids/queries and the arXiv snapshot.

These functions are what the `citerec library` commands call, so notebooks
and scripts get exactly the CLI's behaviour. Heavy parsers load lazily.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from citerec.ingest.bibtex import BibImport, BibProblem, parse_bibtex, read_bibtex
from citerec.ingest.bibtex_export import papers_to_bibtex
from citerec.ingest.files import import_bibtex_files
from citerec.ingest.keys import citation_key
from citerec.ingest.zotero import ZoteroImport, ZoteroRead, import_zotero, read_zotero
from citerec.library import AddReport, Library
from citerec.papers import Paper

__all__ = [
    "AddCounts",
    "BibImport",
    "BibProblem",
    "ZoteroImport",
    "ZoteroRead",
    "add_papers_with_keys",
    "citation_key",
    "import_bibtex",
    "import_bibtex_files",
    "import_zotero",
    "papers_to_bibtex",
    "parse_bibtex",
    "read_bibtex",
    "read_zotero",
    "stream_papers_with_keys",
]


def import_bibtex(library: Library, path: Path | str) -> tuple[BibImport, AddReport]:
    """Read one .bib file into the library (deduplicated); returns what was read and what changed."""
    return import_bibtex_files(library, [path])[0]


@dataclass(frozen=True)
class AddCounts:
    """How many papers a streamed import added, updated, left unchanged or merged as duplicates."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0

    def __add__(self, report: AddReport) -> AddCounts:
        return AddCounts(
            self.added + len(report.added),
            self.updated + len(report.updated),
            self.unchanged + len(report.unchanged),
            self.duplicates + len(report.duplicates),
        )


def _keyed_batches(library: Library, papers: Iterable[Paper], batch: int) -> Iterator[list[Paper]]:
    """The papers with unique `citation_key`s, a batch at a time (each added before the next is keyed)."""
    pending: list[Paper] = []
    claimed: set[str] = set()
    for paper in papers:
        # a fresh key even for a known work: `Library.add` then merges it into the existing entry
        key = citation_key(paper, lambda k: k.lower() in claimed or k in library)
        claimed.add(key.lower())
        pending.append(dataclasses.replace(paper, key=key))
        if len(pending) >= batch:
            yield pending
            pending = []
            claimed.clear()
    if pending:
        yield pending


def add_papers_with_keys(library: Library, papers: Iterable[Paper], *, batch: int = 1000) -> AddReport:
    """Add papers whose keys are provisional (arXiv), in one transaction: each gets a unique key first."""
    report = AddReport()
    with library.transaction():
        for chunk in _keyed_batches(library, papers, batch):
            report = report + library.add(chunk)
    return report


def stream_papers_with_keys(
    library: Library, papers: Iterable[Paper], *, batch: int = 1000, commit_every: int = 20_000
) -> AddCounts:
    """`add_papers_with_keys` for millions of papers: counts only, a commit every `commit_every` papers.

    Memory stays flat, and an interrupted run keeps what it committed; running
    it again merges what is already there (same arXiv id) instead of adding it twice.
    """
    counts = AddCounts()
    batches = _keyed_batches(library, papers, batch)
    while True:
        with library.transaction():
            in_transaction = 0
            for chunk in batches:
                counts = counts + library.add(chunk)
                in_transaction += len(chunk)
                if in_transaction >= commit_every:
                    break
            else:
                return counts
