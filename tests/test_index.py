"""The recall index: building, recall per method, fusion, manifest, incremental updates, safety."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from citerec.embed import DEFAULT_EMBEDDER, load_embedder
from citerec.errors import LibraryError
from citerec.index import Index, ensure_index, read_manifest, update_index
from citerec.index import bm25 as bm25_module
from citerec.index import dense as dense_module
from citerec.index.bm25 import Bm25Index
from citerec.index.dense import DenseIndex, DenseSpec, choose_spec
from citerec.index.text import clean_latex, surname, tokenize
from citerec.library import Library
from citerec.papers import Paper
from citerec.progress import ProgressCallback
from citerec.recall import FusionSettings, recall_text
from citerec.recall.fusion import reciprocal_rank_fusion
from tests.helpers.libraries import copy_library
from tests.helpers.recalling import recall_many

PAPERS = [
    Paper(
        "vaswani2017",
        "Attention Is All You Need",
        "The dominant sequence transduction models are based on recurrent or convolutional neural networks. "
        "We propose the Transformer, based solely on attention mechanisms, dispensing with recurrence entirely.",
        ("Vaswani, Ashish", "Shazeer, Noam"),
        2017,
    ),
    Paper(
        "he2016",
        "Deep Residual Learning for Image Recognition",
        "Deeper neural networks are more difficult to train. We present a residual learning framework with "
        "shortcut connections to ease the training of very deep networks for image classification.",
        ("He, Kaiming",),
        2016,
    ),
    Paper(
        "robertson2009",
        "The Probabilistic Relevance Framework: BM25 and Beyond",
        "The probabilistic relevance framework underlies the BM25 term-weighting ranking function used in "
        "document retrieval by search engines.",
        ("Robertson, Stephen", "Zaragoza, Hugo"),
        2009,
    ),
    Paper(
        "johnson2019",
        "Billion-scale similarity search with GPUs",
        "Similarity search finds nearest neighbours of vectors in large collections; we implement k-selection "
        "on graphics processors and build approximate indexes for billions of vectors.",
        ("Johnson, Jeff",),
        2019,
    ),
    Paper(
        "jumper2021",
        "Highly accurate protein structure prediction with AlphaFold",
        "Proteins are essential to life; we predict the three-dimensional structure of a protein from its amino "
        "acid sequence with atomic accuracy.",
        ("Jumper, John",),
        2021,
    ),
    Paper(
        "ho2020",
        "Denoising Diffusion Probabilistic Models",
        "We present high quality image synthesis results using diffusion probabilistic models, latent variable "
        "models trained to reverse a gradual noising process.",
        ("Ho, Jonathan",),
        2020,
    ),
    Paper(
        "mikolov2013",
        "Efficient Estimation of Word Representations in Vector Space",
        "We propose two novel architectures for computing continuous vector representations of words from very "
        "large data sets, the skip-gram and continuous bag-of-words models.",
        ("Mikolov, Tomas",),
        2013,
    ),
    Paper("kingma2015", "Adam: A Method for Stochastic Optimization", "", ("Kingma, Diederik",), 2015),
    Paper(
        "silver2016",
        "Mastering the game of Go with deep neural networks and tree search",
        "We train policy and value networks by reinforcement learning from self-play and combine them with "
        "Monte Carlo tree search to defeat a human champion at the board game Go.",
        ("Silver, David",),
        2016,
    ),
    Paper(
        "keeling2008",
        "Modeling Infectious Diseases in Humans and Animals",
        "Epidemic models of disease transmission: susceptible-infected-recovered compartments, the basic "
        "reproduction number and vaccination strategies.",
        ("Keeling, Matt",),
        2008,
    ),
]

QUERIES = {
    "vaswani2017": "we replace recurrent layers with a self-attention Transformer for machine translation",
    "he2016": "shortcut connections allow training residual networks hundreds of layers deep",
    "jumper2021": "predicting the 3D structure of proteins from amino acid sequences",
    "keeling2008": "SIR compartment models of epidemic disease transmission and vaccination",
}


class CountingEmbedder:
    """Wraps a real embedder and records every text it embeds."""

    def __init__(self, inner, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.dimension = inner.dimension
        self.documents: list[str] = []
        self.query_calls = 0
        self.queries_embedded: list[list[str]] = []

    def format_document(self, paper: Paper) -> str:
        return self.inner.format_document(paper)

    def embed_documents(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        self.documents.extend(texts)
        return self.inner.embed_documents(texts, progress)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.query_calls += 1
        self.queries_embedded.append(list(texts))
        return self.inner.embed_queries(texts)


def _same(a: list, b: list) -> bool:
    """Equal candidate lists up to float noise (batch composition changes the last bits of an embedding)."""
    assert [(c.key, c.bm25_rank, c.dense_rank) for c in a] == [(c.key, c.bm25_rank, c.dense_rank) for c in b]
    for x, y in zip(a, b, strict=True):
        assert x.score == pytest.approx(y.score, rel=1e-4) and x.dense_score == pytest.approx(y.dense_score, abs=1e-4)
    return True


@pytest.fixture(scope="module")
def minilm():
    return load_embedder(device="cpu")


@pytest.fixture(scope="module")
def built_library(tmp_path_factory: pytest.TempPathFactory, minilm) -> Path:
    root = tmp_path_factory.mktemp("lib") / ".citerec"
    library = Library(root)
    library.add(PAPERS)
    ensure_index(library, embedder=minilm)
    return root


@pytest.fixture
def library(built_library: Path, tmp_path: Path) -> Library:
    """A private copy of the indexed library, with an empty recall cache."""
    root = tmp_path / ".citerec"
    copy_library(built_library, root, skip=("recall-cache.sqlite*",))
    return Library(root)


@pytest.fixture(scope="module")
def index(built_library: Path, minilm) -> Index:
    return Index.open(Library(built_library), embedder=minilm)


@pytest.mark.parametrize("method", ["hybrid", "bm25", "dense"])
def test_each_method_recalls_the_relevant_paper_first(index: Index, method: str) -> None:
    for key, query in QUERIES.items():
        candidates = recall_text(index, query, k=5, method=method)
        assert candidates[0].key == key, (method, query, candidates)


def test_hybrid_candidates_carry_both_ranks_and_the_fused_score(index: Index) -> None:
    top = recall_text(index, QUERIES["he2016"], k=3)[0]
    assert top.key == "he2016" and top.bm25_rank == 1 and top.dense_rank == 1
    assert top.bm25_score > 0 and 0 < top.dense_score <= 1
    rrf = FusionSettings(fusion="rrf", rrf_k=30, dense_weight=2)
    top = recall_many(index, [QUERIES["he2016"]], k=3, fusion=rrf)[0][0]
    assert top.score == pytest.approx((1 + 2) / (30 + 1))


def test_single_method_scores_are_that_methods_scores(index: Index) -> None:
    bm25 = recall_text(index, QUERIES["jumper2021"], k=3, method="bm25")
    assert all(c.dense_rank is None and c.score == c.bm25_score for c in bm25)
    assert [c.bm25_rank for c in bm25] == list(range(1, len(bm25) + 1))
    dense = recall_text(index, QUERIES["jumper2021"], k=3, method="dense")
    assert all(c.bm25_rank is None and c.score == c.dense_score for c in dense)
    assert dense[0].score >= dense[1].score >= dense[2].score


def test_bm25_lists_only_papers_sharing_a_term(index: Index) -> None:
    assert recall_text(index, "zzzz qqqq", k=5, method="bm25") == []
    assert len(recall_text(index, "zzzz qqqq", k=5, method="dense")) == 5


def test_recall_many_embeds_all_queries_in_one_call(library: Library, minilm) -> None:
    counting = CountingEmbedder(minilm)
    index = Index.open(library, embedder=counting)
    index.cache = None
    queries = list(QUERIES.values())
    many = recall_many(index, queries, k=4)
    assert counting.query_calls == 1
    assert [c[0].key for c in many] == list(QUERIES)
    assert _same(many[1], recall_text(index, queries[1], k=4))


def test_recall_cache_answers_seen_passages_without_embedding(library: Library, minilm) -> None:
    counting = CountingEmbedder(minilm)
    first = recall_many(Index.open(library, embedder=counting), list(QUERIES.values()), k=4)
    assert counting.query_calls == 1
    again = Index.open(library, embedder=counting)  # a new run: the cache is on disk
    assert recall_many(again, list(QUERIES.values()), k=4) == first
    assert counting.query_calls == 1 and again._bm25 is None  # nothing embedded, the index never loaded
    edited = "Protein structure prediction from amino acid sequences"
    assert recall_text(again, edited, k=4, method="dense")[0].key == "jumper2021"
    assert counting.query_calls == 2 and counting.queries_embedded[-1] == [edited]  # only the new passage
    assert recall_text(again, edited, k=3, method="hybrid")  # another method: a new recall, the same cached vector
    assert counting.query_calls == 2


def test_index_after_a_library_change_does_not_reuse_stale_candidates(library: Library, minilm) -> None:
    query = "A note on two problems in connexion with graphs"
    before = recall_text(ensure_index(library, embedder=minilm), query, k=1)
    library.add([Paper("dijkstra1959", "A note on two problems in connexion with graphs", "Shortest paths.")])
    after = recall_text(ensure_index(library, embedder=minilm), query, k=1)
    assert before[0].key != "dijkstra1959" and after[0].key == "dijkstra1959"


def test_k_is_capped_by_the_library_size_and_methods_are_checked(index: Index) -> None:
    assert len(recall_text(index, "neural networks", k=500, method="dense")) == len(PAPERS)
    assert recall_many(index, [], k=5) == []
    with pytest.raises(ValueError, match="method must be one of hybrid, bm25, dense"):
        recall_text(index, "x", method="sparse")


def test_rrf_fusion_math() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)
    order = [item for item, _ in reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)]
    assert order == ["b", "a", "d", "c"]


def test_rrf_weights_and_ties() -> None:
    weighted = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=0, weights=[2.0, 1.0])
    assert weighted[0] == ("a", pytest.approx(2.0 + 0.5))
    assert weighted[1] == ("b", pytest.approx(1.0 + 1.0))
    tie = reciprocal_rank_fusion([["x"], ["y"]], k=60)
    assert [item for item, _ in tie] == ["x", "y"]  # equal scores and ranks: first seen first
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


def test_manifest_records_the_build(library: Library) -> None:
    data = json.loads((library.index_dir / "manifest.json").read_text())
    assert data["embedder"] == DEFAULT_EMBEDDER
    assert data["dimension"] == 384 and data["normalised"] is True
    assert data["faiss"]["kind"] == "flat"
    assert data["format_version"] == 1
    assert data["papers"] == {p.key: p.content_hash() for p in PAPERS}
    generation = library.index_dir / data["generation"]
    vectors = np.load(generation / "vectors.npy")
    assert vectors.shape == (len(PAPERS), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert [p.name for p in library.index_dir.iterdir() if p.is_dir()] == [data["generation"]]


def test_incremental_update_embeds_only_new_and_changed_papers(library: Library, minilm) -> None:
    counting = CountingEmbedder(minilm)
    _, report = update_index(library, embedder=counting)
    assert counting.documents == [] and not report.written and report.reused == len(PAPERS)

    abstract = "First-order gradient-based optimization of stochastic objectives with adaptive moment estimates."
    library.add([dataclasses.replace(library.get("kingma2015"), abstract=abstract)])
    library.add([Paper("dijkstra1959", "A note on two problems in connexion with graphs", "Shortest paths.")])
    index, report = update_index(library, embedder=counting)
    assert len(counting.documents) == 2
    assert counting.documents[0].startswith(("Adam", "A note"))
    assert (report.embedded, report.reused, report.removed) == (2, len(PAPERS) - 1, 0)
    assert recall_text(index, "adaptive moment estimation optimizer", k=1)[0].key == "kingma2015"
    assert recall_text(index, "shortest paths in graphs", k=1)[0].key == "dijkstra1959"
    reopened = Index.open(library, embedder=counting)
    assert reopened.keys == index.keys and reopened.size == len(PAPERS) + 1


def test_reused_vectors_equal_fresh_ones(library: Library, minilm) -> None:
    library.add([Paper("dijkstra1959", "A note on two problems in connexion with graphs", "Shortest paths.")])
    index = ensure_index(library, embedder=minilm)
    fresh = ensure_index(library, embedder=minilm, rebuild=True)
    assert fresh.manifest.generation != index.manifest.generation
    query = QUERIES["vaswani2017"]
    assert _same(recall_text(fresh, query, k=5), recall_text(index, query, k=5))


def test_removing_a_paper_drops_it(library: Library, minilm) -> None:
    library.remove(["he2016"])
    index, report = update_index(library, embedder=CountingEmbedder(minilm))
    assert report.removed == 1 and report.embedded == 0
    assert "he2016" not in index.keys
    assert "he2016" not in read_manifest(library.index_dir).hashes()
    for method in ("hybrid", "bm25", "dense"):
        assert all(c.key != "he2016" for c in recall_text(index, QUERIES["he2016"], k=20, method=method))


def test_another_embedder_is_refused_until_rebuilt(library: Library, minilm) -> None:
    with pytest.raises(LibraryError, match=r"index was built with all-MiniLM-L6-v2.*--rebuild"):
        Index.open(library, embedder="Qwen/Qwen3-Embedding-0.6B")
    renamed = CountingEmbedder(minilm, name="minilm-copy")
    with pytest.raises(LibraryError, match="index was built with all-MiniLM-L6-v2"):
        ensure_index(library, embedder=renamed)
    assert renamed.documents == []
    index = ensure_index(library, embedder=renamed, rebuild=True)
    assert len(renamed.documents) == len(PAPERS)
    assert index.embedder_name == "minilm-copy" == read_manifest(library.index_dir).embedder
    assert recall_text(Index.open(library, embedder=renamed), QUERIES["keeling2008"], k=1)[0].key == "keeling2008"
    with pytest.raises(LibraryError, match="index was built with minilm-copy"):
        Index.open(library, embedder="all-MiniLM-L6-v2")


def test_missing_index_and_empty_library(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    with pytest.raises(LibraryError, match="is empty"):
        ensure_index(library)
    library.add(PAPERS[:2])
    with pytest.raises(LibraryError, match="no index in"):
        Index.open(library)


def test_interrupted_save_leaves_the_previous_index_usable(
    library: Library, minilm, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = recall_text(Index.open(library, embedder=minilm), QUERIES["he2016"], k=3)
    library.remove(["he2016"])
    library.add([Paper("new2024", "A new paper on residual networks", "Shortcut connections revisited.")])

    def crash(self, folder: Path) -> None:
        (folder / "bm25_data.npy").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(bm25_module.Bm25Index, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        ensure_index(library, embedder=minilm)
    monkeypatch.undo()

    old = Index.open(library, embedder=minilm)
    assert "he2016" in old.keys and "new2024" not in old.keys
    assert recall_text(old, QUERIES["he2016"], k=3) == before
    index = ensure_index(library, embedder=minilm)
    assert "new2024" in index.keys and "he2016" not in index.keys
    assert [p.name for p in library.index_dir.iterdir() if p.is_dir()] == [index.manifest.generation]


def test_damaged_generation_is_detected_and_rebuilt(library: Library, minilm) -> None:
    manifest = read_manifest(library.index_dir)
    (library.index_dir / manifest.generation / "vectors.npy").unlink()
    opened = Index.open(library, embedder=minilm)  # files load on first use
    with pytest.raises(LibraryError, match="incomplete or damaged"):
        recall_text(opened, "a passage never seen before", k=1)
    counting = CountingEmbedder(minilm)
    index = ensure_index(library, embedder=counting)
    assert len(counting.documents) == len(PAPERS)
    assert recall_text(index, QUERIES["jumper2021"], k=1)[0].key == "jumper2021"


def test_corrupt_manifest_is_rebuilt(library: Library, minilm) -> None:
    (library.index_dir / "manifest.json").write_text("{not json")
    with pytest.raises(LibraryError, match="corrupt index manifest"):
        Index.open(library)
    assert ensure_index(library, embedder=minilm).size == len(PAPERS)


def test_approximate_index_above_the_threshold_agrees_with_flat(
    library: Library, index: Index, minilm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dense_module, "APPROX_THRESHOLD", 5)
    approx = ensure_index(library, embedder=minilm, rebuild=True)
    manifest = read_manifest(library.index_dir)
    assert manifest.dense.kind == "ivf" == approx.dense.spec.kind
    assert (library.index_dir / manifest.generation / "faiss.index").exists()
    reopened = Index.open(library, embedder=minilm)
    for query in QUERIES.values():
        expected = recall_text(index, query, k=1, method="dense")[0].key
        assert recall_text(approx, query, k=1, method="dense")[0].key == expected
        assert recall_text(reopened, query, k=1, method="dense")[0].key == expected


def _clustered(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    points = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_agrees_with_flat_on_top1_and_reuses_its_centroids(tmp_path: Path) -> None:
    vectors = _clustered(4000, 64, 40, seed=1)
    spec = choose_spec(len(vectors), threshold=1000)
    assert spec.kind == "ivf" and spec.nlist == 102 and spec.nprobe == 25  # a quarter of the lists
    flat = DenseIndex.build(vectors, DenseSpec("flat"))
    ivf = DenseIndex.build(vectors, spec)
    queries = vectors[:200] + 0.05 * np.random.default_rng(2).standard_normal((200, 64)).astype(np.float32)
    _, exact = flat.search(queries, 1)
    _, approx = ivf.search(queries, 1)
    assert (exact[:, 0] == approx[:, 0]).mean() >= 0.95
    ivf.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, spec, vectors)
    np.testing.assert_array_equal(loaded.search(queries, 5)[1], ivf.search(queries, 5)[1])
    grown = DenseIndex.build(np.vstack([vectors, vectors[:10]]), spec, previous=loaded)
    assert grown.size == 4010 and grown.search(vectors[:1], 1)[1][0, 0] in (0, 4000)


def test_choose_spec_is_flat_below_the_threshold() -> None:
    assert choose_spec(49_999) == DenseSpec("flat")
    big = choose_spec(999_999)  # IVF-PQ from 1M (tests/test_dense_pq.py)
    assert big.kind == "ivf" and big.nlist == 4096 and 16 <= big.nprobe <= big.nlist


def test_bm25_round_trip_and_tokens(tmp_path: Path) -> None:
    docs = ["Graph neural networks for molecules", "Running shoes", "", "networks of running graphs"]
    bm25 = Bm25Index.build(docs)
    bm25.save(tmp_path)
    loaded = Bm25Index.load(tmp_path)
    np.testing.assert_allclose(loaded.scores("network graphs"), bm25.scores("network graphs"))
    rows, scores = loaded.top_k("network graphs", 5)
    assert set(rows.tolist()) == {0, 3} and scores[0] >= scores[1] > 0
    assert Bm25Index.build(["", ""]).top_k("anything", 3)[0].size == 0


def test_latex_cleaning_and_tokenizing() -> None:
    assert clean_latex(r"{\em Fast} $k$-means \citep[p.~3]{smith} and \textbf{GPUs} \& more % comment") == (
        "Fast k -means and GPUs & more"
    )
    assert tokenize("The networks are running on graphs") == ["network", "run", "graph"]
    assert surname("Vaswani, Ashish") == "Vaswani" and surname("Ashish Vaswani") == "Vaswani"
