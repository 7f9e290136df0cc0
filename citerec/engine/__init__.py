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

from pathlib import Path
from typing import TYPE_CHECKING

from citerec.engine.config import ENGINES, LOCAL, EngineConfig
from citerec.progress import ProgressCallback

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.index.build import UpdateReport
    from citerec.library import Library
    from citerec.rerank import Reranker

__all__ = ["ENGINES", "LOCAL", "EngineConfig", "build_index", "load_reranker"]


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
