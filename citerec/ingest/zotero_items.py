"""Zotero's tables → `Paper`s: which items are papers, and how their fields map to BibTeX's.

Kept apart from `citerec.ingest.zotero` (which copies the database, checks its
schema and gives the keys) so that each reads in one sitting. Every query here
reads tables and columns that Zotero 5 and later all have; an older or newer
layout is refused before these run.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from citerec.errors import InputError
from citerec.papers import Paper, extract_arxiv_id, normalise_doi

SOURCE_PREFIX = "zotero:"  # a paper's source: zotero:<libraryID>/<item key>, how a re-import finds it

_NOT_PAPERS = frozenset({"note", "attachment", "annotation"})  # child records, not works
ENTRY_TYPES = {
    "journalArticle": "article",
    "magazineArticle": "article",
    "newspaperArticle": "article",
    "conferencePaper": "inproceedings",
    "book": "book",
    "bookSection": "incollection",
    "encyclopediaArticle": "incollection",
    "dictionaryEntry": "incollection",
    "thesis": "phdthesis",
    "report": "techreport",
    "manuscript": "unpublished",
    "preprint": "misc",
    "webpage": "misc",
}
# where the venue is, by the first field an item has (each type stores its own field: proceedingsTitle…)
VENUE_FIELDS = (
    "publicationTitle",
    "proceedingsTitle",
    "bookTitle",
    "encyclopediaTitle",
    "dictionaryTitle",
    "websiteTitle",
    "blogTitle",
    "forumTitle",
    "university",
    "institution",
    "repository",
    "publisher",
)
# Zotero field → BibTeX field kept in `Paper.extra`, so that `library export` writes them back
EXTRA_FIELDS = {
    "volume": "volume",
    "issue": "number",
    "pages": "pages",
    "publisher": "publisher",
    "place": "address",
    "edition": "edition",
    "series": "series",
    "ISBN": "isbn",
    "ISSN": "issn",
}
_RICH_TEXT = re.compile(r"</?(?:i|b|sub|sup|sc|span)\b[^>]*>")
_EXTRA_LINE = re.compile(r"^\s*([A-Za-z][\w .-]*?)\s*:\s*(\S.*?)\s*$", re.MULTILINE)


def tables_of(conn: sqlite3.Connection) -> set[str]:
    """The database's tables and views: optional ones (tags, collections, feeds) are read only when there."""
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def _names(conn: sqlite3.Connection, tables: set[str], id_column: str, name_column: str, *names: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for table in names:
        if table in tables:
            found.update((int(i), str(n)) for i, n in conn.execute(f"SELECT {id_column}, {name_column} FROM {table}"))
    return found


def _ids(conn: sqlite3.Connection, sql: str) -> set[int]:
    try:
        return {int(row[0]) for row in conn.execute(sql)}
    except sqlite3.OperationalError:  # a table or column an older schema lacks
        return set()


def _collection_items(conn: sqlite3.Connection, tables: set[str], name: str, path: Path) -> set[int]:
    """The items of every collection called `name` (any case) and of their subcollections."""
    if "collections" not in tables or "collectionItems" not in tables:
        raise InputError(f"no collection named {name!r} (the database has no collections)", file=str(path))
    trashed = _ids(conn, "SELECT collectionID FROM deletedCollections") if "deletedCollections" in tables else set()
    sql = "SELECT collectionID, parentCollectionID, collectionName FROM collections"
    rows = [(cid, parent, str(cname)) for cid, parent, cname in conn.execute(sql) if cid not in trashed]
    wanted = {cid for cid, _, cname in rows if cname.casefold() == name.strip().casefold()}
    if not wanted:
        names = sorted({cname for _, _, cname in rows}, key=str.casefold)
        shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        raise InputError(f"no collection named {name!r} (there are: {shown or 'none'})", file=str(path))
    children: dict[int, list[int]] = defaultdict(list)
    for cid, parent, _ in rows:
        children[parent].append(cid)
    stack = list(wanted)
    while stack:
        for child in children[stack.pop()]:
            if child not in wanted:
                wanted.add(child)
                stack.append(child)
    return {
        int(item) for cid, item in conn.execute("SELECT collectionID, itemID FROM collectionItems") if cid in wanted
    }


def read_items(
    conn: sqlite3.Connection, path: Path, collection: str | None, pinned: Callable[[int, int, str], str] | None
) -> tuple[list[Paper], list[tuple[str, int]]]:
    """The papers of the regular items in scope, in Zotero's order, and how many items of each kind were left
    out. `pinned(itemID, libraryID, item key)` is Better BibTeX's key for an item, if it has one."""
    tables = tables_of(conn)
    types = _names(conn, tables, "itemTypeID", "typeName", "itemTypes", "itemTypesCombined")
    fields = _names(conn, tables, "fieldID", "fieldName", "fields", "fieldsCombined")
    creator_types = _names(conn, tables, "creatorTypeID", "creatorType", "creatorTypes")
    primary = {}
    if "itemTypeCreatorTypes" in tables:
        sql = "SELECT itemTypeID, creatorTypeID FROM itemTypeCreatorTypes WHERE primaryField = 1"
        primary = {int(t): creator_types.get(int(c), "") for t, c in conn.execute(sql)}
    in_scope = _collection_items(conn, tables, collection, path) if collection is not None else None
    trashed = _ids(conn, "SELECT itemID FROM deletedItems")
    feeds = _ids(conn, "SELECT libraryID FROM libraries WHERE type = 'feed'") if "libraries" in tables else set()

    skipped: Counter[str] = Counter()
    kept: dict[int, tuple[str, int, str]] = {}  # itemID → (type name, libraryID, item key), in Zotero's order
    for item_id, type_id, library_id, key in conn.execute(
        "SELECT itemID, itemTypeID, libraryID, key FROM items ORDER BY itemID"
    ):
        if in_scope is not None and item_id not in in_scope:
            continue
        type_name = types.get(type_id, "")
        if library_id in feeds:
            skipped["feed item"] += 1
        elif item_id in trashed:
            skipped["trashed item"] += 1
        elif type_name in _NOT_PAPERS:
            skipped[type_name] += 1
        else:
            kept[int(item_id)] = (type_name, int(library_id or 0), str(key))

    values: dict[int, dict[str, str]] = defaultdict(dict)
    sql = "SELECT itemID, fieldID, value FROM itemData JOIN itemDataValues USING (valueID)"
    for item_id, field_id, value in conn.execute(sql):
        if item_id in kept and value is not None:
            values[item_id][fields.get(field_id, "")] = str(value)
    creators: dict[int, list[tuple[str, str]]] = defaultdict(list)
    sql = (
        "SELECT itemID, creatorTypeID, firstName, lastName, fieldMode FROM itemCreators "
        "JOIN creators USING (creatorID) ORDER BY itemID, orderIndex"
    )
    for item_id, type_id, first, last, mode in conn.execute(sql):
        if item_id in kept and (name := _creator_name(first, last, mode)):
            creators[item_id].append((creator_types.get(type_id, ""), name))
    tags: dict[int, list[str]] = defaultdict(list)
    if {"itemTags", "tags"} <= tables:
        for item_id, tag in conn.execute("SELECT itemID, name FROM itemTags JOIN tags USING (tagID) ORDER BY name"):
            if item_id in kept and str(tag).strip():
                tags[item_id].append(str(tag).strip())
    type_ids = {name: type_id for type_id, name in types.items()}

    papers = []
    for item_id, (type_name, library_id, key) in kept.items():
        bbt_key = pinned(item_id, library_id, key) if pinned is not None else ""
        main = primary.get(type_ids.get(type_name, -1), "")
        paper = _paper(type_name, f"{SOURCE_PREFIX}{library_id}/{key}", values[item_id], creators[item_id], main)
        if paper is None:
            skipped["untitled item"] += 1
            continue
        papers.append(dataclasses.replace(paper, key=bbt_key or paper.key, keywords=tuple(tags[item_id])))
    return papers, sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))


