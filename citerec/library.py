"""The on-disk library: a folder holding `library.sqlite` (one row per `Paper`).

Adding deduplicates across sources (DOI, arXiv id, normalised title) and every
`add`/`remove` is one SQLite transaction, so several processes may import,
serve and suggest at once without losing each other's work. Commands read
only what they need: a key, a page, or a stream of papers. The index lives in
`<root>/index/` and is owned by `citerec.index`. A folder still holding the
old `papers.jsonl` is migrated on first open (see `library_db`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from citerec.library_citing import CitingContexts
from citerec.library_db import (
    PAPER_COLUMNS,
    dedup_identifiers,
    paper_from_json,
    paper_row,
)
from citerec.library_enriched import EnrichedFields
from citerec.papers import Paper, first_free_key, normalise_key
from citerec.past_sentences import PastSentence, PastSentences

log = logging.getLogger(__name__)

DEFAULT_DIRNAME = ".citerec"
LIBRARY_ENV = "CITEREC_LIBRARY_DIR"
_PAGE = 1000  # rows fetched per round trip when streaming


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

    def __add__(self, other: AddReport) -> AddReport:
        return AddReport(
            self.added + other.added,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.duplicates + other.duplicates,
        )


@dataclass(frozen=True)
class ImportedSource:
    """A .bib file as last imported: its content digest and the @string macros it defined and used."""

    path: str
    digest: str
    strings: tuple[tuple[str, str], ...]  # defined by the file
    external: tuple[tuple[str, str | None], ...]  # taken from earlier files, with their values then (None: undefined)
    entries: int
    problems: tuple[tuple[int, str, str], ...]  # (line, key, message) met when it was read


def default_library_dir(near: Path | None = None) -> Path:
    """`$CITEREC_LIBRARY_DIR`, else `.citerec/` beside `near` (a draft) or in the cwd."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return Path(env)
    if near is not None:
        base = near if near.is_dir() else near.parent
        return base / DEFAULT_DIRNAME
    return Path.cwd() / DEFAULT_DIRNAME


def merge_papers(existing: Paper, incoming: Paper) -> Paper:
    """Fill the existing entry's empty fields from a duplicate found elsewhere."""
    updates = {}
    for f in dataclasses.fields(Paper):
        if f.name in ("key", "source", "extra"):
            continue
        old, new = getattr(existing, f.name), getattr(incoming, f.name)
        if not old and new:
            updates[f.name] = new
    return dataclasses.replace(existing, **updates) if updates else existing


