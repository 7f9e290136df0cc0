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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from citerec.embed import DEFAULT_EMBEDDER, Embedder, embedder_name, load_embedder
from citerec.errors import LibraryError
from citerec.index.bm25 import Bm25Index
from citerec.index.dense import DenseIndex, choose_spec
from citerec.index.manifest import VECTORS_FILE, Manifest, read_manifest, write_manifest
from citerec.index.recall import Index, check_embedder, check_format, load_generation, load_vectors
from citerec.index.text import bm25_document
from citerec.library import Library
from citerec.papers import Paper, normalise_key
from citerec.progress import ProgressCallback, no_progress
from citerec.storage import atomic_open

log = logging.getLogger(__name__)

GENERATION_PREFIX = "gen-"


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


def diff_library(manifest: Manifest | None, papers: list[Paper]) -> IndexChanges:
    """Compare the library's papers with the manifest's content hashes (keys case-insensitively)."""
    old = manifest.hashes() if manifest is not None else {}
    added, changed, unchanged = [], [], 0
    current = set()
    for paper in papers:
        norm = normalise_key(paper.key)
        current.add(norm)
        digest = old.get(norm)
        if digest is None:
            added.append(paper.key)
        elif digest != paper.content_hash():
            changed.append(paper.key)
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
) -> tuple[Index, UpdateReport]:
    """Bring the index of `library` up to date; `rebuild` re-embeds everything (e.g. with another embedder)."""
    started = time.perf_counter()
    progress = progress or no_progress
    papers = library.papers()
    if not papers:
        raise LibraryError(f"library {library.root} is empty; import papers first (`citerec library import refs.bib`)")
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

    changes = diff_library(manifest, papers)
    old_vectors: np.ndarray | None = None
    previous_dense: DenseIndex | None = None
    if manifest is not None:
        folder = library.index_dir / manifest.generation
        try:
            if not changes.stale:
                index = Index(manifest, *load_generation(library.index_dir, manifest), embedder=instance)
                report = UpdateReport(0, len(papers), 0, len(papers), time.perf_counter() - started, 0.0, False, False)
                return index, report
            old_vectors = load_vectors(folder, manifest)
            if manifest.dense.kind != "flat":  # lend its trained centroids to the new index
                previous_dense = DenseIndex.load(folder, manifest.dense, old_vectors, use_gpu=False)
        except (LibraryError, OSError, ValueError, RuntimeError) as exc:
            log.warning("rebuilding the index: %s", exc)
            manifest, old_vectors, previous_dense = None, None, None
            changes = diff_library(None, papers)

    old_rows = {normalise_key(key): row for row, key in enumerate(manifest.keys)} if manifest else {}
    fresh = set(changes.added) | set(changes.changed)
    to_embed = [i for i, paper in enumerate(papers) if paper.key in fresh]
    if instance is None and (to_embed or manifest is None):
        instance = load_embedder(name)
    dimension = instance.dimension if instance is not None else manifest.dimension  # type: ignore[union-attr]
    if manifest is not None and dimension != manifest.dimension:
        raise LibraryError(f"embedder {name} now gives {dimension}-d vectors, the index holds {manifest.dimension}-d")

    vectors = np.empty((len(papers), dimension), dtype=np.float32)
    for i, paper in enumerate(papers):
        if paper.key not in fresh:
            vectors[i] = old_vectors[old_rows[normalise_key(paper.key)]]  # type: ignore[index]
    embed_started = time.perf_counter()
    if to_embed:
        assert instance is not None
        texts = [instance.format_document(papers[i]) for i in to_embed]
        vectors[to_embed] = instance.embed_documents(texts, progress=progress)
    embed_seconds = time.perf_counter() - embed_started

    progress("indexing", 0, 1)
    bm25 = Bm25Index.build([bm25_document(p) for p in papers])
    spec = choose_spec(len(papers))
    dense = DenseIndex.build(vectors, spec, previous=previous_dense)
    new_manifest = Manifest(
        embedder=name,
        dimension=dimension,
        dense=spec,
        generation=_new_generation(),
        papers=tuple((p.key, p.content_hash()) for p in papers),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    old_vectors = None  # release the memory map before the old generation is deleted
    save_index(library.index_dir, new_manifest, vectors, bm25, dense)
    progress("indexing", 1, 1)

    report = UpdateReport(
        embedded=len(to_embed),
        reused=len(papers) - len(to_embed),
        removed=len(changes.removed),
        size=len(papers),
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
        rebuilt=len(to_embed) == len(papers),
        written=True,
    )
    log.info(
        "index of %s: %d embedded, %d re-used, %d removed", library.root, report.embedded, report.reused, report.removed
    )
    return Index(new_manifest, bm25, dense, embedder=instance), report


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
