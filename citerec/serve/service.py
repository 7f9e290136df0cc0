"""What the server loads once and shares between requests: library, index, reranker, queue.

The routes in `app` stay thin: they validate, then call a `Service` method.
Model work never runs on the event loop: reranking goes through the
`RerankBatcher`'s worker thread, recall and suggestion through a small thread
pool (recall embeds the query; the pipeline then waits on the batcher).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citerec.errors import CiterecError
from citerec.library import Library
from citerec.serve.batching import BatchedReranker, BatcherClosed, QueueFull, RerankBatcher
from citerec.serve.limits import ServeLimits
from citerec.session import LibrarySession

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from citerec.check import CheckOptions, CheckResult
    from citerec.index import Index
    from citerec.recall import Candidate
    from citerec.rerank import Reranker
    from citerec.suggest import SuggestOptions, SuggestResult


class RerankUnavailable(CiterecError):
    """The server runs without a reranker (--rerank off, or auto and the model could not load)."""


class RequestTimeout(CiterecError):
    """A request's model work ran past `ServeLimits.request_timeout_s` (the HTTP answer is 504)."""


class Service:
    """The loaded state of one server; `close` stops its worker threads."""

    def __init__(
        self,
        library: Library | Path | str,
        *,
        reranker: Reranker | None = None,
        options: SuggestOptions | None = None,
        limits: ServeLimits | None = None,
        index: Index | None = None,
    ) -> None:
        from citerec.suggest import Suggester, SuggestOptions

        self.library = library if isinstance(library, Library) else Library(library)
        self.limits = limits or ServeLimits()
        options = options or SuggestOptions()
        if options.rerank == "off":
            reranker = None
        # The Suggester owns the load policy (auto: go on without a model and say so).
        self.suggester = Suggester(self.library, options=options, reranker=reranker, index=index)
        # Load the query embedder now: once, before pool threads could race to load it on first use.
        _ = self.suggester.index.embedder
        self.reranker: Reranker | None = self.suggester.reranker
        self.batcher: RerankBatcher | None = None
        if self.reranker is not None:
            self.batcher = RerankBatcher(
                self.reranker,
                max_batch_pairs=self.limits.max_batch_pairs,
                max_queued_pairs=self.limits.max_queued_pairs,
                wait_ms=self.limits.batch_wait_ms,
                batching=self.limits.batching,
            )
            # The pipeline's scoring joins the same queue as /v1/rerank.
            self.suggester.reranker = BatchedReranker(self.batcher)
        self._pool = ThreadPoolExecutor(max_workers=self.limits.pipeline_threads, thread_name_prefix="citerec-serve")
        self._pipeline_jobs = 0
        self._pipeline_lock = threading.Lock()
        self.session = LibrarySession(self.suggester)

    @property
    def index(self) -> Index:
        return self.suggester.index

    @property
    def model_name(self) -> str | None:
        return self.reranker.model_name if self.reranker is not None else None

    # -- work --------------------------------------------------------------
    async def rerank(self, query: str, documents: Sequence[str], instruction: str | None) -> list[float]:
        """Scores of `documents` for `query`, exactly `reranker.score(query, documents, instruction=…)`."""
        if self.batcher is None:
            raise RerankUnavailable("no reranker is loaded on this server (started with --rerank off?)")
        work = self.batcher.ascore_pairs([(query, d) for d in documents], instruction=instruction)
        try:  # on timeout the wait is cancelled, and the batcher drops the slices not started yet
            return await asyncio.wait_for(work, self.limits.request_timeout_s)
        except TimeoutError:
            raise self._timeout() from None

    async def suggest(self, text: str, *, is_tex: bool, settings: dict[str, Any]) -> SuggestResult:
        """The suggestion pipeline on `text`, with the settings the request wrote over the server's options."""
        options = self.suggester.options.with_settings(settings)
        if options.rerank == "on" and self.batcher is None:
            raise RerankUnavailable("rerank 'on' was asked but this server has no reranker loaded")
        return await self._in_pool(self.suggester.suggest_text, text, is_tex=is_tex, options=options)

    async def check(self, text: str, *, is_tex: bool, options: CheckOptions) -> CheckResult:
        """Where `text` may need citations (`citerec.check`), with the server's suggester."""
        from citerec.check import check_text

        if options.suggest.rerank == "on" and self.batcher is None:
            raise RerankUnavailable("rerank 'on' was asked but this server has no reranker loaded")
        return await self._in_pool(check_text, self.suggester, text, is_tex=is_tex, options=options)

    async def search(self, query: str, k: int, method: str) -> list[Candidate]:
        """Recall over the library (BM25 + dense, fused), without reranking."""
        from citerec.recall import recall_text

        return await self._in_pool(recall_text, self.index, query, k=k, method=method)

    def check_library(self) -> None:
        """Per request: when another process changed the library, update the index in the background."""
        self.session.check()

    @property
    def refreshing(self) -> bool:
        return self.session.refreshing

    async def _in_pool(self, fn, *args, **kwargs):
        """Run pipeline work on the thread pool; past `max_pipeline_jobs` waiting, refuse with `QueueFull`.

        A job counts until its thread finishes, even when its request timed out
        (a thread cannot be stopped), so slow work still limits what is admitted.
        """
        self.check_library()
        with self._pipeline_lock:
            if self._pipeline_jobs >= self.limits.max_pipeline_jobs:
                raise QueueFull(f"the server is busy ({self._pipeline_jobs} suggestion/search requests in progress)")
            self._pipeline_jobs += 1
        try:
            future = self._pool.submit(fn, *args, **kwargs)
        except RuntimeError:  # the pool was shut down: the server is stopping
            self._release()
            raise BatcherClosed("the server is shutting down") from None
        future.add_done_callback(lambda _: self._release())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.limits.request_timeout_s)
        except TimeoutError:
            future.cancel()  # drops it if it has not started yet
            raise self._timeout() from None

    def _release(self) -> None:
        with self._pipeline_lock:
            self._pipeline_jobs -= 1

    def _timeout(self) -> RequestTimeout:
        return RequestTimeout(
            f"the request took longer than {self.limits.request_timeout_s:g} s and was cut off "
            "(see citerec serve --request-timeout)"
        )

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
