"""A Zotero library → `Paper`s, read from `zotero.sqlite` itself, keyed as Better BibTeX keys them.

Zotero keeps its database open (often with an exclusive lock), so the file and
its `-wal` journal are copied to a temporary folder and the copy is opened
read-only: Zotero's own files are only ever read as bytes, and a copy taken
while Zotero wrote is taken again. Only what a citation needs is read: regular
items (not notes, attachments, annotations, items in the trash or in feeds),
their fields, creators and tags. The keys are Better BibTeX's where there are
any (its `better-bibtex.sqlite` beside the database, else a `Citation Key:`
line in Extra), so that they match the user's exported `.bib`; an item without
one gets the key `citation_key` gives every other keyless paper, and keeps it
on the next import.

The userdata schema version is checked: layouts differ before Zotero 5, and a
newer version is refused until someone checks that the tables read here have
not changed (docs/zotero.md).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from citerec.errors import InputError
from citerec.ingest.keys import citation_key
from citerec.ingest.zotero_items import SOURCE_PREFIX, read_items, tables_of
from citerec.library import AddReport, Library
from citerec.papers import Paper, normalise_key

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = "~/Zotero"
DB_FILE = "zotero.sqlite"
BBT_FILE = "better-bibtex.sqlite"
# Zotero 5's step to userdata 80 merged creatorData into creators and gave libraries a type; 123 (Zotero 7) is
# the newest published schema read against this module. Between them, every table and column read here is the
# same. A newer version: check `read_items`' queries against its userdata.sql, then raise MAX_USERDATA.
MIN_USERDATA = 80
MAX_USERDATA = 123
_COPY_TRIES = 3

_REQUIRED = ("items", "itemData", "itemDataValues", "creators", "itemCreators", "creatorTypes", "deletedItems")


@dataclass(frozen=True)
class ZoteroRead:
    """What a Zotero database gave: its papers (key "" where Zotero has none yet) and what was left out."""

    path: Path  # the zotero.sqlite read (Zotero's own, not the copy)
    schema_version: int
    papers: tuple[Paper, ...]
    skipped: tuple[tuple[str, int], ...] = ()  # (what, how many): note, attachment, trashed item, feed item…
    keyed: int = 0  # papers whose key is Better BibTeX's (or pinned in Extra)
    better_bibtex: bool = False  # whether better-bibtex.sqlite was read
    warnings: tuple[str, ...] = ()  # what was read in part (better-bibtex.sqlite unreadable…), for the user


@dataclass(frozen=True)
class ZoteroImport:
    """A Zotero import: what was read, what the library did with it, and entries whose key changed."""

    read: ZoteroRead
    report: AddReport
    rekeyed: tuple[tuple[str, str], ...] = ()  # (old key, new key): the item's key changed in Zotero
    warnings: tuple[str, ...] = ()  # keys Zotero gives two items: the second got its own


@dataclass(frozen=True)
class _BetterBibTeX:
    """Better BibTeX's keys, by (libraryID, item key), or by itemID where its table has no item keys."""

    by_item_key: dict[tuple[int, str], str]
    by_item_id: dict[int, str]

    def key(self, item_id: int, library_id: int, item_key: str) -> str:
        if self.by_item_key:
            return self.by_item_key.get((library_id, item_key), "")
        return self.by_item_id.get(item_id, "")


def find_database(path: Path | str | None = None) -> Path:
    """`path` if it is a file, else the zotero.sqlite in that folder (default: Zotero's usual data folder)."""
    target = Path(path).expanduser() if path is not None else Path(DEFAULT_DATA_DIR).expanduser() / DB_FILE
    if target.is_dir():
        target = target / DB_FILE
    if not target.is_file():
        raise InputError("no such file (give Zotero's data folder or its zotero.sqlite)", file=str(target))
    return target


def read_zotero(path: Path | str | None = None, *, collection: str | None = None) -> ZoteroRead:
    """The regular items of a Zotero database (of one collection and its subcollections, if named)."""
    database = find_database(path)
    with tempfile.TemporaryDirectory(prefix="citerec-zotero-") as folder:
        bbt, warnings = _read_better_bibtex(database.parent / BBT_FILE, Path(folder) / "bbt")
        try:
            copy = _private_copy(database, Path(folder) / "zotero")
        except OSError as exc:
            raise InputError(f"cannot be copied ({exc.strerror or exc})", file=str(database)) from exc
        try:
            with closing(_connect(copy)) as conn:
                version = _check_schema(conn, database)
                papers, skipped = read_items(conn, database, collection, bbt.key if bbt else None)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"cannot be read as a Zotero database ({exc})", file=str(database)) from exc
    log.info("%s: %d papers read, %s skipped", database, len(papers), dict(skipped))
    keyed = sum(1 for paper in papers if paper.key)
    return ZoteroRead(database, version, tuple(papers), tuple(skipped), keyed, bbt is not None, tuple(warnings))


def import_zotero(library: Library, path: Path | str | None = None, *, collection: str | None = None) -> ZoteroImport:
    """Read a Zotero database into the library in one transaction, deduplicated like every import.

    Importing the same database again changes nothing; an item whose key changed
    in Zotero (pinned, or first given one by Better BibTeX) replaces its entry under
    the old key.
    """
    read = read_zotero(path, collection=collection)
    warnings: list[str] = []
    with library.transaction():
        papers, rekeyed = _keyed(library, read.papers, warnings)
        if rekeyed:
            library.remove([old for old, _ in rekeyed])
        report = library.add(papers)
    return ZoteroImport(read, report, tuple(rekeyed), tuple(warnings))


