"""A SQLite score cache: a (model, instruction, query, document) pair is judged once.

Reranking is the slow stage and drafts are re-run after small edits, so most
pairs repeat. The database is in WAL mode (readers never block the writer),
and each batch of new scores is written in one transaction.
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

from citerec.progress import ProgressCallback
from citerec.rerank.base import BaseReranker, Reranker
from citerec.storage import select_by_keys

log = logging.getLogger(__name__)


def pair_key(model: str, instruction: str, query: str, document: str) -> str:
    payload = json.dumps([model, instruction, query, document], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ScoreCache:
    """key -> score in one SQLite file; safe to share between threads and processes.

    The cache only saves time: a file that is not a database (truncated, overwritten)
    is moved aside and started afresh, and a read or write that fails is logged and
    skipped, so a damaged cache never stops a run.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # locked, no permission: not damage
                raise
            aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
            log.warning("rerank score cache %s is damaged (%s): moved to %s, starting a new one", self.path, exc, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self.path.replace(aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, score REAL NOT NULL)")
            db.execute("SELECT key, score FROM scores LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        with self._lock:
            try:
                found.update(select_by_keys(self._db, "scores", "key, score", keys))
            except sqlite3.Error as exc:
                log.warning("rerank score cache %s unreadable (%s): scoring without it", self.path, exc)
                return {}
        return found

    def put_many(self, items: Iterable[tuple[str, float]]) -> None:
        rows = list(items)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO scores (key, score) VALUES (?, ?)", rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:  # a full disk, a damaged page: the scores are still returned
                log.warning("rerank score cache %s not written (%s)", self.path, exc)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedReranker(BaseReranker):
    """Wraps a reranker: looks every pair up, scores only the misses, stores them.

    `hits` and `misses` count pairs over the wrapper's life (the CLI reports them).
    """

    def __init__(self, inner: Reranker, path: Path) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.cache = ScoreCache(path)
        self.hits = 0
        self.misses = 0
        # Truncation changes scores, so the length budget is part of the model's identity.
        max_length = getattr(inner, "max_length", None)
        self._model_key = f"{inner.model_name}@{max_length}" if max_length else inner.model_name

    def _score_pairs(
        self, pairs: Sequence[tuple[str, str]], instruction: str, progress: ProgressCallback
    ) -> list[float]:
        keys = [pair_key(self._model_key, instruction, q, d) for q, d in pairs]
        known = self.cache.get_many(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        self.hits += len(pairs) - sum(1 for k in keys if k not in known)
        self.misses += sum(1 for k in keys if k not in known)
        if missing:
            first = {k: pair for k, pair in zip(keys, pairs, strict=True) if k not in known}
            new = self.inner.score_pairs([first[k] for k in missing], instruction=instruction, progress=progress)
            fresh = dict(zip(missing, new, strict=True))
            self.cache.put_many(fresh.items())
            known.update(fresh)
        return [known[k] for k in keys]
