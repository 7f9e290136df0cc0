"""A library's saved index, opened: BM25 and FAISS searches, query and paper vectors.

`Index` is a store. It answers searches (`bm25_lists`, `dense_lists`), embeds
queries (`query_vectors`, remembered in the recall cache), reads stored paper
vectors, and loads its files on first use. It holds no recall settings: how
passages are read, fused and fed back is `citerec.recall`, which takes an
index and a `RecallSpec`. The embedder is loaded on the first dense query, so
BM25-only use never loads torch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from citerec.embed import Embedder, embedder_name, load_embedder
from citerec.errors import LibraryError, ModelError
from citerec.index.bm25 import Bm25Index, load_array
from citerec.index.cache import CACHE_FILE, RecallCache, cache_key
from citerec.index.dense import DenseIndex, search_probes
from citerec.index.manifest import FORMAT_VERSION, VECTORS_FILE, Manifest, read_manifest
from citerec.index.terms import DocumentTerms
from citerec.index.text import TOKENIZER_VERSION
from citerec.library import Library

log = logging.getLogger(__name__)
Lists = list[tuple[np.ndarray, np.ndarray]]  # per query: (rows, scores) of one search, best first

REBUILD_HINT = "run `citerec index build --rebuild`"


def check_embedder(manifest: Manifest, requested: str) -> None:
    """Refuse to query vectors of one model with another model's query vectors."""
    if manifest.embedder != requested:
        raise LibraryError(
            f"index was built with {manifest.embedder}, not {requested}; "
            f"run `citerec index build --rebuild --embedder {requested}` to rebuild it with {requested}"
        )


def check_format(manifest: Manifest) -> None:
    if manifest.format_version != FORMAT_VERSION or manifest.tokenizer_version != TOKENIZER_VERSION:
        raise LibraryError(f"index format {manifest.format_version} is out of date; {REBUILD_HINT}")