# -- the copy ------------------------------------------------------------------


def _stamp(path: Path) -> tuple[tuple[int, int] | None, ...]:
    """Size and modification time of the database and its journal: they change when Zotero writes."""
    stamps: list[tuple[int, int] | None] = []
    for part in (path, path.with_name(path.name + "-wal")):
        try:
            info = part.stat()
            stamps.append((info.st_size, info.st_mtime_ns))
        except FileNotFoundError:
            stamps.append(None)
    return tuple(stamps)


def _private_copy(original: Path, folder: Path) -> Path:
    """The database and its `-wal` copied into `folder`; copied again if Zotero wrote meanwhile."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / original.name
    wal = original.with_name(original.name + "-wal")
    for attempt in range(1, _COPY_TRIES + 1):
        before = _stamp(original)
        shutil.copyfile(original, copy)
        copy.with_name(copy.name + "-wal").unlink(missing_ok=True)
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        if _stamp(original) == before:
            break
        log.info("%s changed while it was copied (try %d of %d)", original, attempt, _COPY_TRIES)
    return copy


def _connect(copy: Path) -> sqlite3.Connection:
    return sqlite3.connect(copy.resolve().as_uri() + "?mode=ro", uri=True)


def _check_schema(conn: sqlite3.Connection, path: Path) -> int:
    """The userdata schema version, when it is one whose tables this module reads; else a one-line error."""
    tables = tables_of(conn)
    row = (
        conn.execute("SELECT version FROM version WHERE schema = 'userdata'").fetchone()
        if "version" in tables
        else None
    )
    if row is None:
        raise InputError("not a Zotero database (it has no userdata schema version)", file=str(path))
    try:
        version = int(row[0])
    except (TypeError, ValueError):
        raise InputError(f"not a Zotero database (userdata schema version {row[0]!r})", file=str(path)) from None
    if not MIN_USERDATA <= version <= MAX_USERDATA:
        raise InputError(
            f"Zotero userdata schema version {version} is not one citerec reads ({MIN_USERDATA}–{MAX_USERDATA}); "
            "export a .bib with Better BibTeX and use `citerec library import` instead",
            file=str(path),
        )
    missing = [t for t in _REQUIRED if t not in tables]
    missing += [a for a, b in (("fields", "fieldsCombined"), ("itemTypes", "itemTypesCombined")) if not {a, b} & tables]
    if missing:
        raise InputError(f"not a Zotero database (no table {', '.join(missing)})", file=str(path))
    return version


# -- Better BibTeX -------------------------------------------------------------


def _read_better_bibtex(path: Path, folder: Path) -> tuple[_BetterBibTeX | None, list[str]]:
    """Better BibTeX's `citationkey` table (BBT 6 and later), read from a copy; None, and why, without it."""
    if not path.is_file():
        return None, []
    try:
        with closing(_connect(_private_copy(path, folder))) as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(citationkey)")}
            if not {"itemID", "citationKey"} <= columns:
                return None, [f"{path}: no citationkey table (Better BibTeX before 6?); keys pinned in Extra only"]
            if {"itemKey", "libraryID"} <= columns:
                rows = conn.execute("SELECT libraryID, itemKey, citationKey FROM citationkey")
                return _BetterBibTeX({(int(lib), str(k)): str(c) for lib, k, c in rows if k and c}, {}), []
            rows = conn.execute("SELECT itemID, citationKey FROM citationkey")
            return _BetterBibTeX({}, {int(i): str(c) for i, c in rows if c}), []
    except (sqlite3.DatabaseError, OSError, ValueError) as exc:
        return None, [f"{path}: not read ({exc}); keys pinned in Extra only"]


# -- keys ----------------------------------------------------------------------


def _previous_keys(library: Library) -> dict[str, str]:
    """The key each Zotero item has in the library, by its source (`zotero:<library>/<item key>`)."""
    where = f"json_extract(data, '$.source') LIKE '{SOURCE_PREFIX}%'"
    return {paper.source: paper.key for paper in library.iter_papers(where=where)}


def _keyed(library: Library, papers: Iterable[Paper], warnings: list[str]) -> tuple[list[Paper], list[tuple[str, str]]]:
    """Every paper with its key, and the (old, new) keys of items whose key changed since their last import.

    Better BibTeX's keys come first, so that no generated key takes one; a
    keyless item keeps the key its last import gave it, else gets a fresh one.
    A key that two items have stays the first's (`warnings` says so).
    """
    claimed: dict[str, str] = {}  # normalised key → the source of the item that has it
    pinned: list[Paper] = []
    for paper in papers:
        if paper.key and normalise_key(paper.key) in claimed:
            first = claimed[normalise_key(paper.key)]
            warnings.append(
                f"{paper.key}: the key of two Zotero items ({first}, {paper.source}); the second gets its own"
            )
            paper = dataclasses.replace(paper, key="")
        if paper.key:
            claimed[normalise_key(paper.key)] = paper.source
        pinned.append(paper)
    previous = _previous_keys(library)
    keyed: list[Paper] = []
    rekeyed: list[tuple[str, str]] = []
    for paper in pinned:
        before = previous.get(paper.source)
        key = paper.key
        if not key:
            if before is not None and normalise_key(before) not in claimed:
                key = before
            else:
                key = citation_key(paper, lambda k: normalise_key(k) in claimed or k in library)
            claimed[normalise_key(key)] = paper.source
        elif (
            before is not None and normalise_key(before) != normalise_key(key) and normalise_key(before) not in claimed
        ):
            rekeyed.append((before, key))
        keyed.append(dataclasses.replace(paper, key=key))
    return keyed, rekeyed
