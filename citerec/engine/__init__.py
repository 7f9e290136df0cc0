"""Execution engines: where citerec's heavy batch work (embedding a library, reranking) runs.

`local` is the default and the path citerec always had: everything in this
process. `ray` runs the same steps on a Ray cluster (a local one, or one at
`--ray-address`): an index build embeds the library in shards on an actor pool
(`ray_index`), batch reranking spreads contexts over reranker actors
(`ray_rerank`). Both produce the same index files and the same scores, so
recall, suggest and serve never know which engine did the work. Ray is an
optional extra (`citerec[ray]`) imported only when the ray engine is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.engine.shards import DEFAULT_SHARD_SIZE
from citerec.errors import CiterecError
from citerec.progress import ProgressCallback

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.index.build import UpdateReport
    from citerec.library import Library
    from citerec.rerank import Reranker

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EngineConfig:
    """Which engine, and for Ray: the cluster, how many workers and what each holds."""

    name: str = "local"
    address: str | None = None  # Ray: None starts a local Ray (or joins $RAY_ADDRESS); "auto" joins a running one
    workers: int | None = None  # Ray: actors in the pool; None = one per CPU (or per GPU with gpus_per_worker)
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    shard_size: int = DEFAULT_SHARD_SIZE

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise CiterecError(f"--engine must be one of {', '.join(ENGINES)}, not {self.name!r}")
        if self.workers is not None and self.workers < 1:
            raise CiterecError("--workers must be at least 1")
        if self.gpus_per_worker < 0 or self.cpus_per_worker <= 0:
            raise CiterecError("--gpus-per-worker must be >= 0 and --cpus-per-worker > 0")
        if self.shard_size < 1:
            raise CiterecError("the shard size must be at least 1")
        if self.name == "local" and (self.address or self.workers or self.gpus_per_worker):
            raise CiterecError("--ray-address, --workers and --gpus-per-worker need --engine ray")

    @property
    def local(self) -> bool:
        return self.name == "local"


LOCAL = EngineConfig()


def build_index(
    library: Library,
    config: EngineConfig = LOCAL,
    *,
    embedder: str | None = None,
    rebuild: bool = False,
    progress: ProgressCallback | None = None,
) -> tuple[Index, UpdateReport]:
    """Build or update the library's index with the engine of `config` (same files either way)."""
    from citerec.index import update_index

    if config.local:
        return update_index(library, embedder=embedder, rebuild=rebuild, progress=progress)
    from citerec.engine.ray_index import build_index_on_ray

    return build_index_on_ray(library, config, embedder=embedder, rebuild=rebuild, progress=progress)


def load_reranker(
    config: EngineConfig,
    name: str,
    *,
    backend: str = "hf",
    cache_path: Path | None = None,
) -> Reranker:
    """A reranker run by the engine of `config`; with `cache_path`, scores are cached as on the local path."""
    if config.local:
        from citerec.rerank import load_reranker as load_local

        return load_local(name, backend=backend, cache_path=cache_path)
    from citerec.engine.ray_rerank import ray_reranker

    reranker: Reranker = ray_reranker(config, name, backend=backend)
    if cache_path is not None:
        from citerec.rerank.cache import CachedReranker

        reranker = CachedReranker(reranker, cache_path)
    return reranker
