"""What recall remembers between runs: candidates per passage, query vectors per passage text, and
the text each LaTeX fragment of a draft reads as.

Drafts are re-run after small edits, so most passages come back unchanged:
their candidates are looked up by (index generation, recall settings, text),
and a passage whose text is new is embedded once (its vector is kept by
embedder and text, so it survives a library change). Only the edited passages
cost an embedding; a run where nothing changed never loads the embedder.

One SQLite file in WAL mode beside the index (`recall-cache.sqlite`); any
process may read and write it. A cache that cannot be opened or read is
logged and ignored: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from citerec.storage import select_by_keys

log = logging.getLogger(__name__)

CACHE_FILE = "recall-cache.sqlite"
MAX_VECTORS = 200_000  # query vectors kept (oldest dropped first): a few hundred MB at most
MAX_TEXTS = 500_000  # a draft's fragments read as text (oldest dropped first): tens of MB at most
_SCHEMA = """
CREATE TABLE IF NOT EXISTS recall (key TEXT PRIMARY KEY, generation TEXT NOT NULL, candidates TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS texts (key TEXT PRIMARY KEY, text TEXT NOT NULL);
"""


def cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


class RecallCache:
    """Candidates and query vectors by key; thread-safe, shared between processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pruned: set[str] = set()
        for attempt in range(2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                self._db = db
                return
            except (sqlite3.Error, OSError) as exc:
                damaged = isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)
                if damaged and attempt == 0:  # not a database any more: a cache can start afresh
                    aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
                    log.warning("%s: recall cache damaged (%s), moved to %s", self.path, exc, aside)
                    for suffix in ("-wal", "-shm"):
                        Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                    self.path.replace(aside)
                    continue
                log.warning("%s: recall cache not used (%s)", self.path, exc)
                return

    def _read(self, table: str, column: str, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self._db is None:
            return found
        with self._lock:
            try:
                found.update(select_by_keys(self._db, table, f"key, {column}", keys))
            except sqlite3.Error as exc:
                log.warning("%s: recall cache not read (%s)", self.path, exc)
        return found

    def _write(self, statements: Iterable[tuple[str, list[tuple]]]) -> None:
        if self._db is None:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for sql, rows in statements:
                        self._db.executemany(sql, rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:  # a full disk, a locked file: the run goes on without caching
                log.warning("%s: recall cache not written (%s)", self.path, exc)

    # -- candidates ----------------------------------------------------------
    def candidates(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        return {key: json.loads(value) for key, value in self._read("recall", "candidates", keys).items()}

    def put_candidates(self, generation: str, items: Iterable[tuple[str, list[dict[str, Any]]]]) -> None:
        """Store candidates of `generation`; the first write of a generation drops the others' entries."""
        rows = [(key, generation, json.dumps(value)) for key, value in items]
        statements = [("INSERT OR REPLACE INTO recall (key, generation, candidates) VALUES (?, ?, ?)", rows)]
        if generation not in self._pruned:
            statements.insert(0, ("DELETE FROM recall WHERE generation != ?", [(generation,)]))
            self._pruned.add(generation)
        self._write(statements)

    # -- query vectors -------------------------------------------------------
    def vectors(self, keys: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        found = {}
        for key, blob in self._read("vectors", "vector", keys).items():
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape == (dimension,):
                found[key] = vector
        return found

    def put_vectors(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items]
        self._write(
            [
                ("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows),
                (
                    "DELETE FROM vectors WHERE rowid <= (SELECT MAX(rowid) FROM vectors) - ?",
                    [(MAX_VECTORS,)],
                ),
            ]
        )

    # -- a draft's fragments read as text (citerec.latex.text) ------------------
    def texts(self, keys: Sequence[str]) -> dict[str, str]:
        return self._read("texts", "text", keys)

    def put_texts(self, items: Iterable[tuple[str, str]]) -> None:
        rows = list(items)
        if rows:
            self._write(
                [
                    ("INSERT OR REPLACE INTO texts (key, text) VALUES (?, ?)", rows),
                    ("DELETE FROM texts WHERE rowid <= (SELECT MAX(rowid) FROM texts) - ?", [(MAX_TEXTS,)]),
                ]
            )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
