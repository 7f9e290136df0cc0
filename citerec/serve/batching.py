"""The request-merging queue in front of the reranker.

A reranker scores a batch of pairs much faster than the same pairs one request
at a time (one padded forward pass instead of many), and the model must not
run in several threads at once. So every scoring request, from the rerank
endpoint or from the suggestion pipeline, goes through one `RerankBatcher`:
callers put their (query, document) pairs in a queue; one worker thread takes
the pending pairs that share an instruction, waits a few milliseconds for more
to arrive, and runs a single `score_pairs` call of up to `max_batch_pairs`.

The queue is bounded in pairs (`max_queued_pairs`, counting pairs being scored
too): past the bound `submit` raises `QueueFull` with a retry estimate, which
the HTTP layer answers with 503 + Retry-After instead of growing without limit.
A job larger than the bound is still admitted when the queue is empty, so no
request that passed the per-request size limits can be refused forever.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citerec.rerank import Reranker

Pair = tuple[str, str]


class QueueFull(Exception):
    """Too much work is queued to take this job now; `retry_after` is a wait estimate in seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class BatcherClosed(RuntimeError):
    """The batcher was shut down; no more work is taken."""


@dataclass
class _Piece:
    """A slice of one job, small enough for one batch, with the future its scores go to."""

    pairs: list[Pair]
    instruction: str | None
    arrived: float
    future: concurrent.futures.Future[list[float]] = field(default_factory=concurrent.futures.Future)


@dataclass(frozen=True)
class BatcherStats:
    """A snapshot for /healthz and the load benchmark."""

    queued_pairs: int
    queued_pieces: int
    max_queued_pairs: int
    max_batch_pairs: int
    batching: bool
    calls: int
    pairs_scored: int
    rejected: int
    pairs_per_second: float | None


