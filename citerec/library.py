"""The on-disk library: a folder holding `papers.jsonl` (one `Paper` a line).

Adding deduplicates across sources (DOI, arXiv id, normalised title) and every
save is atomic (see `storage`). The index lives in `<root>/index/` and is owned
by `citerec.index`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from citerec.errors import LibraryError
from citerec.papers import Paper, extract_arxiv_id, normalise_doi, normalise_key, normalise_title
from citerec.storage import atomic_open

log = logging.getLogger(__name__)

DEFAULT_DIRNAME = ".citerec"
PAPERS_FILE = "papers.jsonl"
LIBRARY_ENV = "CITEREC_LIBRARY_DIR"


@dataclass(frozen=True)
class AddReport:
    """What `Library.add` did with each incoming paper."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    duplicates: tuple[tuple[str, str], ...] = ()  # (incoming key, existing key)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def default_library_dir(near: Path | None = None) -> Path:
    """`$CITEREC_LIBRARY_DIR`, else `.citerec/` beside `near` (a draft) or in the cwd."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return Path(env)
    if near is not None:
        base = near if near.is_dir() else near.parent
        return base / DEFAULT_DIRNAME
    return Path.cwd() / DEFAULT_DIRNAME


def _merge(existing: Paper, incoming: Paper) -> Paper:
    """Fill the existing entry's empty fields from a duplicate found elsewhere."""
    updates = {}
    for f in dataclasses.fields(Paper):
        if f.name in ("key", "source", "extra"):
            continue
        old, new = getattr(existing, f.name), getattr(incoming, f.name)
        if not old and new:
            updates[f.name] = new
    return dataclasses.replace(existing, **updates) if updates else existing


class Library:
    """A user's papers, persisted in a folder; safe to open from many processes for reading."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._papers: dict[str, Paper] = {}
        self._by_doi: dict[str, str] = {}
        self._by_arxiv: dict[str, str] = {}
        self._by_title: dict[str, str] = {}
        if self.papers_path.exists():
            self._load()

    # -- locations -------------------------------------------------------
    @property
    def papers_path(self) -> Path:
        return self.root / PAPERS_FILE

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def exists(self) -> bool:
        return self.papers_path.exists()

    # -- reading ---------------------------------------------------------
    def _load(self) -> None:
        with self.papers_path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    paper = Paper.from_dict(json.loads(line))
                except (ValueError, TypeError) as exc:
                    raise LibraryError(f"{self.papers_path}:{number}: corrupt library entry ({exc})") from exc
                self._put(paper)

    def __len__(self) -> int:
        return len(self._papers)

    def __iter__(self) -> Iterator[Paper]:
        return iter(self._papers.values())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and normalise_key(key) in self._papers

    def papers(self) -> list[Paper]:
        return list(self._papers.values())

    def keys(self) -> list[str]:
        return [p.key for p in self._papers.values()]

    def get(self, key: str) -> Paper | None:
        return self._papers.get(normalise_key(key))

    def find_duplicate(self, paper: Paper) -> Paper | None:
        """The stored paper that is the same work as `paper` (DOI, arXiv id, then title)."""
        doi = normalise_doi(paper.doi)
        if doi and doi in self._by_doi:
            return self._papers[self._by_doi[doi]]
        arxiv = extract_arxiv_id(paper.arxiv_id)
        if arxiv and arxiv in self._by_arxiv:
            return self._papers[self._by_arxiv[arxiv]]
        title = normalise_title(paper.title)
        if len(title) >= 12 and title in self._by_title:
            return self._papers[self._by_title[title]]
        return None

    def unique_key(self, base: str) -> str:
        """`base`, or `base` + a, b, c… so that it is not taken yet in this library."""
        if normalise_key(base) not in self._papers:
            return base
        for suffix in "abcdefghijklmnopqrstuvwxyz":
            if normalise_key(base + suffix) not in self._papers:
                return base + suffix
        number = 2
        while normalise_key(f"{base}{number}") in self._papers:
            number += 1
        return f"{base}{number}"

    # -- writing ---------------------------------------------------------
    def _put(self, paper: Paper) -> None:
        norm = normalise_key(paper.key)
        old = self._papers.get(norm)
        if old is not None:
            self._unindex(old)
        self._papers[norm] = paper
        if doi := normalise_doi(paper.doi):
            self._by_doi.setdefault(doi, norm)
        if arxiv := extract_arxiv_id(paper.arxiv_id):
            self._by_arxiv.setdefault(arxiv, norm)
        if len(title := normalise_title(paper.title)) >= 12:
            self._by_title.setdefault(title, norm)

    def _unindex(self, paper: Paper) -> None:
        norm = normalise_key(paper.key)
        for table, value in (
            (self._by_doi, normalise_doi(paper.doi)),
            (self._by_arxiv, extract_arxiv_id(paper.arxiv_id)),
            (self._by_title, normalise_title(paper.title)),
        ):
            if value and table.get(value) == norm:
                del table[value]

    def add(self, papers: Iterable[Paper], *, save: bool = True) -> AddReport:
        """Add papers: same key replaces, same work under another key merges into the existing one."""
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        duplicates: list[tuple[str, str]] = []
        for paper in papers:
            existing = self.get(paper.key)
            if existing is not None:
                if existing == paper:
                    unchanged.append(existing.key)
                else:
                    self._put(paper)
                    updated.append(paper.key)
                continue
            twin = self.find_duplicate(paper)
            if twin is not None:
                merged = _merge(twin, paper)
                if merged != twin:
                    self._put(merged)
                    updated.append(twin.key)
                duplicates.append((paper.key, twin.key))
                continue
            self._put(paper)
            added.append(paper.key)
        report = AddReport(tuple(added), tuple(updated), tuple(unchanged), tuple(duplicates))
        if save and report.changed:
            self.save()
        log.info(
            "library %s: %d added, %d updated, %d duplicates", self.root, len(added), len(updated), len(duplicates)
        )
        return report

    def remove(self, keys: Iterable[str], *, save: bool = True) -> list[str]:
        """Remove papers by key; returns the keys that were there."""
        removed = []
        for key in keys:
            paper = self._papers.pop(normalise_key(key), None)
            if paper is not None:
                self._unindex(paper)
                removed.append(paper.key)
        if save and removed:
            self.save()
        return removed

    def save(self) -> None:
        """Write every paper to `papers.jsonl` atomically."""
        with atomic_open(self.papers_path) as handle:
            for paper in self._papers.values():
                handle.write(json.dumps(paper.to_dict(), ensure_ascii=False) + "\n")
