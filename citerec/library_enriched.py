"""What `library enrich` filled in, with its provenance, and the online answers it was filled from.

A filled field is written into the paper itself (so retrieval and the index see
it; the paper's content hash changes, so `index build` re-embeds that paper
alone) and recorded in the `enriched` table: which source, matched by what,
which record, and when. Only empty fields are ever filled, so what the user
wrote is never changed; a field the user fills later becomes theirs. A revert
empties the fields a source filled (those still holding its value), and a
re-import of the user's .bib keeps the filled fields the .bib still leaves
empty. Answers of online sources are kept in `enrich_answers`, so a re-run
asks nothing twice. Every change is one transaction of the library's file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from citerec.library_db import paper_from_json
from citerec.library_file import LibraryFile
from citerec.papers import Paper, normalise_key

FILLABLE = ("abstract", "doi", "arxiv_id", "venue", "year")


@dataclass(frozen=True)
class Fill:
    """One field a source filled in one paper (`value` as the paper holds it)."""

    key: str
    field: str
    value: Any
    source: str
    matched_by: str
    record: str
    filled_at: str = ""


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == ()


def fills_for(paper: Paper, record: Paper, source: str, matched_by: str, when: str = "") -> list[Fill]:
    """The fields of `paper` that are empty and that `record` has: what a match would fill."""
    found = []
    for name in FILLABLE:
        value = getattr(record, name)
        if is_empty(getattr(paper, name)) and not is_empty(value):
            found.append(Fill(paper.key, name, value, source, matched_by, record.key, when))
    return found


class EnrichedFields(LibraryFile):
    """The `enriched` and `enrich_answers` tables of a library file."""

    def _store(self, paper: Paper, *, replace: bool, identifiers: tuple[str | None, ...] | None = None) -> None:
        raise NotImplementedError  # `Library` writes papers

    def _bump_version(self) -> None:
        raise NotImplementedError  # `Library` counts changes

    def _paper(self, norm_key: str) -> Paper | None:
        rows = self._query("SELECT data FROM papers WHERE norm_key = ?", [norm_key])
        return paper_from_json(rows[0][0], f"{self.db_path} [{norm_key}]") if rows else None

    def apply_fills(self, fills: Iterable[Fill]) -> list[Fill]:
        """Write `fills` into their papers and record them, in one transaction; returns those applied.

        A fill whose field is no longer empty (the user wrote it meanwhile) or whose paper is gone is skipped."""
        by_key: dict[str, list[Fill]] = {}
        for fill in fills:
            by_key.setdefault(normalise_key(fill.key), []).append(fill)
        applied: list[Fill] = []
        when = now_utc()
        with self.transaction():
            for norm, group in by_key.items():
                paper = self._paper(norm)
                if paper is None:
                    continue
                updates = {}
                for fill in group:
                    if is_empty(getattr(paper, fill.field)) and fill.field not in updates:
                        updates[fill.field] = fill.value
                        applied.append(dataclasses.replace(fill, key=paper.key, filled_at=fill.filled_at or when))
                if updates:
                    self._store(dataclasses.replace(paper, **updates), replace=True)
            self._write_many(
                "INSERT OR REPLACE INTO enriched (norm_key, field, value, source, matched_by, record, filled_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (normalise_key(f.key), f.field, json.dumps(f.value), f.source, f.matched_by, f.record, f.filled_at)
                    for f in applied
                ),
            )
            if applied:
                self._bump_version()
        return applied

    def filled(self, keys: Sequence[str] | None = None, source: str | None = None) -> list[Fill]:
        """The recorded fills (of `keys`, of `source`, when given), by paper and field."""
        sql = (
            "SELECT p.key, e.field, e.value, e.source, e.matched_by, e.record, e.filled_at "
            "FROM enriched e JOIN papers p ON p.norm_key = e.norm_key"
        )
        by_source = ("e.source = ?", [source]) if source is not None else ("1", [])
        if keys is None:
            rows = self._query(f"{sql} WHERE {by_source[0]} ORDER BY p.id, e.field", by_source[1])
        else:
            wanted, rows = list(dict.fromkeys(normalise_key(k) for k in keys)), []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                where = f"{by_source[0]} AND e.norm_key IN ({','.join('?' * len(chunk))})"
                rows += self._query(f"{sql} WHERE {where} ORDER BY p.id, e.field", [*by_source[1], *chunk])
        return [Fill(k, f, json.loads(v), s, m, r, t) for k, f, v, s, m, r, t in rows]

    def revert_fills(self, source: str) -> list[Fill]:
        """Empty every field `source` filled that still holds what it filled, and forget them (one transaction)."""
        reverted: list[Fill] = []
        with self.transaction():
            fills = self.filled(source=source)
            by_key: dict[str, list[Fill]] = {}
            for fill in fills:
                by_key.setdefault(normalise_key(fill.key), []).append(fill)
            for norm, group in by_key.items():
                paper = self._paper(norm)
                if paper is None:
                    continue
                empty = {f.field: _empty_value(f.field) for f in group if _same(getattr(paper, f.field), f.value)}
                if empty:
                    self._store(dataclasses.replace(paper, **empty), replace=True)
                reverted.extend(f for f in group if f.field in empty)
            self._write("DELETE FROM enriched WHERE source = ?", [source])
            if reverted:
                self._bump_version()
        return reverted

    def keep_filled(self, paper: Paper) -> Paper:
        """`paper` (a re-imported entry) with the fields enrichment filled that it still leaves empty;
        fields it now sets to something else are the user's, and stop being recorded as filled."""
        norm = normalise_key(paper.key)
        rows = self._query("SELECT field, value FROM enriched WHERE norm_key = ?", [norm])
        if not rows:
            return paper
        filled = {field: json.loads(value) for field, value in rows}
        updates = {field: value for field, value in filled.items() if is_empty(getattr(paper, field))}
        # a value other than the one filled is the user's now (the same value: an exported library re-imported)
        taken = [f for f, value in filled.items() if f not in updates and not _same(getattr(paper, f), value)]
        if taken:
            with self.transaction():
                self._write_many("DELETE FROM enriched WHERE norm_key = ? AND field = ?", ((norm, f) for f in taken))
        return dataclasses.replace(paper, **updates) if updates else paper

    def forget_filled(self, norm_keys: Iterable[str]) -> None:
        """Drop the records of removed papers (call inside the removal's transaction)."""
        self._write_many("DELETE FROM enriched WHERE norm_key = ?", ((k,) for k in norm_keys))

    # -- answers of online sources ----------------------------------------
    def cached_answer(self, source: str, request: str) -> list[Paper] | None:
        """The records `source` gave for `request` before ([] when it found none); None if never asked."""
        rows = self._query("SELECT answer FROM enrich_answers WHERE source = ? AND request = ?", [source, request])
        if not rows:
            return None
        return [Paper.from_dict(item) for item in json.loads(rows[0][0])]

    def cache_answer(self, source: str, request: str, records: Sequence[Paper]) -> None:
        with self.transaction():
            self._write(
                "INSERT OR REPLACE INTO enrich_answers (source, request, answer, fetched_at) VALUES (?, ?, ?, ?)",
                [source, request, json.dumps([r.to_dict() for r in records], ensure_ascii=False), now_utc()],
            )


def _empty_value(field: str) -> Any:
    return None if field == "year" else ""


def _same(current: Any, filled: Any) -> bool:
    return current == filled or (isinstance(current, tuple) and list(current) == filled)
