"""Atomic file writes: write beside the target, fsync, then rename into place.

Every file citerec writes into a library goes through here, so a run killed
mid-write leaves the previous version intact. A file's SHA-256 (`file_sha256`)
is here too: cached exports and shipped models are checked by it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file next to `path`; rename it over `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb", encoding=None) as handle:
        handle.write(data)


SQL_KEYS_PER_SELECT = 500  # below SQLite's bound-parameter limit


def select_by_keys(db: Any, table: str, columns: str, keys: Sequence[str], key_column: str = "key") -> Iterator[tuple]:
    """Rows of `table` (the given `columns`) whose `key_column` is in `keys`, a bounded chunk of keys per SELECT."""
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), SQL_KEYS_PER_SELECT):
        chunk = unique[start : start + SQL_KEYS_PER_SELECT]
        marks = ",".join("?" * len(chunk))
        yield from db.execute(f"SELECT {columns} FROM {table} WHERE {key_column} IN ({marks})", chunk)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes on the file `path` (made if missing; POSIX).

    Elsewhere it is a no-op: callers publish by atomic rename, so files stay whole either way.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks: which model file this is, whatever it is called."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
