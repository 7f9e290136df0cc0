"""The .bib files the language server watches, and what each held when last read.

An editor session imports its draft's .bib files into the library and re-imports
them when they change on disk. The workspace's own library mirrors deletions:
an entry deleted from a watched file (and held by no other watched file) leaves
the library. A library named with `--library-dir` or `$CITEREC_LIBRARY_DIR`
may hold the same papers from other sources (a Zotero export, arXiv), so it
never loses papers this way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.papers import normalise_key

if TYPE_CHECKING:
    from citerec.ingest.bibtex import BibImport
    from citerec.library import AddReport, Library

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportSummary:
    """What a (re-)import of .bib files changed, for the editor's log."""

    files: tuple[Path, ...]
    added: int
    updated: int
    problems: tuple[str, ...] = field(default=())
    refreshed: bool = False
    removed: int = 0  # entries deleted from a watched .bib (and held by no other) taken out of the library


def keys_by_file(results: Sequence[tuple[BibImport, AddReport]]) -> dict[Path, set[str]]:
    """The library keys (normalised) each imported .bib file stands for: its entries, or the papers they duplicate."""
    keys: dict[Path, set[str]] = {}
    for bib_import, report in results:
        merged = {normalise_key(incoming): normalise_key(existing) for incoming, existing in report.duplicates}
        own = {normalise_key(paper.key) for paper in bib_import.papers}
        keys[Path(bib_import.file).resolve()] = {merged.get(key, key) for key in own}
    return keys


class WatchedBibs:
    """The watched .bib files of one library; `prunes`: whether deletions in them leave the library."""

    def __init__(self, prunes: bool) -> None:
        self.prunes = prunes
        self.files: list[Path] = []
        self._keys: dict[Path, set[str]] = {}  # watched .bib → the library keys it held when last read

    def load(self, library: Library, files: Sequence[Path]) -> list[str]:
        """Import `files` and watch them; the problems their entries had."""
        from citerec.ingest import import_bibtex_files

        self.files = list(files)
        if not files:
            return []
        # when pruning, every file is read (not skipped when unchanged): what each holds, to notice deletions
        results = import_bibtex_files(library, self.files, reuse=not self.prunes, jobs=1)
        self._keys.update(keys_by_file(results))
        return [str(problem) for bib_import, _ in results for problem in bib_import.problems]

    def reimport(self, library: Library, paths: list[Path]) -> ImportSummary:
        """Re-import changed (or deleted) files; a file gone from disk is no longer watched."""
        from citerec.ingest import import_bibtex_files

        present = [p for p in paths if p.is_file()]
        for path in paths:
            resolved = path.resolve()
            if path in present and resolved not in self.files:
                self.files.append(resolved)
            elif path not in present and resolved in self.files:
                self.files.remove(resolved)  # deleted from disk: no longer watched
        added = updated = 0
        problems: list[str] = []
        results = import_bibtex_files(library, present, reuse=not self.prunes, jobs=1)
        for bib_import, report in results:
            added += len(report.added)
            updated += len(report.updated)
            problems.extend(str(problem) for problem in bib_import.problems)
        removed = self._drop_deleted(library, paths, keys_by_file(results)) if self.prunes else 0
        return ImportSummary(tuple(present), added, updated, tuple(problems), removed=removed)

    def _drop_deleted(self, library: Library, paths: list[Path], now: dict[Path, set[str]]) -> int:
        """Remove the entries that left the re-read files (or whose file is gone) and no other watched file holds."""
        before: set[str] = set()
        for path in paths:
            resolved = path.resolve()
            before |= self._keys.pop(resolved, set())
            if resolved in now:
                self._keys[resolved] = now[resolved]
        gone = sorted(before - set().union(*self._keys.values()))
        if not gone:
            return 0
        log.info("%d entries deleted from watched .bib files; removing them from the library", len(gone))
        return len(library.remove(gone))