# -- one item → a Paper ------------------------------------------------------------


def _creator_name(first: str | None, last: str | None, field_mode: int | None) -> str:
    """'First Last'; a one-field name (fieldMode 1: an institution) is the last name alone."""
    if field_mode == 1:
        return " ".join((last or "").split())
    return " ".join(f"{first or ''} {last or ''}".split())


def _extra_lines(text: str) -> dict[str, str]:
    """'Name: value' lines of Zotero's Extra field, by lower-case name (the first of each)."""
    found: dict[str, str] = {}
    for name, value in _EXTRA_LINE.findall(text):
        found.setdefault(" ".join(name.lower().split()), value)
    return found


def _year(date: str) -> int | None:
    """Zotero stores dates as 'YYYY-MM-DD as written' ('2019-05-00 2019-05'); else the first plausible year."""
    match = re.match(r"\s*(\d{4})-\d\d-\d\d", date)
    if match and match.group(1) != "0000":
        return int(match.group(1))
    found = re.search(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)", date)
    return int(found.group(1)) if found else None


def _arxiv_id(values: dict[str, str], lines: dict[str, str], doi: str) -> str:
    """From the archive id ('arXiv:1706.03762'), an 'arXiv: …' line of Extra, an arxiv.org URL or a 10.48550 DOI."""
    candidates = [
        values.get("archiveID", "") if values.get("archiveID", "").lower().startswith("arxiv") else "",
        lines.get("arxiv", ""),
        values.get("url", "") if "arxiv.org/" in values.get("url", "").lower() else "",
        doi.split("arxiv.", 1)[1] if doi.startswith("10.48550/arxiv.") else "",
    ]
    return next((found for text in candidates if text and (found := extract_arxiv_id(text))), "")


