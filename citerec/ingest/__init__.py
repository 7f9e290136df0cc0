"""Getting papers into a `Library`: BibTeX files, arXiv ids/queries and the arXiv snapshot.

These functions are what the `citerec library` commands call, so notebooks
and scripts get exactly the CLI's behaviour. Heavy parsers load lazily.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

from citerec.ingest.bibtex import BibImport, BibProblem, parse_bibtex, read_bibtex
from citerec.ingest.bibtex_export import papers_to_bibtex
from citerec.ingest.keys import citation_key
from citerec.library import AddReport, Library
from citerec.papers import Paper

__all__ = [
    "BibImport",
    "BibProblem",
    "add_papers_with_keys",
    "citation_key",
    "import_bibtex",
    "import_bibtex_files",
    "papers_to_bibtex",
    "parse_bibtex",
    "read_bibtex",
]


def import_bibtex(library: Library, path: Path | str, *, save: bool = True) -> tuple[BibImport, AddReport]:
    """Read one .bib file into the library (deduplicated); returns what was read and what changed."""
    result = read_bibtex(path)
    return result, library.add(result.papers, save=save)


def import_bibtex_files(library: Library, paths: Sequence[Path | str]) -> list[tuple[BibImport, AddReport]]:
    """Several .bib files in order, @strings carried from one to the next (as `\\bibliography{a,b}`); one save."""
    macros: dict[str, str] = {}
    results = []
    for path in paths:
        result = read_bibtex(path, macros=macros)
        macros.update(result.strings)
        results.append((result, library.add(result.papers, save=False)))
    if any(report.changed for _, report in results):
        library.save()
    return results


def add_papers_with_keys(
    library: Library, papers: Iterable[Paper], *, save: bool = True, batch: int = 1000
) -> AddReport:
    """Add papers whose keys are provisional (arXiv): each gets a unique `citation_key` first."""
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    duplicates: list[tuple[str, str]] = []
    pending: list[Paper] = []

    def flush() -> None:
        report = library.add(pending, save=False)
        added.extend(report.added)
        updated.extend(report.updated)
        unchanged.extend(report.unchanged)
        duplicates.extend(report.duplicates)
        pending.clear()

    claimed: set[str] = set()
    for paper in papers:
        # a fresh key even for a known work: `Library.add` then merges it into the existing entry
        key = citation_key(paper, lambda k: k in library or k.lower() in claimed)
        claimed.add(key.lower())
        pending.append(dataclasses.replace(paper, key=key))
        if len(pending) >= batch:
            flush()
            claimed.clear()
    flush()
    report = AddReport(tuple(added), tuple(updated), tuple(unchanged), tuple(duplicates))
    if save and report.changed:
        library.save()
    return report
