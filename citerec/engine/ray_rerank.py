"""Batch reranking on Ray: (context, candidate) pairs spread over actors that each hold one reranker.

Each actor loads the reranker once through `citerec.rerank.load_reranker`
(the hf backend on CPU or GPU, vLLM on GPU workers when it is installed), so a
pair gets exactly the score the local path gives it. All of a context's pairs
go to the same actor (the hf backend computes a query's shared prompt prefix
once), and contexts are dealt out in chunks of similar size, so that every
worker stays busy until the end. The score cache stays on the driver
(`CachedReranker` wraps this reranker as it wraps a local one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from citerec.engine.config import EngineConfig
from citerec.engine.ray_runtime import connect, device_for, unwrap, worker_count
from citerec.errors import ModelError
from citerec.progress import ProgressCallback
from citerec.rerank.base import DEFAULT_MAX_LENGTH, BaseReranker, group_by_query

log = logging.getLogger(__name__)

STAGE = "rerank"
CHUNKS_PER_WORKER = 4  # smaller chunks balance better; larger ones batch better


class RerankWorker:
    """The actor: one loaded reranker."""

    def __init__(self, name: str, backend: str, device: str, max_length: int) -> None:
        from citerec.rerank import load_reranker

        self.reranker = load_reranker(name, backend=backend, device=device, max_length=max_length)

    def score(self, pairs: list[tuple[str, str]], instruction: str) -> list[float]:
        return self.reranker.score_pairs(pairs, instruction=instruction)


class RayReranker(BaseReranker):
    """A `Reranker` whose pairs are scored by a pool of Ray actors."""

    def __init__(
        self, config: EngineConfig, name: str, *, backend: str = "hf", max_length: int = DEFAULT_MAX_LENGTH
    ) -> None:
        ray = connect(config)
        self.model_name = name
        self.max_length = max_length  # part of the score cache's key, as for a local reranker
        self.workers = worker_count(ray, config)
        actor = ray.remote(RerankWorker).options(num_cpus=config.cpus_per_worker, num_gpus=config.gpus_per_worker)
        self._actors = [actor.remote(name, backend, device_for(config), max_length) for _ in range(self.workers)]
        try:  # load errors (unknown model, no GPU) surface here, not at the first score
            ray.get([a.__ray_ready__.remote() for a in self._actors])
        except Exception as exc:
            for a in self._actors:
                ray.kill(a)
            inner = unwrap(exc)
            if isinstance(inner, ModelError):
                raise inner from None
            raise ModelError(f"Ray workers cannot load reranker {name}: {str(inner).splitlines()[-1]}") from None
        log.info("reranker %s loaded on %d Ray workers (%s)", name, self.workers, device_for(config))

    def close(self) -> None:
        """Release the actors (and the CPUs/GPUs they hold)."""
        import ray

        for a in self._actors:
            ray.kill(a)
        self._actors = []

    def _score_pairs(
        self, pairs: Sequence[tuple[str, str]], instruction: str, progress: ProgressCallback
    ) -> list[float]:
        from ray.util import ActorPool

        chunks = deal(list(group_by_query(pairs).values()), self.workers * CHUNKS_PER_WORKER)
        scores: list[float] = [0.0] * len(pairs)
        pool = ActorPool(self._actors)
        done = 0
        progress(STAGE, 0, len(pairs))
        try:
            results = pool.map(lambda a, rows: a.score.remote([pairs[i] for i in rows], instruction), chunks)
            for rows, values in zip(chunks, results, strict=True):
                for i, value in zip(rows, values, strict=True):
                    scores[i] = float(value)
                done += len(rows)
                progress(STAGE, done, len(pairs))
        except Exception as exc:
            inner = unwrap(exc)
            if inner is not exc:
                raise inner from None
            raise
        return scores


def deal(groups: Sequence[list[int]], count: int) -> list[list[int]]:
    """Whole groups of pair indices into at most `count` chunks of about equal size, in input order."""
    total = sum(len(g) for g in groups)
    if total == 0:
        return []
    target = max(1, -(-total // max(1, count)))
    chunks: list[list[int]] = [[]]
    for group in groups:
        if chunks[-1] and len(chunks[-1]) + len(group) > target:
            chunks.append([])
        chunks[-1].extend(group)
    return chunks


_pool: tuple[tuple[Any, ...], RayReranker] | None = None
_pool_lock = threading.Lock()


def ray_reranker(config: EngineConfig, name: str, *, backend: str = "hf") -> RayReranker:
    """The process's pool for these settings, made on first use: evaluating many papers loads the model once.

    One pool lives at a time: a pool for other settings first releases the
    old one's actors, whose CPUs or GPUs the new actors may need.
    """
    global _pool
    key = (config.address, config.workers, config.gpus_per_worker, config.cpus_per_worker, name, backend)
    with _pool_lock:
        if _pool is not None and _pool[0] == key:
            return _pool[1]
        if _pool is not None:
            _pool[1].close()
            _pool = None
        reranker = RayReranker(config, name, backend=backend)
        _pool = (key, reranker)
        return reranker


def release_pool() -> None:
    """Free the reranker actors' CPUs/GPUs (before other work, e.g. an index build, needs them)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool[1].close()
            _pool = None
