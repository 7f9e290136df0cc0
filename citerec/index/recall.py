"""Opening a saved index and recalling candidate papers for passages.

`Index.recall` runs BM25 and dense search, each `depth` deep, and fuses the two
lists (by rank or by normalised score, see `fusion`). A passage is read at three
scales, each recalled on its own and then mixed: its own sentence (weighted
most, so two adjacent sentences keep their own suggestions), the sentence with
its neighbours, and a wider window. Passages of one draft may also share the
draft's topic (the mean of their vectors): each candidate's similarity to it is
added, which keeps suggestions on the draft's subject in a library that spans
several fields. With pseudo-relevance feedback a second pass runs an
RM3-expanded BM25 query and a Rocchio-moved dense query. The embedder is loaded
on the first dense query, so BM25-only use never loads torch.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from citerec.embed import Embedder, embedder_name, load_embedder
from citerec.errors import LibraryError, ModelError
from citerec.index.bm25 import Bm25Index, load_array, top_positive
from citerec.index.cache import CACHE_FILE, RecallCache, cache_key
from citerec.index.dense import DenseIndex, search_probes
from citerec.index.fusion import FUSIONS, WEIGHTINGS, normalise, reciprocal_rank_fusion, score_fusion
from citerec.index.manifest import FORMAT_VERSION, VECTORS_FILE, Manifest, read_manifest
from citerec.index.text import TOKENIZER_VERSION
from citerec.library import Library

if TYPE_CHECKING:
    from citerec.expand.prf import DocumentTerms

log = logging.getLogger(__name__)
Lists = list[tuple[np.ndarray, np.ndarray]] | None  # per query: (rows, scores) of one method, best first

METHODS = ("hybrid", "bm25", "dense")
RECALL_DEPTH = 100  # each list's length before fusion: a paper ranked 80th by one method can still surface
FUSION = "zscore"  # z-scored scores, convex 1:1 weights. Measured on the pooled eval papers and ACM-CR (README,
BM25_WEIGHT = 1.0  # Evaluation): it beats RRF k=30 with dense x2 (the old default, tuned on 4 eval papers) on
DENSE_WEIGHT = 1.0  # both, and RRF k=60 too; RRF stays available (fusion="rrf", rrf_k)
HYBRID_RRF_K = 30.0
SENTENCE_WEIGHT = 1.5  # the passage read at three scales, mixed with these weights: its own sentence,
WINDOW_WEIGHT = 1.0  # the sentence with its neighbours, and the wider window (twice the neighbours).
WIDE_WEIGHT = 1.0  # Measured on the eval papers and ACM-CR sentences read in their paragraphs (README)
TOPIC_WEIGHT = 0.0  # weight of a candidate's z-scored similarity to its draft's topic. Off: it helps a library
# spanning fields (ACM-CR, the pooled eval papers) but costs a paper's own library more (README, Evaluation)
TOPIC_MIN_PASSAGES = 3  # fewer passages do not tell a draft's topic from the passage itself
PRF_DOCS = 10  # feedback papers (RM3 / Rocchio)
PRF_TERMS = 10  # RM3 terms kept from the relevance model
RM3_WEIGHT = 0.5  # share of the relevance model in the expanded BM25 query
ROCCHIO_WEIGHT = 0.3  # how far the dense query moves towards the feedback papers

SEARCH_VERSION = 2  # part of every recall-cache key: bump when the same settings start to recall differently
REBUILD_HINT = "run `citerec index build --rebuild`"


@dataclass(frozen=True)
class Candidate:
    """A recalled paper: fused (or single-method) score and where each method ranked it."""

    key: str
    score: float
    bm25_rank: int | None  # 1-based; None when not in the BM25 list
    dense_rank: int | None
    bm25_score: float | None
    dense_score: float | None


@dataclass(frozen=True)
class FusionSettings:
    """How the lists are merged; the defaults were measured on the eval papers and ACM-CR (see the README).

    fusion: "rrf" (by rank, `rrf_k`), "minmax" or "zscore" (normalised scores, convex
    `bm25_weight`:`dense_weight`); weighting "sharpness" scales each list's weight per
    query by how far its leader stands out. `sentence_weight`, `window_weight` and
    `wide_weight` mix a passage's three readings (0 leaves one out); `topic_weight`
    is how much the draft's topic counts (0: not at all).
    """

    rrf_k: float = HYBRID_RRF_K
    bm25_weight: float = BM25_WEIGHT
    dense_weight: float = DENSE_WEIGHT
    depth: int = RECALL_DEPTH
    fusion: str = FUSION
    weighting: str = "fixed"
    sentence_weight: float = SENTENCE_WEIGHT
    window_weight: float = WINDOW_WEIGHT
    wide_weight: float = WIDE_WEIGHT
    topic_weight: float = TOPIC_WEIGHT
    prf_docs: int = PRF_DOCS
    prf_terms: int = PRF_TERMS
    rm3_weight: float = RM3_WEIGHT
    rocchio_weight: float = ROCCHIO_WEIGHT

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r}; choose one of {', '.join(FUSIONS)}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {self.weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
        for name in ("sentence_weight", "window_weight", "wide_weight", "topic_weight"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must not be negative")
        if self.sentence_weight + self.window_weight + self.wide_weight <= 0:
            raise ValueError("sentence_weight, window_weight and wide_weight must not all be 0")


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
    """A library's saved BM25 + FAISS index, ready to answer queries.

    The BM25 and FAISS structures load on first use (`Index.lazy`), so a run
    whose passages are all in the recall cache never reads them.
    """

    def __init__(
        self,
        manifest: Manifest,
        bm25: Bm25Index | None = None,
        dense: DenseIndex | None = None,
        *,
        embedder: Embedder | None = None,
        fusion: FusionSettings | None = None,
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
        self.fusion = fusion or FusionSettings()
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

    def recall(self, query: str, k: int = 50, method: str = "hybrid") -> list[Candidate]:
        """The `k` papers most likely to be cited by the passage `query`, best first."""
        return self.recall_many([query], k=k, method=method)[0]

    def recall_many(
        self,
        queries: Sequence[str],
        k: int = 50,
        method: str = "hybrid",
        *,
        sentences: Sequence[str] | None = None,
        wides: Sequence[str] | None = None,
        topics: Sequence[np.ndarray | None] | None = None,
        prf: bool = False,
        fusion: FusionSettings | None = None,
    ) -> list[list[Candidate]]:
        """`recall` for many passages; passages seen before come from the cache, the rest are batched.

        `queries` are the passages (a sentence with its neighbours); `sentences` and
        `wides`, when given, are each passage's own sentence and wider window: every
        distinct reading is recalled and they are mixed by the fusion settings' weights.
        `topics` are the passages' draft topics (`topic_vector`; None for none), used
        by hybrid recall. `prf` adds a pseudo-relevance-feedback pass (RM3 for BM25,
        Rocchio for dense). `fusion` replaces the index's own settings for this call
        (another reading plan, see `citerec.index.plans`).
        """
        if method not in METHODS:
            raise ValueError(f"unknown recall method {method!r}; choose one of {', '.join(METHODS)}")
        queries = list(queries)
        k = min(k, self.size)
        if k <= 0 or not queries:
            return [[] for _ in queries]
        fusion = fusion or self.fusion
        readings = self._readings(queries, sentences, wides, fusion)
        if method != "hybrid" or fusion.topic_weight <= 0 or topics is None:
            topics = [None] * len(queries)
        if all(len(r) == 1 for r in readings) and all(t is None for t in topics):
            return self._cached([r[0][0] for r in readings], k, method, prf, fusion)
        depth = max(k, fusion.depth)
        texts = list(dict.fromkeys(text for reading in readings for text, _ in reading))
        lists = dict(zip(texts, self._cached(texts, depth, method, prf, fusion), strict=True))
        results = []
        for reading, topic in zip(readings, topics, strict=True):
            if len(reading) == 1:
                candidates = lists[reading[0][0]]
            else:
                candidates = _mix([lists[text] for text, _ in reading], [weight for _, weight in reading])
            if topic is not None:
                candidates = self._with_topic(candidates, topic, fusion.topic_weight)
            results.append(candidates[:k])
        return results

    @staticmethod
    def _readings(
        queries: list[str], sentences: Sequence[str] | None, wides: Sequence[str] | None, fusion: FusionSettings
    ) -> list[list[tuple[str, float]]]:
        """Each passage's distinct readings (own sentence, window, wide window) with their weights."""
        own = sentences if sentences is not None else [""] * len(queries)
        wide = wides if wides is not None else [""] * len(queries)
        readings = []
        for sentence, window, wider in zip(own, queries, wide, strict=True):
            reading: dict[str, float] = {}
            for text, weight in ((sentence, fusion.sentence_weight), (window, fusion.window_weight)):
                if text and weight > 0:
                    reading.setdefault(text, weight)
            if wider and fusion.wide_weight > 0:
                reading.setdefault(wider, fusion.wide_weight)
            readings.append(list(reading.items()) or [(window, 1.0)])
        return readings

    def topic_vector(self, passages: Sequence[str]) -> np.ndarray | None:
        """A draft's topic: the unit mean of its passages' vectors; None for fewer than TOPIC_MIN_PASSAGES."""
        passages = [p for p in dict.fromkeys(passages) if p]
        if len(passages) < TOPIC_MIN_PASSAGES:
            return None
        mean = self.query_vectors(passages).astype(np.float64).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return (mean / norm).astype(np.float32) if norm > 0 else None

    def _with_topic(self, candidates: list[Candidate], topic: np.ndarray, weight: float) -> list[Candidate]:
        """Candidates re-scored: z-scored recall score + topic_weight × z-scored similarity to the topic."""
        if len(candidates) < 2:
            return candidates
        similarity = self._paper_vectors([self._row(c.key) for c in candidates]) @ topic
        scores = _zscores([c.score for c in candidates]) + weight * _zscores(similarity)
        order = np.argsort(-scores, kind="stable")
        return [dataclasses.replace(candidates[i], score=float(scores[i])) for i in order]

    def _cached(
        self, queries: list[str], k: int, method: str, prf: bool, fusion: FusionSettings
    ) -> list[list[Candidate]]:
        if self.cache is None:
            return self._recall(queries, k, method, prf, fusion)
        settings = dataclasses.asdict(fusion)
        search = {"version": SEARCH_VERSION, "nprobe": search_probes(self.manifest.dense)}
        keys = [cache_key(self.manifest.generation, method, k, settings, search, prf, q) for q in queries]
        found = self.cache.candidates(keys)
        missing = list(dict.fromkeys(i for i, key in enumerate(keys) if key not in found))
        if missing:
            fresh = self._recall([queries[i] for i in missing], k, method, prf, fusion)
            computed = {
                keys[i]: [dataclasses.asdict(c) for c in result] for i, result in zip(missing, fresh, strict=True)
            }
            self.cache.put_candidates(self.manifest.generation, computed.items())
            found.update(computed)
        return [[Candidate(**c) for c in found[key]] for key in keys]

    def _recall(
        self, queries: list[str], k: int, method: str, prf: bool, fusion: FusionSettings
    ) -> list[list[Candidate]]:
        depth = k if method != "hybrid" else max(k, fusion.depth)
        if prf:
            return self._recall_with_feedback(queries, k, depth, method, fusion)
        lexical = [self.bm25.top_k(q, depth) for q in queries] if method != "dense" else None
        semantic = self._dense_lists(self.query_vectors(queries), depth) if method != "bm25" else None
        return self._combine_all(lexical, semantic, len(queries), k, method, fusion)

    def _combine_all(
        self, lexical: Lists, semantic: Lists, n: int, k: int, method: str, fusion: FusionSettings
    ) -> list[list[Candidate]]:
        results = []
        for i in range(n):
            bm25_rows, bm25_scores = lexical[i] if lexical is not None else (np.zeros(0, np.int64), None)
            dense_rows, dense_scores = semantic[i] if semantic is not None else (np.zeros(0, np.int64), None)
            results.append(self._combine(bm25_rows, bm25_scores, dense_rows, dense_scores, k, method, fusion))
        return results

    # -- pseudo-relevance feedback ---------------------------------------
    def feedback(self, queries: Sequence[str], method: str = "hybrid") -> list[tuple[str, ...]]:
        """The BM25 stems RM3 adds to each passage (heaviest first): what `prf` expands a query with."""
        first = self._cached(list(queries), min(self.fusion.prf_docs, self.size), method, False, self.fusion)
        terms = self._document_terms()
        return [self._rm3(q, terms, candidates, self.fusion)[1] for q, candidates in zip(queries, first, strict=True)]

    def _recall_with_feedback(
        self, queries: list[str], k: int, depth: int, method: str, fusion: FusionSettings
    ) -> list[list[Candidate]]:
        from citerec.expand.prf import rocchio, weighted_scores

        first = self._cached(queries, min(fusion.prf_docs, self.size), method, False, fusion)
        lexical = semantic = None
        if method != "dense":
            terms = self._document_terms()
            lexical = []
            for query, candidates in zip(queries, first, strict=True):
                expanded, _ = self._rm3(query, terms, candidates, fusion)
                lexical.append(top_positive(weighted_scores(self.bm25, expanded), depth))
        if method != "bm25":
            vectors = self.query_vectors(queries)
            moved = [
                rocchio(vector, self._paper_vectors([self._row(c.key) for c in candidates]), fusion.rocchio_weight)
                for vector, candidates in zip(vectors, first, strict=True)
            ]
            semantic = self._dense_lists(np.stack(moved), depth)
        return self._combine_all(lexical, semantic, len(queries), k, method, fusion)

    def _rm3(
        self, query: str, terms: DocumentTerms, candidates: list[Candidate], fusion: FusionSettings
    ) -> tuple[dict[int, float], tuple[str, ...]]:
        from citerec.expand.prf import rm3_query

        rows = [self._row(c.key) for c in candidates]
        low = min((c.score for c in candidates), default=0.0)
        weights = [c.score - min(low, 0.0) for c in candidates]  # z-score fusion can give negative scores
        return rm3_query(query, terms, rows, weights, fusion.prf_terms, fusion.rm3_weight)

    def _document_terms(self) -> DocumentTerms:
        from citerec.expand.prf import DocumentTerms

        bm25 = self.bm25  # loads outside the lock below (loading takes it too)
        with self._load_lock:
            if self._doc_terms is None:
                self._doc_terms = DocumentTerms(bm25)
        return self._doc_terms

    def _row(self, key: str) -> int:
        if self._rows is None:
            self._rows = {k: i for i, k in enumerate(self.keys)}
        return self._rows[key]

    def _paper_vectors(self, rows: list[int]) -> np.ndarray:
        """Stored vectors of papers (for Rocchio); an IVF index gets its direct map on first use."""
        index = self.dense.cpu_index()
        ids = np.asarray(rows, dtype=np.int64)
        try:
            return index.reconstruct_batch(ids)
        except RuntimeError:
            index.make_direct_map()
            return index.reconstruct_batch(ids)

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

    def _dense_lists(self, vectors: np.ndarray, depth: int) -> list[tuple[np.ndarray, np.ndarray]]:
        scores, rows = self.dense.search(vectors, depth)
        out = []
        for score_row, id_row in zip(scores, rows, strict=True):
            keep = id_row >= 0
            out.append((id_row[keep], score_row[keep]))
        return out

    def _combine(
        self,
        bm25_rows: np.ndarray,
        bm25_scores: np.ndarray | None,
        dense_rows: np.ndarray,
        dense_scores: np.ndarray | None,
        k: int,
        method: str,
        fusion: FusionSettings,
    ) -> list[Candidate]:
        bm25_at = {int(row): (rank, float(bm25_scores[rank - 1])) for rank, row in enumerate(bm25_rows, 1)}
        dense_at = {int(row): (rank, float(dense_scores[rank - 1])) for rank, row in enumerate(dense_rows, 1)}
        if method == "bm25":
            ranked = [(row, score) for row, (_, score) in bm25_at.items()]
        elif method == "dense":
            ranked = [(row, score) for row, (_, score) in dense_at.items()]
        elif fusion.fusion == "rrf":
            ranked = reciprocal_rank_fusion(
                [list(bm25_at), list(dense_at)],
                k=fusion.rrf_k,
                weights=[fusion.bm25_weight, fusion.dense_weight],
            )
        else:
            ranked = score_fusion(
                [{row: score for row, (_, score) in at.items()} for at in (bm25_at, dense_at)],
                how=fusion.fusion,
                weights=[fusion.bm25_weight, fusion.dense_weight],
                weighting=fusion.weighting,
            )
        out = []
        for row, score in ranked[:k]:
            lexical, semantic = bm25_at.get(row), dense_at.get(row)
            out.append(
                Candidate(
                    key=self.keys[row],
                    score=float(score),
                    bm25_rank=lexical[0] if lexical else None,
                    dense_rank=semantic[0] if semantic else None,
                    bm25_score=lexical[1] if lexical else None,
                    dense_score=semantic[1] if semantic else None,
                )
            )
        return out


def _mix(lists: Sequence[list[Candidate]], weights: Sequence[float]) -> list[Candidate]:
    """Candidates of several readings of one passage, scores mixed by `weights`.

    Each list's scores are first divided by its top score, so RRF fractions and
    normalised scores mix alike; a paper missing from one list gets 0 there.
    """
    by_key: dict[str, Candidate] = {}
    mixed: dict[str, float] = {}
    for candidates, weight in zip(lists, weights, strict=True):
        top = max((c.score for c in candidates), default=0.0) or 1.0
        for c in candidates:
            by_key.setdefault(c.key, c)
            mixed[c.key] = mixed.get(c.key, 0.0) + weight * c.score / top
    order = sorted(mixed, key=lambda key: -mixed[key])
    return [dataclasses.replace(by_key[key], score=mixed[key]) for key in order]


def _zscores(values: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(normalise([float(v) for v in values], "zscore")[0], dtype=np.float64)


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
