"""IVF-PQ for millions of vectors, checked at a few thousand with the thresholds lowered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citerec.index.dense import FAISS_FILE, PQ_THRESHOLD, DenseIndex, DenseSpec, choose_spec
from citerec.index.manifest import Manifest, read_manifest, write_manifest

DIMENSION = 64
SIZE = 4000


def unit_vectors(count: int, seed: int, centres: np.ndarray | None = None) -> np.ndarray:
    """Random unit vectors around a few random topics (as embeddings of a collection cluster by field)."""
    rng = np.random.default_rng(seed)
    if centres is None:
        vectors = rng.standard_normal((count, DIMENSION))
    else:
        vectors = centres[rng.integers(len(centres), size=count)] + 0.2 * rng.standard_normal((count, DIMENSION))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


@pytest.fixture(scope="module")
def collection() -> tuple[np.ndarray, np.ndarray]:
    centres = unit_vectors(40, seed=1)
    return unit_vectors(SIZE, seed=2, centres=centres), unit_vectors(50, seed=3, centres=centres)


def recall_at_10(index: DenseIndex, vectors: np.ndarray, queries: np.ndarray) -> float:
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    _, rows = index.search(queries, 10)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.tolist(), rows.tolist(), strict=True)]))


def test_choose_spec_compresses_past_the_size_or_memory_budget() -> None:
    assert choose_spec(100_000).kind == "ivf"
    big = choose_spec(PQ_THRESHOLD)
    assert (big.kind, big.pq_m, big.pq_bits) == ("ivfpq", 96, 8)
    assert choose_spec(600_000, dimension=1024).kind == "ivfpq"  # 2.4 GB of float32 > the 2 GB budget
    assert choose_spec(600_000, dimension=1024, memory_budget=4 * 1024**3).kind == "ivf"
    assert choose_spec(SIZE, threshold=500, pq_threshold=1000, dimension=DIMENSION).kind == "ivfpq"


def test_environment_lowers_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEREC_PQ_THRESHOLD", "1000")
    assert choose_spec(SIZE, threshold=500, dimension=DIMENSION).kind == "ivfpq"
    monkeypatch.setenv("CITEREC_PQ_THRESHOLD", "10000")
    assert choose_spec(SIZE, threshold=500, dimension=DIMENSION).kind == "ivf"


def test_ivfpq_recall_manifest_and_reload(collection, tmp_path: Path) -> None:
    vectors, queries = collection
    spec = choose_spec(len(vectors), threshold=500, pq_threshold=1000, dimension=DIMENSION)
    assert spec == DenseSpec("ivfpq", spec.nlist, spec.nprobe, DIMENSION // 4, spec.pq_bits) and spec.pq_bits >= 4
    index = DenseIndex.build(vectors, spec, use_gpu=False)
    assert index.size == SIZE
    assert recall_at_10(index, vectors, queries) >= 0.8

    # the scores of the results are exact inner products (re-scored against the vectors)
    scores, rows = index.search(queries[:5], 10)
    for q, (score_row, row_ids) in enumerate(zip(scores, rows, strict=True)):
        np.testing.assert_allclose(score_row, vectors[row_ids] @ queries[q], rtol=1e-5, atol=1e-5)
        assert list(score_row) == sorted(score_row, reverse=True)

    index.save(tmp_path)
    assert (tmp_path / FAISS_FILE).is_file()
    manifest = Manifest(embedder="test", dimension=DIMENSION, dense=spec, generation="g", papers=(("a", "h"),))
    write_manifest(tmp_path, manifest)
    recorded = read_manifest(tmp_path)
    assert recorded is not None and recorded.dense == spec and recorded.dense.kind == "ivfpq"

    np.save(tmp_path / "vectors.npy", vectors)
    on_disk = np.load(tmp_path / "vectors.npy", mmap_mode="r")
    reloaded = DenseIndex.load(tmp_path, recorded.dense, on_disk, use_gpu=False)
    assert reloaded.spec.kind == "ivfpq" and reloaded.size == SIZE
    np.testing.assert_array_equal(reloaded.search(queries, 10)[1], index.search(queries, 10)[1])

    # an update re-uses the trained code books and lists
    grown = np.concatenate([vectors, unit_vectors(100, seed=4)])
    rebuilt = DenseIndex.build(grown, spec, previous=reloaded, use_gpu=False)
    assert rebuilt.size == SIZE + 100
    assert recall_at_10(rebuilt, grown, queries) >= 0.8


def test_pq_compresses_more_than_ivf(collection) -> None:
    import faiss

    vectors, _ = collection
    spec = choose_spec(len(vectors), threshold=500, pq_threshold=1000, dimension=DIMENSION)
    pq_bytes = len(faiss.serialize_index(DenseIndex.build(vectors, spec, use_gpu=False).cpu_index()))
    ivf = DenseSpec("ivf", spec.nlist, spec.nprobe)
    ivf_bytes = len(faiss.serialize_index(DenseIndex.build(vectors, ivf, use_gpu=False).cpu_index()))
    assert pq_bytes * 4 < ivf_bytes
