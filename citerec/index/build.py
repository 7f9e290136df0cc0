"""Building and incrementally updating a library's index.

Embedding is the expensive step, so an update re-uses the saved vector of
every paper whose content hash is unchanged and embeds only new or changed
papers; BM25 and a flat FAISS index are cheap and are rebuilt. Each build is
written to a new generation folder and published by writing the manifest
last (see `manifest`), then older generations are deleted.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from citerec.embed import DEFAULT_EMBEDDER, Embedder, embedder_name, load_embedder
from citerec.errors import LibraryError
from citerec.index.bm25 import Bm25Index
from citerec.index.cache import CACHE_FILE, RecallCache
from citerec.index.dense import FAISS_FILE, DenseIndex, choose_spec
from citerec.index.manifest import VECTORS_FILE, Manifest, read_manifest, write_manifest
from citerec.index.store import Index, check_embedder, check_format, load_generation, load_vectors
from citerec.index.text import bm25_document
from citerec.library import Library
from citerec.papers import normalise_key
from citerec.progress import ProgressCallback, no_progress
from citerec.storage import atomic_open

log = logging.getLogger(__name__)

GENERATION_PREFIX = "gen-"
EMBED_CHUNK = 4096  # papers fetched and embedded at a time: bounded memory, steady progress

# Another engine's embedding step (e.g. Ray): (library, embedder name, (key, content hash) of the papers to
# embed, progress) -> their unit vectors in that order. Everything else of a build stays the same.
RowEmbedder = Callable[[Library, str, Sequence[tuple[str, str]], ProgressCallback], np.ndarray]


@dataclass(frozen=True)
class IndexChanges:
    """How the library differs from what the index was built from."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass(frozen=True)
class UpdateReport:
    """What `update_index` did, for the CLI to print."""

    embedded: int
    reused: int
    removed: int
    size: int
    seconds: float
    embed_seconds: float
    rebuilt: bool  # every vector was computed afresh
    written: bool  # False when the index was already up to date


def diff_library(manifest: Manifest | None, library: Library | Sequence[tuple[str, str]]) -> IndexChanges:
    """Compare the library's (key, content hash) pairs with the manifest's (keys case-insensitively)."""
    hashes = library.content_hashes() if isinstance(library, Library) else library
    old = manifest.hashes() if manifest is not None else {}
    added, changed, unchanged = [], [], 0
    current = set()
    for key, content_hash in hashes:
        norm = normalise_key(key)
        current.add(norm)
        digest = old.get(norm)
        if digest is None:
            added.append(key)
        elif digest != content_hash:
            changed.append(key)
        else:
            unchanged += 1
    removed = [key for key, _ in (manifest.papers if manifest else ()) if normalise_key(key) not in current]
    return IndexChanges(tuple(added), tuple(changed), tuple(removed), unchanged)


def ensure_index(
    library: Library,
    *,
    embedder: str | Embedder | None = None,
    rebuild: bool = False,
    progress: ProgressCallback | None = None,
) -> Index:
    """The library's index, built or brought up to date first when needed."""
    return update_index(library, embedder=embedder, rebuild=rebuild, progress=progress)[0]


def _previous(library: Library, rebuild: bool) -> Manifest | None:
    """The current manifest when its vectors can be re-used, else None (and why, in the log)."""
    if rebuild:
        return None
    try:
        manifest = read_manifest(library.index_dir)
        if manifest is not None:
            check_format(manifest)
        return manifest
    except LibraryError as exc:
        log.warning("rebuilding the index: %s", exc)
        return None


def update_index(
    library: Library,
    *,
    embedder: str | Embedder | None = None,
    rebuild: bool = False,
    progress: ProgressCallback | None = None,
    embed_rows: RowEmbedder | None = None,
) -> tuple[Index, UpdateReport]:
    """Bring the index of `library` up to date; `rebuild` re-embeds everything (e.g. with another embedder).

    `embed_rows` hands the embedding of new papers to another engine (see
    `citerec.engine`); by default they are embedded here, in this process.

    The library is read inside one snapshot, a page at a time: papers that
    other processes add meanwhile go into the next update, and memory holds
    vectors and BM25 postings, never every paper at once.
    """
    with library.snapshot():
        return _update_index(
            library, embedder=embedder, rebuild=rebuild, progress=progress or no_progress, embed_rows=embed_rows
        )


