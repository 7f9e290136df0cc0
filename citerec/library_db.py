"""The SQLite file behind a `Library`: schema, connections, rows ⇄ `Paper`s, migration.

One row per paper, with the normalised key, DOI, arXiv id and title in indexed
columns so that deduplication is a look-up, not a scan, and the content hash
beside them so that an index update can tell what changed without decoding a
single paper. WAL mode lets any number of processes read while one writes;
writers queue on SQLite's lock (`BUSY_TIMEOUT_S`) instead of overwriting each
other, which is what the old `papers.jsonl` (rewritten whole) could not do.

The stdlib `sqlite3` is the only dependency; nothing here loads a model.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from citerec.errors import LibraryError
from citerec.papers import Paper, extract_arxiv_id, normalise_doi, normalise_key, normalise_title
from citerec.storage import file_lock

log = logging.getLogger(__name__)

DB_FILE = "library.sqlite"
LEGACY_FILE = "papers.jsonl"  # the store before SQLite: migrated on first open
MIGRATED_SUFFIX = ".migrated"
SCHEMA_VERSION = 4  # 2: `learned`; 3: `enriched`, `enrich_answers`; 4: `citing_contexts`, `citing_asked`
# (an older file gains the tables it lacks on open: they are all created IF NOT EXISTS)
BUSY_TIMEOUT_S = float(os.environ.get("CITEREC_BUSY_TIMEOUT", "600"))
MIN_TITLE_FOR_DEDUP = 12  # shorter normalised titles ("Introduction") are too common to identify a work

_SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    id INTEGER PRIMARY KEY,            -- insertion order, kept when a paper is updated
    key TEXT NOT NULL,
    norm_key TEXT NOT NULL UNIQUE,
    doi TEXT,
    arxiv_id TEXT,
    norm_title TEXT,
    content_hash TEXT NOT NULL,
    data TEXT NOT NULL                 -- Paper.to_dict() as JSON
);
CREATE INDEX IF NOT EXISTS papers_doi ON papers(doi) WHERE doi IS NOT NULL;
CREATE INDEX IF NOT EXISTS papers_arxiv ON papers(arxiv_id) WHERE arxiv_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS papers_title ON papers(norm_title) WHERE norm_title IS NOT NULL;
CREATE TABLE IF NOT EXISTS sources (    -- .bib files imported, to skip them while unchanged
    path TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    strings TEXT NOT NULL,             -- @string macros the file defines (later files need them)
    external TEXT NOT NULL,            -- macros it took from earlier files, with the values it saw
    entries INTEGER NOT NULL,
    problems TEXT NOT NULL             -- [line, key, message] of each problem, to report them again
);
-- `learned`: the past sentences (citerec.past_sentences); the name is kept so existing libraries open
CREATE TABLE IF NOT EXISTS learned (   -- citing sentences of the user's finished drafts (`library learn`)
    id INTEGER PRIMARY KEY,
    norm_key TEXT NOT NULL,            -- the paper's; its rows go when the paper does
    source TEXT NOT NULL,              -- the draft learned from (resolved path): re-learning it replaces its rows
    file TEXT NOT NULL,                -- the file of the draft the sentence is in
    line INTEGER NOT NULL,
    sentence TEXT NOT NULL             -- citations removed, as the reader gives it
);
CREATE INDEX IF NOT EXISTS learned_key ON learned(norm_key);
CREATE INDEX IF NOT EXISTS learned_source ON learned(source);
CREATE TABLE IF NOT EXISTS enriched (  -- fields `library enrich` filled, and where each came from
    norm_key TEXT NOT NULL,            -- the paper's; its rows go when the paper does
    field TEXT NOT NULL,               -- abstract, doi, arxiv_id, venue or year
    value TEXT NOT NULL,               -- JSON of the value filled: a revert clears the field only while it holds this
    source TEXT NOT NULL,              -- snapshot, arxiv, openalex, crossref or semanticscholar
    matched_by TEXT NOT NULL,          -- doi, arxiv or title
    record TEXT NOT NULL,              -- the record's id at the source
    filled_at TEXT NOT NULL,           -- ISO 8601, UTC
    PRIMARY KEY (norm_key, field)
);
CREATE INDEX IF NOT EXISTS enriched_source ON enriched(source);
CREATE TABLE IF NOT EXISTS enrich_answers (  -- what online sources answered, so a re-run asks nothing twice
    source TEXT NOT NULL,
    request TEXT NOT NULL,             -- doi:…, arxiv:… or title:…|surname|year
    answer TEXT NOT NULL,              -- JSON list of records (Paper dicts); [] when the source found nothing
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (source, request)
);
CREATE TABLE IF NOT EXISTS citing_contexts (  -- how other papers cite each paper (`library enrich --citing-contexts`)
    id INTEGER PRIMARY KEY,
    norm_key TEXT NOT NULL,            -- the cited paper's; its rows go when the paper does
    source TEXT NOT NULL,              -- semanticscholar
    citing_id TEXT NOT NULL,           -- the citing paper's id at the source ('' when it has none)
    citing_title TEXT NOT NULL,
    citing_year INTEGER,
    sentence TEXT NOT NULL,            -- the citing sentence, as the source gives it (whitespace collapsed)
    matched_by TEXT NOT NULL,          -- how the paper was found at the source: doi, arxiv or title
    record TEXT NOT NULL,              -- the paper's id at the source
    fetched_at TEXT NOT NULL           -- ISO 8601, UTC
);
CREATE INDEX IF NOT EXISTS citing_contexts_key ON citing_contexts(norm_key);
CREATE TABLE IF NOT EXISTS citing_asked (  -- each paper asked for its citing contexts, found or not: asked once
    norm_key TEXT NOT NULL,
    source TEXT NOT NULL,
    request TEXT NOT NULL,             -- doi:…, arxiv:… or title:…: a paper given an id since is asked again
    wanted INTEGER NOT NULL,           -- the most contexts asked for: a larger --max-contexts asks again
    kept INTEGER NOT NULL,             -- how many were kept
    status TEXT NOT NULL,              -- found, not found, weak or ambiguous
    asked_at TEXT NOT NULL,
    PRIMARY KEY (norm_key, source)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (name, value) VALUES ('id', lower(hex(randomblob(8))));
"""

