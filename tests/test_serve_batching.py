"""The request-merging queue of `citerec serve`, against the tiny random reranker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

pytest.importorskip("fastapi")

from citerec.serve.batching import BatchedReranker, BatcherClosed, QueueFull, RerankBatcher  # noqa: E402

QUERY = "Transformers rely on self-attention to model long-range dependencies in text."
DOCS = [
    "Attention Is All You Need. We propose a new network architecture based solely on attention mechanisms.",
    "Deep residual learning for image recognition.",
    "BERT: pre-training of deep bidirectional transformers for language understanding.",
    "Dense passage retrieval for open-domain question answering with dual encoders.",
    "BM25 ranking, sparse retrieval.",
]


class Recording:
    """Wraps a reranker and records every `score_pairs` call (sizes, instructions)."""

    def __init__(self, inner, gate: threading.Event | None = None) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.calls: list[tuple[int, str | None]] = []
        self.gate = gate
        self.entered = threading.Event()

    def score(self, query, documents, *, instruction=None, progress=None):
        return self.score_pairs([(query, d) for d in documents], instruction=instruction)

    def score_pairs(self, pairs: Sequence[tuple[str, str]], *, instruction=None, progress=None):
        self.calls.append((len(pairs), instruction))
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(20), "test gate never opened"
        return self.inner.score_pairs(pairs, instruction=instruction)


@pytest.fixture(scope="module")
def tiny(tiny_reranker_dir):
    from citerec.rerank import load_reranker

    return load_reranker(str(tiny_reranker_dir))


@pytest.fixture
def make_batcher():
    made: list[RerankBatcher] = []

    def make(reranker, **kwargs) -> RerankBatcher:
        made.append(RerankBatcher(reranker, **kwargs))
        return made[-1]

    yield make
    for batcher in made:
        batcher.close()


def test_concurrent_jobs_merge_into_fewer_calls_with_identical_scores(tiny, make_batcher):
    recording = Recording(tiny)
    batcher = make_batcher(recording, max_batch_pairs=64, wait_ms=100)
    queries = [f"{QUERY} ({i})" for i in range(6)]

    async def main():
        return await asyncio.gather(*(batcher.ascore_pairs([(q, d) for d in DOCS]) for q in queries))

    results = asyncio.run(main())
    assert len(recording.calls) < len(queries)
    for query, scores in zip(queries, results, strict=True):
        assert scores == pytest.approx(tiny.score(query, DOCS), abs=1e-6)


def test_batches_never_exceed_max_batch_pairs_and_split_large_jobs(tiny, make_batcher):
    recording = Recording(tiny)
    batcher = make_batcher(recording, max_batch_pairs=3, wait_ms=20)
    pairs = [(QUERY, d) for d in DOCS] * 2  # 10 pairs
    scores = batcher.score_pairs(pairs)
    assert max(size for size, _ in recording.calls) <= 3
    assert sum(size for size, _ in recording.calls) == len(pairs)
    assert scores == pytest.approx(tiny.score_pairs(pairs), abs=1e-6)


def test_jobs_with_different_instructions_are_not_merged(tiny, make_batcher):
    recording = Recording(tiny)
    batcher = make_batcher(recording, max_batch_pairs=64, wait_ms=50)
    other = "Judge whether the document is about image recognition"

    async def main():
        return await asyncio.gather(
            batcher.ascore_pairs([(QUERY, d) for d in DOCS]),
            batcher.ascore_pairs([(QUERY, d) for d in DOCS], instruction=other),
        )

    default_scores, other_scores = asyncio.run(main())
    assert {instruction for _, instruction in recording.calls} == {None, other}
    assert default_scores == pytest.approx(tiny.score(QUERY, DOCS), abs=1e-6)
    assert other_scores == pytest.approx(tiny.score(QUERY, DOCS, instruction=other), abs=1e-6)
    assert other_scores != pytest.approx(default_scores, abs=1e-6)


def test_batching_off_runs_each_job_alone(tiny, make_batcher):
    recording = Recording(tiny)
    batcher = make_batcher(recording, max_batch_pairs=64, wait_ms=50, batching=False)

    async def main():
        return await asyncio.gather(*(batcher.ascore_pairs([(QUERY, d)]) for d in DOCS))

    asyncio.run(main())
    assert [size for size, _ in recording.calls] == [1] * len(DOCS)


def test_queue_bound_refuses_then_recovers(tiny, make_batcher):
    gate = threading.Event()
    recording = Recording(tiny, gate=gate)
    batcher = make_batcher(recording, max_batch_pairs=8, max_queued_pairs=4, wait_ms=0)
    first = batcher.submit([(QUERY, d) for d in DOCS[:4]])
    assert recording.entered.wait(10)
    assert batcher.stats().queued_pairs == 4
    with pytest.raises(QueueFull) as info:
        batcher.submit([(QUERY, DOCS[4])])
    assert info.value.retry_after >= 1
    assert batcher.stats().rejected == 1
    gate.set()
    assert [s for f in first for s in f.result(10)] == pytest.approx(tiny.score(QUERY, DOCS[:4]), abs=1e-6)
    assert batcher.score_pairs([(QUERY, DOCS[4])]) == pytest.approx(tiny.score(QUERY, DOCS[4:]), abs=1e-6)
    assert batcher.stats().queued_pairs == 0


def test_a_job_larger_than_the_bound_runs_when_the_queue_is_empty(tiny, make_batcher):
    batcher = make_batcher(tiny, max_batch_pairs=2, max_queued_pairs=2)
    assert batcher.score_pairs([(QUERY, d) for d in DOCS]) == pytest.approx(tiny.score(QUERY, DOCS), abs=1e-6)


def test_blocking_submit_waits_for_room(tiny, make_batcher):
    gate = threading.Event()
    recording = Recording(tiny, gate=gate)
    batcher = make_batcher(recording, max_batch_pairs=8, max_queued_pairs=2, wait_ms=0)
    batcher.submit([(QUERY, d) for d in DOCS[:2]])
    assert recording.entered.wait(10)
    done: list[list[float]] = []
    waiter = threading.Thread(target=lambda: done.append(batcher.score_pairs([(QUERY, DOCS[2])])))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not done  # no room yet: waits instead of failing
    gate.set()
    waiter.join(10)
    assert done == [pytest.approx(tiny.score(QUERY, DOCS[2:3]), abs=1e-6)]


def test_model_errors_reach_every_caller_and_the_worker_survives(tiny, make_batcher):
    class Failing(Recording):
        def score_pairs(self, pairs, *, instruction=None, progress=None):
            if any(d == "boom" for _, d in pairs):
                raise RuntimeError("model exploded")
            return super().score_pairs(pairs, instruction=instruction)

    batcher = make_batcher(Failing(tiny), wait_ms=0)
    with pytest.raises(RuntimeError, match="exploded"):
        batcher.score_pairs([(QUERY, "boom")])
    assert batcher.score_pairs([(QUERY, DOCS[0])]) == pytest.approx(tiny.score(QUERY, DOCS[:1]), abs=1e-6)
    assert batcher.stats().queued_pairs == 0


def test_cancelled_waiters_do_not_cost_model_time(tiny, make_batcher):
    gate = threading.Event()
    recording = Recording(tiny, gate=gate)
    batcher = make_batcher(recording, max_batch_pairs=1, wait_ms=0)
    batcher.submit([(QUERY, DOCS[0])])
    assert recording.entered.wait(10)
    queued = batcher.submit([(QUERY, DOCS[1])])
    assert queued[0].cancel()
    gate.set()
    assert batcher.score_pairs([(QUERY, DOCS[2])]) == pytest.approx(tiny.score(QUERY, DOCS[2:3]), abs=1e-6)
    assert [size for size, _ in recording.calls] == [1, 1]  # DOCS[1] was never scored
    assert batcher.stats().queued_pairs == 0


def test_batched_reranker_is_a_reranker_and_closing_refuses_work(tiny, make_batcher):
    from citerec.rerank import Reranker

    batcher = make_batcher(tiny)
    wrapped = BatchedReranker(batcher)
    assert isinstance(wrapped, Reranker)
    assert wrapped.model_name == tiny.model_name
    assert wrapped.score(QUERY, DOCS) == pytest.approx(tiny.score(QUERY, DOCS), abs=1e-6)
    batcher.close()
    with pytest.raises(BatcherClosed):
        wrapped.score(QUERY, DOCS)
