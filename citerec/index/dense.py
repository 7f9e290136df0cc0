"""The semantic half of recall: FAISS inner-product search over unit vectors (= cosine).

Below `APPROX_THRESHOLD` vectors an exact flat index is both fast enough and
perfect; above it an IVF index (nlist ≈ 4·√n, rounded to a power of two so it
stays stable while a library grows) answers a query by scanning `nprobe` lists.
A flat index is rebuilt from the saved vectors on load (nothing to train);
an IVF index is saved, and its trained centroids are re-used on updates.
The search runs on a GPU when faiss-gpu is installed and one is present.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citerec.storage import atomic_open

log = logging.getLogger(__name__)

APPROX_THRESHOLD = 50_000
FAISS_FILE = "faiss.index"
_TRAIN_POINTS_PER_LIST = 64  # k-means sample size per list: enough for stable centroids, fast on 2 cores
_MIN_POINTS_PER_LIST = 39  # faiss' own minimum for training


@dataclass(frozen=True)
class DenseSpec:
    """Which FAISS index to use; recorded in the manifest."""

    kind: str  # "flat" (exact) or "ivf" (approximate)
    nlist: int = 0
    nprobe: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "nlist": self.nlist, "nprobe": self.nprobe}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DenseSpec:
        return cls(str(data["kind"]), int(data.get("nlist", 0)), int(data.get("nprobe", 0)))


def choose_spec(size: int, threshold: int | None = None) -> DenseSpec:
    """Flat below the threshold; IVF above, with nlist ≈ 4·√n and nprobe = nlist/16 (≥ 16)."""
    threshold = APPROX_THRESHOLD if threshold is None else threshold
    if size < threshold:
        return DenseSpec("flat")
    target = 4 * math.sqrt(size)
    nlist = 2 ** round(math.log2(max(target, 1)))
    nlist = max(1, min(nlist, size // _MIN_POINTS_PER_LIST))
    nprobe = min(nlist, max(16, nlist // 16))
    return DenseSpec("ivf", nlist, nprobe)


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


class DenseIndex:
    """A FAISS index whose row i is paper i of the manifest."""

    def __init__(self, index: Any, spec: DenseSpec, dimension: int, gpu: Any | None = None) -> None:
        self._index = index
        self._gpu = gpu
        self.spec = spec
        self.dimension = dimension

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
        elif spec.kind == "ivf":
            if previous is not None and previous.spec.nlist == spec.nlist and previous.dimension == dimension:
                index = faiss.clone_index(previous.cpu_index())
                index.reset()
                log.info("re-using the trained IVF centroids (%d lists)", spec.nlist)
            else:
                index = faiss.index_factory(dimension, f"IVF{spec.nlist},Flat", faiss.METRIC_INNER_PRODUCT)
            index.nprobe = spec.nprobe
        else:
            raise ValueError(f"unknown dense index kind {spec.kind!r}")
        gpu = _gpu_resources() if use_gpu else None
        if gpu is not None:
            index = faiss.index_cpu_to_gpu(gpu, 0, index)
        if not index.is_trained:
            rng = np.random.default_rng(0)
            sample_size = min(len(vectors), spec.nlist * _TRAIN_POINTS_PER_LIST)
            sample = vectors[np.sort(rng.choice(len(vectors), sample_size, replace=False))]
            index.train(sample)
        index.add(vectors)
        return cls(index, spec, dimension, gpu)

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
        scores, rows = self._index.search(queries, k)
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
        index.nprobe = spec.nprobe
        gpu = _gpu_resources() if use_gpu else None
        if gpu is not None:
            index = faiss.index_cpu_to_gpu(gpu, 0, index)
        return cls(index, spec, int(index.d), gpu)