PAPER_COLUMNS = "key, norm_key, doi, arxiv_id, norm_title, content_hash, data"


def dedup_identifiers(paper: Paper) -> tuple[str | None, str | None, str | None]:
    """(DOI, arXiv id, title) as deduplication compares them; None where missing, never matched."""
    title = normalise_title(paper.title)
    return (
        normalise_doi(paper.doi) or None,
        extract_arxiv_id(paper.arxiv_id) or None,
        title if len(title) >= MIN_TITLE_FOR_DEDUP else None,
    )


def paper_row(paper: Paper, identifiers: tuple[str | None, ...] | None = None) -> tuple[Any, ...]:
    """The column values of `paper`, in the order of PAPER_COLUMNS (`identifiers` when known already)."""
    return (
        paper.key,
        normalise_key(paper.key),
        *(identifiers or dedup_identifiers(paper)),
        paper.content_hash(),
        json.dumps(paper.to_dict(), ensure_ascii=False),
    )


def paper_from_json(data: str, where: str) -> Paper:
    try:
        return Paper.from_dict(json.loads(data))
    except (ValueError, TypeError) as exc:
        raise LibraryError(f"{where}: corrupt library entry ({exc})") from exc


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, schema in place."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        if not _is_set_up(conn):
            # Switching to WAL takes SQLite's exclusive lock without waiting on the busy
            # timeout, so processes opening a new library at once take turns here.
            with file_lock(path.with_name(f".{path.name}.setup.lock")):
                if not _is_set_up(conn):  # another process may have set it up while we waited
                    conn.execute("PRAGMA journal_mode=WAL")
                    _ensure_schema(conn, path)
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process never corrupts the file
    except sqlite3.DatabaseError as exc:
        raise LibraryError(f"{path}: not a usable citerec library ({exc})") from exc
    except OSError as exc:  # the setup lock could not be made (read-only folder)
        raise LibraryError(f"{path}: cannot set up the library ({exc.strerror})") from exc
    return conn


def _is_set_up(conn: sqlite3.Connection) -> bool:
    """True when the file is already in WAL mode with the current schema: then no lock is needed."""
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        return mode == "wal" and conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    except sqlite3.OperationalError:  # another process is creating the file right now
        return False


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise LibraryError(f"{path}: made by a newer citerec (schema {version}); upgrade citerec to open it")
    # One script, one transaction: idempotent, so two processes creating a library at once both succeed.
    conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;")


def migrate_legacy(root: Path) -> bool:
    """Turn `papers.jsonl` into `library.sqlite` once, atomically; True when this call migrated.

    The database is filled under a temporary name and renamed into place, so a
    crash leaves either the old file in use or the complete new one; the old
    file is kept as `papers.jsonl.migrated`. A lock file keeps two processes
    from migrating at once.
    """
    legacy, target = root / LEGACY_FILE, root / DB_FILE
    if not legacy.exists() or target.exists():
        return False
    with file_lock(root / ".migrate.lock"):
        if target.exists():  # another process migrated while we waited
            return False
        fd, tmp_name = tempfile.mkstemp(prefix=f".{DB_FILE}.", suffix=".tmp", dir=root)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                _ensure_schema(conn, tmp)
                conn.execute("BEGIN")
                conn.executemany(
                    f"INSERT INTO papers ({PAPER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (paper_row(paper) for paper in _read_legacy(legacy)),
                )
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                raise LibraryError(f"{legacy}: two entries share a key ({exc}); fix the file, then retry") from exc
            finally:
                conn.close()
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(legacy, legacy.with_name(LEGACY_FILE + MIGRATED_SUFFIX))
    log.info("migrated %s to %s", legacy, target)
    return True


def _read_legacy(path: Path) -> Iterable[Paper]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield paper_from_json(line, f"{path}:{number}")
