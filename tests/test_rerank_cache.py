"""The SQLite score cache: hits skip the model, changed pairs are re-scored, files are shareable."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from citerec.rerank import load_reranker
from citerec.rerank.cache import CachedReranker

QUERY = "Residual connections ease the training of very deep networks."
DOCS = ["Deep residual learning for image recognition", "Attention Is All You Need", "BM25 and beyond"]


class CountingReranker:
    """Delegates to a real reranker and records the pairs it was asked to score."""

    def __init__(self, inner):
        self.inner = inner
        self.model_name = inner.model_name
        self.max_length = inner.max_length
        self.calls: list[list[tuple[str, str]]] = []

    def score(self, query, documents, *, instruction=None, progress=None):
        return self.score_pairs([(query, d) for d in documents], instruction=instruction, progress=progress)

    def score_pairs(self, pairs, *, instruction=None, progress=None):
        self.calls.append(list(pairs))
        return self.inner.score_pairs(pairs, instruction=instruction, progress=progress)


@pytest.fixture(scope="module")
def hf(tiny_reranker_dir):
    return load_reranker(str(tiny_reranker_dir), device="cpu")


def test_second_call_is_served_from_the_cache(hf, tmp_path):
    counting = CountingReranker(hf)
    cached = CachedReranker(counting, tmp_path / "scores.sqlite")
    first = cached.score(QUERY, DOCS)
    assert first == pytest.approx(hf.score(QUERY, DOCS), abs=1e-6)
    assert (cached.hits, cached.misses, len(counting.calls)) == (0, 3, 1)
    assert cached.score(QUERY, DOCS) == first
    assert (cached.hits, cached.misses, len(counting.calls)) == (3, 3, 1)


def test_changed_document_and_instruction_are_rescored(hf, tmp_path):
    counting = CountingReranker(hf)
    cached = CachedReranker(counting, tmp_path / "scores.sqlite")
    cached.score(QUERY, DOCS)
    changed = [DOCS[0], DOCS[1] + " (revised)", DOCS[2]]
    scores = cached.score(QUERY, changed)
    assert counting.calls[-1] == [(QUERY, changed[1])]
    assert scores == pytest.approx(hf.score(QUERY, changed), abs=1e-6)
    cached.score(QUERY, DOCS[:1], instruction="Another instruction")
    assert counting.calls[-1] == [(QUERY, DOCS[0])]


def test_duplicates_in_one_call_are_scored_once(hf, tmp_path):
    counting = CountingReranker(hf)
    cached = CachedReranker(counting, tmp_path / "scores.sqlite")
    scores = cached.score(QUERY, [DOCS[0], DOCS[1], DOCS[0]])
    assert counting.calls == [[(QUERY, DOCS[0]), (QUERY, DOCS[1])]]
    assert scores[0] == scores[2]
    assert cached.score(QUERY, []) == [] and len(counting.calls) == 1


def test_cache_persists_across_instances_and_uses_wal(hf, tmp_path):
    path = tmp_path / "scores.sqlite"
    CachedReranker(CountingReranker(hf), path).score(QUERY, DOCS)
    again = CountingReranker(hf)
    reopened = CachedReranker(again, path)
    reopened.score(QUERY, DOCS)
    assert again.calls == [] and reopened.hits == 3
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_max_length_is_part_of_the_key(hf, tmp_path, tiny_reranker_dir):
    short = load_reranker(str(tiny_reranker_dir), device="cpu", max_length=128)
    path = tmp_path / "scores.sqlite"
    CachedReranker(CountingReranker(hf), path).score(QUERY, DOCS)
    counting = CountingReranker(short)
    CachedReranker(counting, path).score(QUERY, DOCS)
    assert len(counting.calls) == 1


def test_concurrent_readers_and_writers(hf, tmp_path):
    path = tmp_path / "scores.sqlite"
    cached = CachedReranker(CountingReranker(hf), path)
    expected = cached.score(QUERY, DOCS)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            other = CachedReranker(CountingReranker(hf), path)
            assert other.score(QUERY, DOCS) == expected
            other.cache.put_many([(f"extra-{n}-{i}", float(i)) for i in range(50)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cached.cache) == 3 + 4 * 50