def _update_index(
    library: Library,
    *,
    embedder: str | Embedder | None,
    rebuild: bool,
    progress: ProgressCallback,
    embed_rows: RowEmbedder | None = None,
) -> tuple[Index, UpdateReport]:
    started = time.perf_counter()
    version = library.version()
    instance = None if embedder is None or isinstance(embedder, str) else embedder
    manifest = _previous(library, rebuild)
    if instance is not None:
        name = instance.name
    elif embedder is not None:
        name = embedder_name(embedder)
    else:
        name = manifest.embedder if manifest is not None else DEFAULT_EMBEDDER
    if manifest is not None:
        check_embedder(manifest, name)
    cache = RecallCache(library.root / CACHE_FILE)
    if manifest is not None and version and manifest.library_version == version and _complete(library, manifest):
        # nothing was committed since this index was built: no need to compare a single paper
        index = Index(manifest, embedder=instance, cache=cache, index_dir=library.index_dir)
        index.repair = lambda: update_index(library, embedder=instance or name, rebuild=True, progress=progress)[0]
        size = len(manifest.papers)
        return index, UpdateReport(0, size, 0, size, time.perf_counter() - started, 0.0, False, False)

    hashes = library.content_hashes()
    if not hashes:
        raise LibraryError(f"library {library.root} is empty; import papers first (`citerec library import refs.bib`)")
    changes = diff_library(manifest, hashes)
    old_vectors: np.ndarray | None = None
    previous_dense: DenseIndex | None = None
    if manifest is not None:
        folder = library.index_dir / manifest.generation
        try:
            if not changes.stale:
                index = Index(manifest, *load_generation(library.index_dir, manifest), embedder=instance, cache=cache)
                report = UpdateReport(0, len(hashes), 0, len(hashes), time.perf_counter() - started, 0.0, False, False)
                return index, report
            old_vectors = load_vectors(folder, manifest)
            if manifest.dense.kind != "flat":  # lend its trained centroids to the new index
                previous_dense = DenseIndex.load(folder, manifest.dense, old_vectors, use_gpu=False)
        except (LibraryError, OSError, ValueError, EOFError, RuntimeError) as exc:
            log.warning("rebuilding the index: %s", exc)
            manifest, old_vectors, previous_dense = None, None, None
            changes = diff_library(None, hashes)

    fresh = {normalise_key(key) for key in (*changes.added, *changes.changed)}
    embedded: np.ndarray | None = None
    embed_started = time.perf_counter()  # the local path restarts the clock once its model is loaded
    if embed_rows is not None:  # another engine embeds; its vectors tell the dimension
        todo = [pair for pair in hashes if normalise_key(pair[0]) in fresh]
        embedded = embed_rows(library, name, todo, progress) if todo else None
        dimension = embedded.shape[1] if embedded is not None else manifest.dimension  # type: ignore[union-attr]
    else:
        if instance is None and (fresh or manifest is None):
            instance = load_embedder(name)
        dimension = instance.dimension if instance is not None else manifest.dimension  # type: ignore[union-attr]
    if manifest is not None and dimension != manifest.dimension:
        raise LibraryError(f"embedder {name} now gives {dimension}-d vectors, the index holds {manifest.dimension}-d")

    vectors = np.empty((len(hashes), dimension), dtype=np.float32)
    old_rows = {normalise_key(key): row for row, key in enumerate(manifest.keys)} if manifest else {}
    to_embed = []
    for row, (key, _) in enumerate(hashes):
        norm = normalise_key(key)
        if norm in fresh:
            to_embed.append(row)
        else:
            vectors[row] = old_vectors[old_rows[norm]]  # type: ignore[index]
    if embedded is not None:
        vectors[to_embed] = embedded
    elif to_embed:
        embed_started = time.perf_counter()
        assert instance is not None
        _embed_rows(library, instance, hashes, to_embed, vectors, progress)
    embed_seconds = time.perf_counter() - embed_started

    progress("indexing", 0, 1)
    bm25 = Bm25Index.build(bm25_document(paper) for paper in library.iter_papers())
    if bm25.size != len(hashes):  # the snapshot guarantees this; a mismatch would misalign rows
        raise LibraryError(f"library {library.root} changed while it was indexed; run `citerec index build` again")
    spec = choose_spec(len(hashes), dimension=dimension)
    dense = DenseIndex.build(vectors, spec, previous=previous_dense)
    new_manifest = Manifest(
        embedder=name,
        dimension=dimension,
        dense=spec,
        generation=_new_generation(),
        papers=tuple(hashes),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        library_version=version,
    )
    old_vectors = previous_dense = None  # release the memory maps before the old generation is deleted
    save_index(library.index_dir, new_manifest, vectors, bm25, dense)
    progress("indexing", 1, 1)

    report = UpdateReport(
        embedded=len(to_embed),
        reused=len(hashes) - len(to_embed),
        removed=len(changes.removed),
        size=len(hashes),
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
        rebuilt=len(to_embed) == len(hashes),
        written=True,
    )
    log.info(
        "index of %s: %d embedded, %d re-used, %d removed", library.root, report.embedded, report.reused, report.removed
    )
    return Index(new_manifest, bm25, dense, embedder=instance, cache=cache), report


def _embed_rows(
    library: Library,
    embedder: Embedder,
    hashes: Sequence[tuple[str, str]],
    rows: Sequence[int],
    vectors: np.ndarray,
    progress: ProgressCallback,
) -> None:
    """Embed the papers at `rows` into `vectors`, a chunk at a time (papers are fetched by key per chunk)."""
    total = len(rows)
    for start in range(0, total, EMBED_CHUNK):
        chunk = rows[start : start + EMBED_CHUNK]
        papers = library.get_many(hashes[row][0] for row in chunk)
        texts = [embedder.format_document(papers[normalise_key(hashes[row][0])]) for row in chunk]

        def report(stage: str, done: int, _total: int, offset: int = start) -> None:
            progress(stage, offset + done, total)

        vectors[list(chunk)] = embedder.embed_documents(texts, progress=report)


def _complete(library: Library, manifest: Manifest) -> bool:
    """The generation's files are all there (a cheap check; their contents are checked when loaded)."""
    folder = library.index_dir / manifest.generation
    return all((folder / name).is_file() for name in (VECTORS_FILE, *Bm25Index.FILES)) and (
        manifest.dense.kind == "flat" or (folder / FAISS_FILE).is_file()
    )


def _new_generation() -> str:
    return f"{GENERATION_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"


def save_index(index_dir: Path, manifest: Manifest, vectors: np.ndarray, bm25: Bm25Index, dense: DenseIndex) -> None:
    """Write a generation's files, then the manifest that publishes it, then drop older generations."""
    folder = index_dir / manifest.generation
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_open(folder / VECTORS_FILE, "wb", encoding=None) as handle:
        np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    bm25.save(folder)
    dense.save(folder)
    write_manifest(index_dir, manifest)
    for other in index_dir.iterdir():
        if other.is_dir() and other.name.startswith(GENERATION_PREFIX) and other.name != manifest.generation:
            shutil.rmtree(other, ignore_errors=True)
