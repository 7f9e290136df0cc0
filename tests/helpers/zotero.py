"""Fixture Zotero databases: `zotero.sqlite` laid out as Zotero's published userdata schema lays it out.

The tables and columns are those of Zotero 7's `userdata.sql` (schema 123),
with their keys, for what an import reads and what sits beside it (notes,
attachments, annotations, tags, collections, the trash, feeds); ids are this
fixture's own. `better_bibtex` writes Better BibTeX's `citationkey` table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

USERDATA = 123

_SCHEMA = """
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT, display INT DEFAULT 1);
CREATE TABLE itemTypesCombined (
    itemTypeID INT NOT NULL, typeName TEXT NOT NULL, display INT DEFAULT 1 NOT NULL, custom INT NOT NULL,
    PRIMARY KEY (itemTypeID));
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE fieldsCombined (
    fieldID INT NOT NULL, fieldName TEXT NOT NULL, label TEXT, fieldFormatID INT, custom INT NOT NULL,
    PRIMARY KEY (fieldID));
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE itemTypeCreatorTypes (
    itemTypeID INT, creatorTypeID INT, primaryField INT, PRIMARY KEY (itemTypeID, creatorTypeID));
CREATE TABLE version (schema TEXT PRIMARY KEY, version INT NOT NULL);
CREATE TABLE settings (setting TEXT, key TEXT, value, PRIMARY KEY (setting, key));
CREATE TABLE libraries (
    libraryID INTEGER PRIMARY KEY, type TEXT NOT NULL, editable INT NOT NULL, filesEditable INT NOT NULL,
    version INT NOT NULL DEFAULT 0, storageVersion INT NOT NULL DEFAULT 0, lastSync INT NOT NULL DEFAULT 0,
    archived INT NOT NULL DEFAULT 0);
CREATE TABLE items (
    itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
    dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL, key TEXT NOT NULL,
    version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key));
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID));
CREATE TABLE itemNotes (itemID INTEGER PRIMARY KEY, parentItemID INT, note TEXT, title TEXT);
CREATE TABLE itemAttachments (
    itemID INTEGER PRIMARY KEY, parentItemID INT, linkMode INT, contentType TEXT, charsetID INT, path TEXT,
    syncState INT DEFAULT 0, storageModTime INT, storageHash TEXT, lastProcessedModificationTime INT);
CREATE TABLE itemAnnotations (
    itemID INTEGER PRIMARY KEY, parentItemID INT NOT NULL, type INTEGER NOT NULL, authorName TEXT, text TEXT,
    comment TEXT, color TEXT, pageLabel TEXT, sortIndex TEXT NOT NULL, position TEXT NOT NULL,
    isExternal INT NOT NULL);
