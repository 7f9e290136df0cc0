"""The SQLite file of a library folder, opened once per thread: reads, transactions, snapshots.

A server's pool threads read while another thread updates, so each thread has its
own connection, and its transactions and snapshots are its own, as SQLite means
them to be. `Library` adds the papers on top.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from citerec.errors import LibraryError
from citerec.library_db import DB_FILE, LEGACY_FILE, connect, migrate_legacy


class LibraryFile:
    """A library folder's `library.sqlite`: a connection per thread, created on the first write."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        # A connection per thread (a server's pool threads read while another thread updates):
        # each thread's transactions and snapshots are its own, as SQLite means them to be.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        if self.db_path.exists() or (self.root / LEGACY_FILE).exists():
            self._connection(create=False)

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    def _connection(self, create: bool) -> sqlite3.Connection | None:
        """This thread's connection; None when there is no library file yet and `create` is False."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.root.exists() and not self.root.is_dir():
                raise LibraryError(f"{self.root}: is a file, not a library folder")
            if self.root.is_dir():
                migrate_legacy(self.root)
            if not self.db_path.exists() and not create:
                return None
            self.root.mkdir(parents=True, exist_ok=True)
            conn = self._local.conn = connect(self.db_path)
            self._local.depth = 0
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        conn = self._connection(create=False)
        if conn is None:
            return []
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"{self.db_path}: {exc}") from exc

    def _write(self, sql: str, params: Iterable[object] = ()) -> sqlite3.Cursor:
        conn = self._connection(create=True)
        assert conn is not None and self._local.depth, "writes happen inside transaction()"
        return conn.execute(sql, tuple(params))

    def _write_many(self, sql: str, rows: Iterable[Iterable[object]]) -> None:
        conn = self._connection(create=True)
        assert conn is not None and self._local.depth, "writes happen inside transaction()"
        conn.executemany(sql, (tuple(row) for row in rows))

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        conn = self._connection(create=True)
        assert conn is not None
        if self._local.depth:  # nested: join the transaction already open in this thread
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        try:
            conn.execute(begin)
        except sqlite3.OperationalError as exc:
            raise LibraryError(f"{self.db_path}: cannot open a transaction ({exc})") from exc
        self._local.depth = 1
        try:
            yield
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # e.g. "database or disk is full": nothing of this transaction is kept
            _rollback(conn)
            raise LibraryError(f"{self.db_path}: could not write ({exc}); the library is unchanged") from exc
        except BaseException:
            _rollback(conn)
            raise
        finally:
            self._local.depth = 0

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Group several adds/removes into one atomic change; nested calls join the outer one.

        `BEGIN IMMEDIATE` takes SQLite's write lock up front, so the duplicate
        checks of this transaction see every paper another process committed
        before it, and no one can commit in between.
        """
        return self._transaction("BEGIN IMMEDIATE")

    def snapshot(self) -> contextlib.AbstractContextManager[None]:
        """Read consistently: every query inside sees the library as it was when the first one ran,
        whatever other processes commit meanwhile (an index build reads the library several times)."""
        return self._transaction("BEGIN")

    def close(self) -> None:
        """Close every connection this object opened (in any thread)."""
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction; SQLite may already have rolled it back itself (disk full, I/O error)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
