"""The semantic half of recall: FAISS inner-product search over unit vectors (= cosine).

Below `APPROX_THRESHOLD` vectors an exact flat index is both fast enough and
perfect; above it an IVF index (nlist ≈ 4·√n, rounded to a power of two so it
stays stable while a library grows) answers a query by scanning `nprobe` lists.
From `PQ_THRESHOLD` vectors, or when the float32 vectors would not fit in
`MEMORY_BUDGET` (arXiv: 2.7M × 384-d = 4 GB), the lists hold product-quantised
codes instead (IVF-PQ, dimension/4 bytes a vector: ~16× smaller), and the
shortlist the codes give is re-scored exactly against the saved vectors,
which stay on disk (memory-mapped), so results keep exact cosine scores.
A flat index is rebuilt from the saved vectors on load (nothing to train);
IVF and IVF-PQ indexes are saved, and their training is re-used on updates.
A query scans a quarter of the IVF lists (`probes`): fewer cost recall on real text vectors.
The search runs on a GPU when faiss-gpu is installed and one is present.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citerec.storage import atomic_open

log = logging.getLogger(__name__)

APPROX_THRESHOLD = 50_000
PQ_THRESHOLD = 1_000_000  # vectors; CITEREC_PQ_THRESHOLD overrides it
MEMORY_BUDGET = 2 * 1024**3  # bytes of float32 vectors kept in RAM; CITEREC_DENSE_MEMORY_BUDGET overrides it
FAISS_FILE = "faiss.index"
REFINE_FACTOR = 4  # IVF-PQ: candidates re-scored exactly per result asked for
_TRAIN_POINTS_PER_LIST = 64  # k-means sample size per list: enough for stable centroids, fast on 2 cores
_MIN_POINTS_PER_LIST = 39  # faiss' own minimum for training
_DIMS_PER_CODE = 4  # IVF-PQ: one byte-sized sub-quantizer per 4 dimensions


@dataclass(frozen=True)
class DenseSpec:
    """Which FAISS index to use; recorded in the manifest."""

    kind: str  # "flat" (exact), "ivf" (approximate) or "ivfpq" (approximate, compressed)
    nlist: int = 0
    nprobe: int = 0
    pq_m: int = 0  # ivfpq: sub-quantizers (bytes per vector when pq_bits = 8)
    pq_bits: int = 0  # ivfpq: bits per sub-quantizer code

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "nlist": self.nlist, "nprobe": self.nprobe}
        if self.kind == "ivfpq":
            data |= {"pq_m": self.pq_m, "pq_bits": self.pq_bits}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DenseSpec:
        return cls(
            str(data["kind"]),
            int(data.get("nlist", 0)),
            int(data.get("nprobe", 0)),
            int(data.get("pq_m", 0)),
            int(data.get("pq_bits", 0)),
        )


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


def choose_spec(
    size: int,
    threshold: int | None = None,
    *,
    dimension: int = 384,
    pq_threshold: int | None = None,
    memory_budget: int | None = None,
) -> DenseSpec:
    """Flat below the threshold; IVF above, with nlist ≈ 4·√n and nprobe = `probes(nlist)`.

    IVF-PQ from `pq_threshold` vectors or when the float32 vectors exceed
    `memory_budget` bytes (defaults: `PQ_THRESHOLD`, `MEMORY_BUDGET`, or the
    environment's CITEREC_PQ_THRESHOLD / CITEREC_DENSE_MEMORY_BUDGET).
    """
    threshold = APPROX_THRESHOLD if threshold is None else threshold
    if size < threshold:
        return DenseSpec("flat")
    target = 4 * math.sqrt(size)
    nlist = 2 ** round(math.log2(max(target, 1)))
    nlist = max(1, min(nlist, size // _MIN_POINTS_PER_LIST))
    nprobe = probes(nlist)
    pq_threshold = _env_int("CITEREC_PQ_THRESHOLD", PQ_THRESHOLD) if pq_threshold is None else pq_threshold
    budget = _env_int("CITEREC_DENSE_MEMORY_BUDGET", MEMORY_BUDGET) if memory_budget is None else memory_budget
    # a code book of 2^bits centroids needs ~39 training points per centroid: small collections get fewer bits
    bits = min(8, int(math.log2(max(size // _MIN_POINTS_PER_LIST, 1))))
    compress = size >= pq_threshold or size * dimension * 4 > budget
    if compress and bits >= 4 and dimension % _DIMS_PER_CODE == 0:
        return DenseSpec("ivfpq", nlist, nprobe, dimension // _DIMS_PER_CODE, bits)
    return DenseSpec("ivf", nlist, nprobe)


def probes(nlist: int) -> int:
    """Lists an IVF query scans: a quarter of them (at least 16).

    On ACM-CR's real MiniLM vectors (105,935 papers, nlist 1024) scanning 1/16 of the
    lists found 97.0 % of the exact top 10 and cost hybrid Recall@10 0.007; a quarter
    finds 99.6 %, matches exact search, and still takes about 2 ms a query.
    """
    return min(nlist, max(16, nlist // 4))


def search_probes(spec: DenseSpec) -> int:
    """Lists a query of an index saved with `spec` scans: `probes`, or the spec's own count when larger
    (an index saved under an older, smaller default gets the new one)."""
    return max(spec.nprobe, probes(spec.nlist))


def _gpu_resources() -> Any | None:
    """faiss GPU resources when faiss-gpu is installed and a GPU is visible, else None."""
    import faiss

    if not hasattr(faiss, "StandardGpuResources"):
        return None
    try:
        if faiss.get_num_gpus() < 1:
            return None
        return faiss.StandardGpuResources()
    except Exception as exc:  # noqa: BLE001 - a broken GPU setup falls back to the CPU
        log.warning("faiss GPU unavailable (%s); searching on the CPU", exc)
        return None


def _on_gpu(index: Any, use_gpu: bool) -> tuple[Any, Any | None]:
    """The index moved to the GPU when one is usable, else as it was (some IVF-PQ code sizes stay on the CPU)."""
    import faiss

    gpu = _gpu_resources() if use_gpu else None
    if gpu is None:
        return index, None
    try:
        return faiss.index_cpu_to_gpu(gpu, 0, index), gpu
    except RuntimeError as exc:  # e.g. a PQ code size the GPU kernels do not support
        log.warning("FAISS index stays on the CPU: %s", str(exc).splitlines()[0] if str(exc) else exc)
        return index, None


class DenseIndex:
    """A FAISS index whose row i is paper i of the manifest."""

    def __init__(
        self, index: Any, spec: DenseSpec, dimension: int, gpu: Any | None = None, vectors: np.ndarray | None = None
    ) -> None:
        self._index = index
        self._gpu = gpu
        self.spec = spec
        self.dimension = dimension
        # ivfpq: the exact vectors (memory-mapped when large) that re-score the codes' shortlist
        self._vectors = vectors if spec.kind == "ivfpq" else None

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @classmethod
    def build(
        cls, vectors: np.ndarray, spec: DenseSpec, *, previous: DenseIndex | None = None, use_gpu: bool = True
    ) -> DenseIndex:
        """Index `vectors` (unit rows); an IVF `previous` with the same lists lends its trained centroids."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension = vectors.shape[1]
        if spec.kind == "flat":
            index = faiss.IndexFlatIP(dimension)
        elif spec.kind in ("ivf", "ivfpq"):
            if (
                previous is not None
                and dataclasses.replace(previous.spec, nprobe=spec.nprobe) == spec  # the probe count is no training
                and previous.dimension == dimension
            ):
                index = faiss.clone_index(previous.cpu_index())
                index.reset()
                log.info("re-using the trained %s index (%d lists)", spec.kind.upper(), spec.nlist)
            else:
                codes = "Flat" if spec.kind == "ivf" else f"PQ{spec.pq_m}x{spec.pq_bits}"
                index = faiss.index_factory(dimension, f"IVF{spec.nlist},{codes}", faiss.METRIC_INNER_PRODUCT)
            index.nprobe = spec.nprobe
        else:
            raise ValueError(f"unknown dense index kind {spec.kind!r}")
        index, gpu = _on_gpu(index, use_gpu)
        if not index.is_trained:
            rng = np.random.default_rng(0)
            wanted = spec.nlist * _TRAIN_POINTS_PER_LIST
            if spec.kind == "ivfpq":  # the code books need their own ~39 points per centroid
                wanted = max(wanted, _MIN_POINTS_PER_LIST * 2**spec.pq_bits)
            sample_size = min(len(vectors), wanted)
            sample = vectors[np.sort(rng.choice(len(vectors), sample_size, replace=False))]
            index.train(sample)
        index.add(vectors)
        return cls(index, spec, dimension, gpu, vectors)

    def cpu_index(self) -> Any:
        import faiss

        return faiss.index_gpu_to_cpu(self._index) if self._gpu is not None else self._index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of shape (len(queries), k'), best first; k' = min(k, size)."""
        k = min(k, self.size)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        if self._vectors is None:
            return self._index.search(queries, k)
        _, shortlist = self._index.search(queries, min(k * REFINE_FACTOR, self.size))
        return self._rescore(queries, shortlist, k)

    def _rescore(self, queries: np.ndarray, shortlist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact inner products of each query's shortlist, best `k` first (-1 rows pad short lists)."""
        assert self._vectors is not None
        wanted = np.unique(shortlist[shortlist >= 0])  # sorted: a memory map is read in order, once per row
        lookup = {int(row): i for i, row in enumerate(wanted)}
        exact = np.ascontiguousarray(self._vectors[wanted], dtype=np.float32)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        for q, candidates in enumerate(shortlist):
            candidates = candidates[candidates >= 0]
            if not len(candidates):
                continue
            values = exact[[lookup[int(c)] for c in candidates]] @ queries[q]
            order = np.argsort(-values, kind="stable")[:k]
            scores[q, : len(order)] = values[order]
            rows[q, : len(order)] = candidates[order]
        return scores, rows

    def save(self, folder: Path) -> None:
        """Write the FAISS file for indexes that need training; a flat index is rebuilt from the vectors."""
        if self.spec.kind == "flat":
            return
        import faiss

        data = faiss.serialize_index(self.cpu_index())
        with atomic_open(folder / FAISS_FILE, "wb", encoding=None) as handle:
            handle.write(memoryview(data))

    @classmethod
    def load(cls, folder: Path, spec: DenseSpec, vectors: np.ndarray, *, use_gpu: bool = True) -> DenseIndex:
        if spec.kind == "flat":
            return cls.build(vectors, spec, use_gpu=use_gpu)
        import faiss

        index = faiss.read_index(str(folder / FAISS_FILE))
        index.nprobe = search_probes(spec)
        index, gpu = _on_gpu(index, use_gpu)
        return cls(index, spec, int(index.d), gpu, vectors)
