"""Copying a library folder that other connections may hold open (module-scoped fixtures do)."""

from __future__ import annotations

import shutil
import sqlite3
from fnmatch import fnmatch
from pathlib import Path


def copy_library(source: Path, target: Path, *, skip: tuple[str, ...] = ()) -> Path:
    """Copy `source` to `target`; SQLite files go through the backup API, so a WAL in use is never half-copied.

    A plain copytree races SQLite: the `-wal`/`-shm` files come and go as connections open and close.
    `skip` holds glob patterns of files to leave out (e.g. a cache a test wants empty).
    """

    def skipped(name: str) -> bool:
        return any(fnmatch(name, pattern) for pattern in skip)

    def ignore(_folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n.endswith((".sqlite", "-wal", "-shm")) or skipped(n)]

    shutil.copytree(source, target, ignore=ignore)
    for database in source.rglob("*.sqlite"):
        if skipped(database.name):
            continue
        src, dst = sqlite3.connect(database), sqlite3.connect(target / database.relative_to(source))
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
    return target


def made_older(root: Path, script: str) -> None:
    """Turn the library file under `root` into an older one (`script` drops what the newer schema added)."""
    with sqlite3.connect(root / "library.sqlite") as conn:
        conn.executescript(script)


def schema_version(root: Path) -> int:
    with sqlite3.connect(root / "library.sqlite") as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]