class Library(PastSentences, EnrichedFields, CitingContexts):
    """A user's papers in a folder (and what the user wrote about them, and what enrichment filled in); safe to use
    from many processes and threads at once."""

    # -- locations -------------------------------------------------------
    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def exists(self) -> bool:
        return self.db_path.exists()

    # -- reading ---------------------------------------------------------
    def __len__(self) -> int:
        rows = self._query("SELECT COUNT(*) FROM papers")
        return rows[0][0] if rows else 0

    def __iter__(self) -> Iterator[Paper]:
        return self.iter_papers()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(
            self._query("SELECT 1 FROM papers WHERE norm_key = ?", [normalise_key(key)])
        )

    def past_sentences(self, keys: Collection[str] | None = None, *, others: bool = True) -> list[PastSentence]:
        """What was written about each paper (of `keys`, when given): the user's past sentences (`library learn`),
        then, with `others`, the sentences other papers cite it with (`library enrich --citing-contexts`)."""
        mine = super().past_sentences(keys)
        return mine + self.cited_by_others(keys) if others else mine

    def get(self, key: str) -> Paper | None:
        rows = self._query("SELECT data FROM papers WHERE norm_key = ?", [normalise_key(key)])
        return paper_from_json(rows[0][0], f"{self.db_path} [{key}]") if rows else None

    def get_many(self, keys: Iterable[str]) -> dict[str, Paper]:
        """Papers by normalised key for the keys that exist (one query per 500 keys)."""
        wanted = list(dict.fromkeys(normalise_key(k) for k in keys))
        found: dict[str, Paper] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for norm, data in self._query(f"SELECT norm_key, data FROM papers WHERE norm_key IN ({marks})", chunk):
                found[norm] = paper_from_json(data, f"{self.db_path} [{norm}]")
        return found

    def iter_papers(self, *, where: str = "", params: Iterable[object] = ()) -> Iterator[Paper]:
        """Every paper in insertion order, fetched a page at a time (memory stays flat)."""
        last = 0
        params = tuple(params)
        condition = f"AND ({where})" if where else ""
        while True:
            rows = self._query(
                f"SELECT id, data FROM papers WHERE id > ? {condition} ORDER BY id LIMIT {_PAGE}", (last, *params)
            )
            for row_id, data in rows:
                yield paper_from_json(data, f"{self.db_path} [row {row_id}]")
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def papers(self) -> list[Paper]:
        return list(self.iter_papers())

    def keys(self) -> list[str]:
        return [row[0] for row in self._query("SELECT key FROM papers ORDER BY id")]

    def content_hashes(self) -> list[tuple[str, str]]:
        """(key, content hash) of every paper in insertion order: what an index update compares."""
        return [(key, digest) for key, digest in self._query("SELECT key, content_hash FROM papers ORDER BY id")]

    def page(self, *, offset: int = 0, limit: int | None = None, query: str = "") -> tuple[list[Paper], int]:
        """One page of papers (insertion order) whose key, title, authors or abstract contain `query`,
        and how many match in all."""
        where, params = "", []
        if query:
            where, params = "WHERE instr(lower(data), ?) > 0", [query.lower()]
        total = self._query(f"SELECT COUNT(*) FROM papers {where}", params)
        rows = self._query(
            f"SELECT id, data FROM papers {where} ORDER BY id LIMIT ? OFFSET ?", [*params, limit or -1, offset]
        )
        return [paper_from_json(data, f"{self.db_path} [row {i}]") for i, data in rows], (total[0][0] if total else 0)

    def find_duplicate(self, paper: Paper) -> Paper | None:
        """The stored paper that is the same work as `paper` (DOI, arXiv id, then title)."""
        return self._find_duplicate(dedup_identifiers(paper))

    def _find_duplicate(self, identifiers: tuple[str | None, ...]) -> Paper | None:
        for column, value in zip(("doi", "arxiv_id", "norm_title"), identifiers, strict=True):
            if value is not None:
                rows = self._query(f"SELECT data FROM papers WHERE {column} = ? ORDER BY id LIMIT 1", [value])
                if rows:
                    return paper_from_json(rows[0][0], f"{self.db_path} [{column} {value}]")
        return None

    def unique_key(self, base: str) -> str:
        """`base`, or `base` + a, b, c… so that it is not taken yet in this library."""
        return first_free_key(base, self.__contains__)

    def version(self) -> str:
        """Changes with every committed change to the papers (and differs between two libraries),
        so an index or a server can tell in one look-up that there is nothing new."""
        meta = dict(self._query("SELECT name, value FROM meta WHERE name IN ('id', 'version')"))
        return f"{meta.get('id', '')}:{meta.get('version', '0')}" if meta else ""

    # -- writing ---------------------------------------------------------
    def _bump_version(self) -> None:
        self._write(
            "INSERT INTO meta (name, value) VALUES ('version', '1') "
            "ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def _store(self, paper: Paper, *, replace: bool, identifiers: tuple[str | None, ...] | None = None) -> None:
        row = paper_row(paper, identifiers)
        if replace:  # keep the row id: a paper keeps its place in the library's order
            self._write(
                "UPDATE papers SET key=?, doi=?, arxiv_id=?, norm_title=?, content_hash=?, data=? WHERE norm_key=?",
                (row[0], *row[2:], row[1]),
            )
        else:
            self._write(f"INSERT INTO papers ({PAPER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def add(self, papers: Iterable[Paper]) -> AddReport:
        """Add papers in one transaction: same key replaces, same work under another key merges."""
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        duplicates: list[tuple[str, str]] = []
        with self.transaction():
            for paper in papers:
                existing = self.get(paper.key)
                if existing is not None:
                    paper = self.keep_filled(paper)  # a re-imported entry keeps what enrichment filled
                    if existing == paper:
                        unchanged.append(existing.key)
                    else:
                        self._store(paper, replace=True)
                        updated.append(paper.key)
                    continue
                identifiers = dedup_identifiers(paper)
                twin = self._find_duplicate(identifiers)
                if twin is not None:
                    merged = merge_papers(twin, paper)
                    if merged != twin:
                        self._store(merged, replace=True)
                        updated.append(twin.key)
                    duplicates.append((paper.key, twin.key))
                    continue
                self._store(paper, replace=False, identifiers=identifiers)
                added.append(paper.key)
            if added or updated:
                self._bump_version()
        log.info(
            "library %s: %d added, %d updated, %d duplicates", self.root, len(added), len(updated), len(duplicates)
        )
        return AddReport(tuple(added), tuple(updated), tuple(unchanged), tuple(duplicates))

    def remove(self, keys: Iterable[str]) -> list[str]:
        """Remove papers by key in one transaction; returns the keys that were there."""
        removed = []
        with self.transaction():
            for key in keys:
                norm = normalise_key(key)
                found = self._write("SELECT key FROM papers WHERE norm_key = ?", [norm]).fetchone()
                if found is not None:
                    self._write("DELETE FROM papers WHERE norm_key = ?", [norm])
                    self._write("DELETE FROM learned WHERE norm_key = ?", [norm])  # its past sentences
                    self.forget_filled([norm])
                    self.forget_citing_contexts([norm])
                    removed.append(found[0])
            if removed:
                self._bump_version()
                # a removed paper would not come back from a skipped file: re-read every file next time
                self._write("DELETE FROM sources")
        return removed

    def clear(self) -> int:
        """Remove every paper (one transaction); returns how many there were."""
        with self.transaction():
            count = self._write("DELETE FROM papers").rowcount
            self._write("DELETE FROM learned")  # the past sentences (table name kept)
            self._write("DELETE FROM enriched")
            self.forget_citing_contexts()
            self._write("DELETE FROM sources")
            if count:
                self._bump_version()
        return count

    # -- imported files ----------------------------------------------------
    def imported_source(self, path: Path | str) -> ImportedSource | None:
        """How `path` was last imported, if it was and nothing was removed since."""
        name = str(Path(path).resolve())
        rows = self._query("SELECT digest, strings, external, entries, problems FROM sources WHERE path = ?", [name])
        if not rows:
            return None
        digest, strings, external, entries, problems = rows[0]
        return ImportedSource(
            name,
            digest,
            tuple((k, v) for k, v in json.loads(strings)),
            tuple((k, v) for k, v in json.loads(external)),
            int(entries),
            tuple((int(line), key, message) for line, key, message in json.loads(problems)),
        )

    def record_source(self, source: ImportedSource) -> None:
        """Remember how a file was imported (call inside the import's transaction)."""
        with self.transaction():
            self._write(
                "INSERT OR REPLACE INTO sources (path, digest, strings, external, entries, problems) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    str(Path(source.path).resolve()),
                    source.digest,
                    *(json.dumps(sorted(pairs)) for pairs in (source.strings, source.external)),
                    source.entries,
                    json.dumps(source.problems),
                ],
            )