CREATE TABLE tags (tagID INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE itemTags (itemID INT NOT NULL, tagID INT NOT NULL, type INT NOT NULL, PRIMARY KEY (itemID, tagID));
CREATE TABLE creators (
    creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
    UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (
    itemID INT NOT NULL, creatorID INT NOT NULL, creatorTypeID INT NOT NULL DEFAULT 1,
    orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (itemID, creatorID, creatorTypeID, orderIndex),
    UNIQUE (itemID, orderIndex));
CREATE TABLE collections (
    collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL, parentCollectionID INT DEFAULT NULL,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL, key TEXT NOT NULL,
    version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key));
CREATE TABLE collectionItems (
    collectionID INT NOT NULL, itemID INT NOT NULL, orderIndex INT NOT NULL DEFAULT 0,
    PRIMARY KEY (collectionID, itemID));
CREATE TABLE deletedCollections (collectionID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
CREATE TABLE feeds (libraryID INTEGER PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL UNIQUE);
"""

ITEM_TYPES = (
    "annotation",
    "attachment",
    "book",
    "bookSection",
    "conferencePaper",
    "journalArticle",
    "note",
    "preprint",
    "report",
    "thesis",
    "webpage",
)
FIELDS = (
    "title",
    "abstractNote",
    "date",
    "publicationTitle",
    "proceedingsTitle",
    "bookTitle",
    "publisher",
    "volume",
    "issue",
    "pages",
    "DOI",
    "url",
    "extra",
    "archiveID",
    "repository",
    "thesisType",
    "university",
    "institution",
)
CREATOR_TYPES = ("author", "contributor", "editor", "seriesEditor", "translator", "reviewedAuthor")


@dataclass(frozen=True)
class Creator:
    first: str
    last: str
    role: str = "author"
    single_field: bool = False  # Zotero's fieldMode 1: the whole name in lastName (an institution)


@dataclass(frozen=True)
class Item:
    key: str  # Zotero's eight-character item key
    type: str
    fields: dict[str, str] = field(default_factory=dict)
    creators: Sequence[Creator] = ()
    tags: Sequence[str] = ()
    collections: Sequence[str] = ()
    parent: str = ""  # the item key of a note's, attachment's or annotation's parent
    in_trash: bool = False
    library_id: int = 1


def build_zotero(
    folder: Path,
    items: Iterable[Item],
    *,
    userdata: int = USERDATA,
    collections: dict[str, str | None] | None = None,  # name → parent name
    feed_library: bool = False,
) -> Path:
    """`folder/zotero.sqlite` holding `items` (inserted in order); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zotero.sqlite"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(_SCHEMA)
        conn.executemany("INSERT INTO version VALUES (?, ?)", [("userdata", userdata), ("system", 32)])
        conn.execute("INSERT INTO settings VALUES ('account', 'localUserKey', 'AbCdEfGh')")
        conn.execute("INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (1, 'user', 1, 1)")
        if feed_library:
            conn.execute("INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (2, 'feed', 0, 0)")
            conn.execute("INSERT INTO feeds VALUES (2, 'arXiv cs.CL', 'https://rss.arxiv.org/rss/cs.CL')")
        for number, name in enumerate(ITEM_TYPES, start=1):
            conn.execute("INSERT INTO itemTypes VALUES (?, ?, NULL, 1)", (number, name))
            conn.execute("INSERT INTO itemTypesCombined VALUES (?, ?, 1, 0)", (number, name))
        for number, name in enumerate(FIELDS, start=1):
            conn.execute("INSERT INTO fields VALUES (?, ?, NULL)", (number, name))
            conn.execute("INSERT INTO fieldsCombined VALUES (?, ?, NULL, NULL, 0)", (number, name))
        for number, name in enumerate(CREATOR_TYPES, start=1):
            conn.execute("INSERT INTO creatorTypes VALUES (?, ?)", (number, name))
        for type_id in range(1, len(ITEM_TYPES) + 1):
            conn.execute("INSERT INTO itemTypeCreatorTypes VALUES (?, 1, 1)", (type_id,))
        collection_ids = _collections(conn, collections or {})
        ids: dict[str, int] = {}
        for item in items:
            ids[item.key] = _insert(conn, item, ids, collection_ids)
        conn.commit()
    finally:
        conn.close()
    return path


def _collections(conn: sqlite3.Connection, collections: dict[str, str | None]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for number, (name, parent) in enumerate(collections.items(), start=1):
        conn.execute(
            "INSERT INTO collections (collectionID, collectionName, parentCollectionID, libraryID, key) "
            "VALUES (?, ?, ?, 1, ?)",
            (number, name, ids.get(parent) if parent else None, f"COLL{number:04d}"),
        )
        ids[name] = number
    return ids


def _value_id(conn: sqlite3.Connection, value: str) -> int:
    conn.execute("INSERT OR IGNORE INTO itemDataValues (value) VALUES (?)", (value,))
    return conn.execute("SELECT valueID FROM itemDataValues WHERE value = ?", (value,)).fetchone()[0]


def _insert(conn: sqlite3.Connection, item: Item, ids: dict[str, int], collection_ids: dict[str, int]) -> int:
    type_id = ITEM_TYPES.index(item.type) + 1
    cursor = conn.execute(
        "INSERT INTO items (itemTypeID, libraryID, key) VALUES (?, ?, ?)", (type_id, item.library_id, item.key)
    )
    item_id = int(cursor.lastrowid or 0)
    for name, value in item.fields.items():
        conn.execute("INSERT INTO itemData VALUES (?, ?, ?)", (item_id, FIELDS.index(name) + 1, _value_id(conn, value)))
    # creators are inserted last first: the order that counts is orderIndex, not the rows'
    for order, creator in reversed(list(enumerate(item.creators))):
        mode = 1 if creator.single_field else 0
        conn.execute(
            "INSERT OR IGNORE INTO creators (firstName, lastName, fieldMode) VALUES (?, ?, ?)",
            ("" if creator.single_field else creator.first, creator.last, mode),
        )
        (creator_id,) = conn.execute(
            "SELECT creatorID FROM creators WHERE firstName = ? AND lastName = ? AND fieldMode = ?",
            ("" if creator.single_field else creator.first, creator.last, mode),
        ).fetchone()
        role = CREATOR_TYPES.index(creator.role) + 1
        conn.execute("INSERT INTO itemCreators VALUES (?, ?, ?, ?)", (item_id, creator_id, role, order))
    for tag in item.tags:
        conn.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", (tag,))
        (tag_id,) = conn.execute("SELECT tagID FROM tags WHERE name = ?", (tag,)).fetchone()
        conn.execute("INSERT INTO itemTags VALUES (?, ?, 0)", (item_id, tag_id))
    for name in item.collections:
        conn.execute(
            "INSERT INTO collectionItems (collectionID, itemID) VALUES (?, ?)", (collection_ids[name], item_id)
        )
    parent = ids.get(item.parent)
    if item.type == "note":
        conn.execute("INSERT INTO itemNotes VALUES (?, ?, ?, ?)", (item_id, parent, "<p>read later</p>", "read later"))
    elif item.type == "attachment":
        conn.execute(
            "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) VALUES (?, ?, 0, ?, ?)",
            (item_id, parent, "application/pdf", "storage:paper.pdf"),
        )
    elif item.type == "annotation":
        conn.execute(
            "INSERT INTO itemAnnotations (itemID, parentItemID, type, text, sortIndex, position, isExternal) "
            "VALUES (?, ?, 1, 'a highlight', '00000|000000|00000', '{}', 0)",
            (item_id, parent),
        )
    if item.in_trash:
        conn.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (item_id,))
    return item_id


def better_bibtex(folder: Path, keys: dict[str, str], *, library_id: int = 1) -> Path:
    """`folder/better-bibtex.sqlite` with Better BibTeX's `citationkey` table: Zotero item key → citation key."""
    path = folder / "better-bibtex.sqlite"
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "CREATE TABLE citationkey (itemID NOT NULL PRIMARY KEY, itemKey NOT NULL, libraryID NOT NULL, "
            "citationKey NOT NULL, pinned CHECK (pinned in (0, 1)), lastPinned)"
        )
        zotero = sqlite3.connect(folder / "zotero.sqlite")
        try:
            item_ids = dict(zotero.execute("SELECT key, itemID FROM items"))
        finally:
            zotero.close()
        for item_key, citation_key in keys.items():
            conn.execute(
                "INSERT INTO citationkey VALUES (?, ?, ?, ?, 0, NULL)",
                (item_ids[item_key], item_key, library_id, citation_key),
            )
        conn.commit()
    finally:
        conn.close()
    return path