class RerankBatcher:
    """Merges concurrent scoring jobs into `score_pairs` calls on one worker thread."""

    def __init__(
        self,
        reranker: Reranker,
        *,
        max_batch_pairs: int = 64,
        max_queued_pairs: int = 4096,
        wait_ms: float = 5.0,
        batching: bool = True,
    ) -> None:
        if max_batch_pairs < 1 or max_queued_pairs < 1:
            raise ValueError("max_batch_pairs and max_queued_pairs must be at least 1")
        if wait_ms < 0:
            raise ValueError("wait_ms must not be negative")
        self.reranker = reranker
        self.max_batch_pairs = max_batch_pairs
        self.max_queued_pairs = max_queued_pairs
        self.wait_s = wait_ms / 1000.0
        self.batching = batching
        self._pending: deque[_Piece] = deque()
        self._cond = threading.Condition()
        self._queued_pairs = 0
        self._closed = False
        self._calls = 0
        self._pairs_scored = 0
        self._rejected = 0
        self._rate: float | None = None  # pairs/s, exponential moving average
        self._thread = threading.Thread(target=self._work, name="citerec-rerank", daemon=True)
        self._thread.start()

    # -- submitting --------------------------------------------------------
    def submit(
        self, pairs: Sequence[Pair], *, instruction: str | None = None, block: bool = False
    ) -> list[concurrent.futures.Future]:
        """Queue `pairs`; returns one future per slice, in order.

        When the queue has no room, raises `QueueFull`, or with `block` waits for
        room (for callers that already hold a bounded worker thread). Raises
        `BatcherClosed` after `close`.
        """
        pairs = list(pairs)
        if not pairs:
            return []
        step = self.max_batch_pairs
        with self._cond:
            if self._closed:
                raise BatcherClosed("the reranker queue is shut down")
            while block and not self._closed and self._no_room(len(pairs)):
                self._cond.wait()
            if self._closed:
                raise BatcherClosed("the reranker queue is shut down")
            if self._no_room(len(pairs)):
                self._rejected += 1
                retry = self._retry_after()
                raise QueueFull(
                    f"the reranker queue is full ({self._queued_pairs} pairs queued, {len(pairs)} more asked, "
                    f"limit {self.max_queued_pairs}); retry in {retry} s",
                    retry,
                )
            now = time.monotonic()
            pieces = [_Piece(pairs[i : i + step], instruction, now) for i in range(0, len(pairs), step)]
            self._queued_pairs += len(pairs)
            self._pending.extend(pieces)
            self._cond.notify_all()  # the worker and blocked submitters share the condition
        return [piece.future for piece in pieces]

    def _no_room(self, count: int) -> bool:
        return bool(self._queued_pairs) and self._queued_pairs + count > self.max_queued_pairs

    def score_pairs(self, pairs: Sequence[Pair], *, instruction: str | None = None) -> list[float]:
        """Blocking form, for callers in worker threads (the suggestion pipeline): waits for room, then scores."""
        futures = self.submit(pairs, instruction=instruction, block=True)
        return [score for future in futures for score in future.result()]

    async def ascore_pairs(self, pairs: Sequence[Pair], *, instruction: str | None = None) -> list[float]:
        """Async form of `submit`: awaiting it does not block the event loop.

        If the awaiting request is cancelled (client gone), slices not started yet are dropped.
        """
        futures = self.submit(pairs, instruction=instruction)
        parts = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        return [score for part in parts for score in part]

    # -- the worker ----------------------------------------------------------
    def _take_batch(self) -> list[_Piece] | None:
        """Wait for work, then the merge window; pop the pieces of one batch. None once closed."""
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if self._closed and not self._pending:
                return None
            head = self._pending[0]
            if self.batching:
                deadline = head.arrived + self.wait_s
                while not self._closed and self._matching_pairs(head.instruction) < self.max_batch_pairs:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            batch = [self._pending.popleft()]
            if self.batching:
                size = len(batch[0].pairs)
                kept: deque[_Piece] = deque()
                while self._pending:
                    piece = self._pending.popleft()
                    if piece.instruction == head.instruction and size + len(piece.pairs) <= self.max_batch_pairs:
                        batch.append(piece)
                        size += len(piece.pairs)
                    else:
                        kept.append(piece)
                self._pending = kept
            return batch

    def _matching_pairs(self, instruction: str | None) -> int:
        return sum(len(p.pairs) for p in self._pending if p.instruction == instruction)

    def _work(self) -> None:
        while (batch := self._take_batch()) is not None:
            live = [p for p in batch if p.future.set_running_or_notify_cancel()]
            dropped = sum(len(p.pairs) for p in batch) - sum(len(p.pairs) for p in live)
            if dropped:
                self._release(dropped)
            if not live:
                continue
            pairs = [pair for piece in live for pair in piece.pairs]
            started = time.monotonic()
            try:
                scores = self.reranker.score_pairs(pairs, instruction=live[0].instruction)
                if len(scores) != len(pairs):
                    raise RuntimeError(f"reranker returned {len(scores)} scores for {len(pairs)} pairs")
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
                self._release(len(pairs))
                for piece in live:
                    piece.future.set_exception(exc)
                continue
            self._record(len(pairs), time.monotonic() - started)
            self._release(len(pairs))
            start = 0
            for piece in live:
                piece.future.set_result([float(s) for s in scores[start : start + len(piece.pairs)]])
                start += len(piece.pairs)

    def _release(self, count: int) -> None:
        with self._cond:
            self._queued_pairs -= count
            self._cond.notify_all()  # blocked submitters wait for room

    def _record(self, pairs: int, seconds: float) -> None:
        with self._cond:
            self._calls += 1
            self._pairs_scored += pairs
            rate = pairs / max(seconds, 1e-6)
            self._rate = rate if self._rate is None else 0.8 * self._rate + 0.2 * rate

    def _retry_after(self) -> int:
        """Seconds until the queue has likely drained, from the measured throughput (1..60)."""
        if not self._rate:
            return 1
        return max(1, min(60, math.ceil(self._queued_pairs / self._rate)))

    # -- lifecycle -----------------------------------------------------------
    def stats(self) -> BatcherStats:
        with self._cond:
            return BatcherStats(
                queued_pairs=self._queued_pairs,
                queued_pieces=len(self._pending),
                max_queued_pairs=self.max_queued_pairs,
                max_batch_pairs=self.max_batch_pairs,
                batching=self.batching,
                calls=self._calls,
                pairs_scored=self._pairs_scored,
                rejected=self._rejected,
                pairs_per_second=self._rate,
            )

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop taking work; the worker finishes what is queued, then exits."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


class BatchedReranker:
    """A `Reranker` whose calls go through a `RerankBatcher`, for the suggestion pipeline.

    The pipeline then shares the model, the merging and the queue bound with the
    rerank endpoint instead of running the model from a second thread.
    """

    def __init__(self, batcher: RerankBatcher) -> None:
        self.batcher = batcher
        self.model_name = batcher.reranker.model_name

    def score(
        self, query: str, documents: Sequence[str], *, instruction: str | None = None, progress=None
    ) -> list[float]:
        return self.batcher.score_pairs([(query, d) for d in documents], instruction=instruction)

    def score_pairs(self, pairs: Sequence[Pair], *, instruction: str | None = None, progress=None) -> list[float]:
        return self.batcher.score_pairs(pairs, instruction=instruction)