def _text(value: str) -> str:
    return " ".join(_RICH_TEXT.sub("", value).split())


def _paper(
    type_name: str, source: str, values: dict[str, str], creators: Iterable[tuple[str, str]], primary: str
) -> Paper | None:
    """The paper of one item (key: its pinned key, else ""); None without a title."""
    title = _text(values.get("title", ""))
    if not title:
        return None
    by_role: dict[str, list[str]] = defaultdict(list)
    for role, name in creators:
        by_role[role].append(name)
    authors = by_role.get("author") or by_role.get(primary) or by_role.get("editor") or []
    lines = _extra_lines(values.get("extra", ""))
    doi = normalise_doi(values.get("DOI", "") or lines.get("doi", ""))
    venue_field = next((f for f in VENUE_FIELDS if values.get(f, "").strip()), "")
    extra = {
        bib: " ".join(values[field].split())
        for field, bib in EXTRA_FIELDS.items()
        if values.get(field, "").strip() and field != venue_field
    }
    if by_role.get("editor") and authors is not by_role["editor"]:
        extra["editor"] = " and ".join(by_role["editor"])
    entry_type = ENTRY_TYPES.get(type_name, "misc")
    if type_name == "thesis" and "master" in values.get("thesisType", "").lower():
        entry_type = "mastersthesis"
    return Paper(
        key=(values.get("citationKey", "") or lines.get("citation key", "")).strip(),
        title=title,
        abstract=" ".join(values.get("abstractNote", "").split()),
        authors=tuple(authors),
        year=_year(values.get("date", "")),
        venue=_text(values.get(venue_field, "")) if venue_field else "",
        doi=doi,
        arxiv_id=_arxiv_id(values, lines, doi),
        entry_type=entry_type,
        url=values.get("url", "").strip(),
        source=source,
        extra=tuple(sorted(extra.items())),
    )