class Index:
    """A library's saved BM25 + FAISS index, ready to answer searches; it holds no recall settings.

    The BM25 and FAISS structures load on first use, so a run whose passages are
    all in the recall cache never reads them.
    """

    def __init__(
        self,
        manifest: Manifest,
        bm25: Bm25Index | None = None,
        dense: DenseIndex | None = None,
        *,
        embedder: Embedder | None = None,
        cache: RecallCache | None = None,
        index_dir: Path | None = None,
    ) -> None:
        if (bm25 is None or dense is None) and index_dir is None:
            raise ValueError("an Index needs its BM25 and dense parts, or the folder to load them from")
        self.manifest = manifest
        self.keys: list[str] = manifest.keys
        self.embedder_name: str = manifest.embedder
        self.size: int = len(self.keys)
        self._bm25 = bm25
        self._dense = dense
        self._index_dir = index_dir
        self._load_lock = threading.Lock()
        self.cache = cache
        self._embedder = embedder
        # Set by `ensure_index`: rebuilds the index when its files turn out damaged on first use.
        self.repair: Callable[[], Index] | None = None
        self._doc_terms: DocumentTerms | None = None  # document-major BM25 weights, built on the first feedback pass
        self._rows: dict[str, int] | None = None

    @classmethod
    def open(cls, library: Library, *, embedder: str | Embedder | None = None) -> Index:
        """The saved index of `library` (its files load on first use); LibraryError when missing, outdated,
        built with another embedder, or (on first use) damaged."""
        manifest = read_manifest(library.index_dir)
        if manifest is None:
            raise LibraryError(f"no index in {library.index_dir}; run `citerec index build`")
        check_format(manifest)
        instance = None if embedder is None or isinstance(embedder, str) else embedder
        if embedder is not None:
            check_embedder(manifest, instance.name if instance is not None else embedder_name(embedder))
        cache = RecallCache(library.root / CACHE_FILE)
        return cls(manifest, embedder=instance, cache=cache, index_dir=library.index_dir)

    def _load(self) -> None:
        with self._load_lock:
            if self._bm25 is None or self._dense is None:
                assert self._index_dir is not None
                try:
                    self._bm25, self._dense = load_generation(self._index_dir, self.manifest)
                except LibraryError as exc:
                    if self.repair is None:
                        raise
                    log.warning("rebuilding the index: %s", exc)
                    fresh = self.repair()  # a damaged file found on first use: build anew, then answer
                    self.manifest, self.keys, self.size = fresh.manifest, fresh.keys, fresh.size
                    self._bm25, self._dense = fresh.bm25, fresh.dense

    @property
    def bm25(self) -> Bm25Index:
        if self._bm25 is None:
            self._load()
        return self._bm25  # type: ignore[return-value]

    @property
    def dense(self) -> DenseIndex:
        if self._dense is None:
            self._load()
        return self._dense  # type: ignore[return-value]

    @property
    def embedder(self) -> Embedder:
        """The query embedder, loaded on first use."""
        if self._embedder is None:
            self._embedder = load_embedder(self.embedder_name)
        if self._embedder.dimension != self.manifest.dimension:
            raise ModelError(
                f"embedder {self.embedder_name} gives {self._embedder.dimension}-d vectors but the index holds "
                f"{self.manifest.dimension}-d ones; {REBUILD_HINT}"
            )
        return self._embedder

    @property
    def nprobe(self) -> int:
        """How many IVF lists a dense search scans (0 for an exact index): part of every recall-cache key."""
        return search_probes(self.manifest.dense)

    def row(self, key: str) -> int:
        """The row of paper `key` in the BM25 and dense structures."""
        if self._rows is None:
            self._rows = {k: i for i, k in enumerate(self.keys)}
        return self._rows[key]

    def bm25_lists(self, queries: Sequence[str], depth: int) -> Lists:
        """Each query's BM25 hits (rows, scores), best first, at most `depth`; papers scoring 0 are left out."""
        return [self.bm25.top_k(q, depth) for q in queries]

    def dense_lists(self, vectors: np.ndarray, depth: int) -> Lists:
        """Each query vector's nearest papers (rows, inner products), best first, at most `depth`."""
        scores, rows = self.dense.search(vectors, depth)
        out = []
        for score_row, id_row in zip(scores, rows, strict=True):
            keep = id_row >= 0
            out.append((id_row[keep], score_row[keep]))
        return out

    def paper_vectors(self, keys: Sequence[str]) -> np.ndarray:
        """Stored vectors of papers; an IVF index gets its direct map on first use."""
        index = self.dense.cpu_index()
        ids = np.asarray([self.row(key) for key in keys], dtype=np.int64)
        try:
            return index.reconstruct_batch(ids)
        except RuntimeError:
            index.make_direct_map()
            return index.reconstruct_batch(ids)

    def document_terms(self) -> DocumentTerms:
        """The BM25 weights by paper (for feedback), built on first use."""
        bm25 = self.bm25  # loads outside the lock below (loading takes it too)
        with self._load_lock:
            if self._doc_terms is None:
                self._doc_terms = DocumentTerms(bm25)
        return self._doc_terms

    def query_vectors(self, queries: Sequence[str]) -> np.ndarray:
        """Embeddings of the passages; those embedded before (same embedder, same text) come from the cache."""
        dimension = self.manifest.dimension
        if self.cache is None:
            return self.embedder.embed_queries(list(queries))
        keys = [cache_key(self.embedder_name, q) for q in queries]
        found = self.cache.vectors(keys, dimension)
        missing = list(dict.fromkeys(i for i, key in enumerate(keys) if key not in found))
        if missing:
            fresh = self.embedder.embed_queries([queries[i] for i in missing])
            computed = {keys[i]: vector for i, vector in zip(missing, fresh, strict=True)}
            self.cache.put_vectors(computed.items())
            found.update(computed)
        return np.stack([found[key] for key in keys]).astype(np.float32)


def load_vectors(folder: Path, manifest: Manifest) -> np.ndarray:
    """The generation's paper vectors, checked against the manifest's row count and dimension."""
    vectors = load_array(folder / VECTORS_FILE)
    expected = (len(manifest.papers), manifest.dimension)
    if vectors.shape != expected:
        raise ValueError(f"{VECTORS_FILE} has shape {vectors.shape}, the manifest says {expected}")
    return vectors


def load_generation(index_dir: Path, manifest: Manifest) -> tuple[Bm25Index, DenseIndex]:
    """The BM25 and FAISS indexes of the manifest's generation; LibraryError when damaged."""
    folder = index_dir / manifest.generation
    try:
        bm25 = Bm25Index.load(folder)
        vectors = load_vectors(folder, manifest)
        dense = DenseIndex.load(folder, manifest.dense, vectors)
    except (OSError, ValueError, KeyError, EOFError, RuntimeError) as exc:  # EOFError: an empty .npy
        raise LibraryError(f"index in {index_dir} is incomplete or damaged ({exc}); {REBUILD_HINT}") from exc
    if bm25.size != len(manifest.papers) or dense.size != len(manifest.papers):
        raise LibraryError(f"index in {index_dir} does not match its manifest; {REBUILD_HINT}")
    return bm25, dense
