"""An index build on Ray: the library read in blocks by Ray Data, embedded by an actor pool, saved as shards.

The build itself is `citerec.index.update_index`, unchanged: this module only
supplies its embedding step. The papers to embed are planned as shards
(`shards`); the finished ones on disk are skipped, the others are read from
the library by Ray Data read tasks (one block per shard, on the driver's node,
where the library's SQLite file is), embedded by `map_batches` on a pool of
actors that each load the embedder once (`load_embedder`, on a GPU when asked),
and written to `index/shards/` by the driver as each shard completes. The
vectors are then assembled in row order and the index (BM25, FAISS chosen by
size, manifest) is written exactly as the local build writes it; the shards
are deleted once the manifest is published.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from citerec.engine.config import EngineConfig
from citerec.engine.ray_runtime import connect, device_for, unwrap, worker_count
from citerec.engine.shards import Shard, ShardStore, plan_shards
from citerec.errors import CiterecError, LibraryError
from citerec.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.index.build import UpdateReport
    from citerec.library import Library

log = logging.getLogger(__name__)

STAGE = "embedding papers"
_BYTES_PER_PAPER = 2048  # a paper as JSON, for Ray's memory estimates


def build_index_on_ray(
    library: Library,
    config: EngineConfig,
    *,
    embedder: str | None = None,
    rebuild: bool = False,
    progress: ProgressCallback | None = None,
) -> tuple[Index, UpdateReport]:
    """`update_index` with its embedding done on Ray; finished shards of an interrupted build are re-used."""
    from citerec.index import update_index

    store = ShardStore(library.index_dir)

    def embed_rows(lib: Library, name: str, papers: Sequence[tuple[str, str]], report: ProgressCallback) -> np.ndarray:
        return embed_on_ray(lib, name, papers, config, store=store, progress=report)

    index, result = update_index(library, embedder=embedder, rebuild=rebuild, progress=progress, embed_rows=embed_rows)
    if result.written:
        store.clear()  # their vectors are in the published generation now
    return index, result


def embed_on_ray(
    library: Library,
    name: str,
    papers: Sequence[tuple[str, str]],
    config: EngineConfig,
    *,
    store: ShardStore | None = None,
    progress: ProgressCallback = no_progress,
) -> np.ndarray:
    """Unit vectors of `papers` ((key, content hash) pairs), in order, computed on Ray and kept as shards."""
    store = store or ShardStore(library.index_dir)
    shards = plan_shards(name, papers, config.shard_size)
    pending = [shard for shard in shards if not store.has(shard)]
    done = len(papers) - sum(len(shard.papers) for shard in pending)
    log.info("%d of %d shards to embed on Ray (%d papers already embedded)", len(pending), len(shards), done)
    progress(STAGE, done, len(papers))
    if pending:
        try:
            _run(library, name, pending, config, store, progress, done, len(papers))
        except Exception as exc:  # Ray wraps a task's error; show the citerec error inside, on one line
            inner = unwrap(exc)
            if inner is not exc:
                raise inner from None
            raise
    return _assemble(store, shards)


def _assemble(store: ShardStore, shards: Sequence[Shard]) -> np.ndarray:
    parts = [store.read(shard) for shard in shards]
    dimensions = {part.shape[1] for part in parts}
    if len(dimensions) != 1:
        raise LibraryError(f"vector shards in {store.folder} disagree on the dimension; run with --rebuild")
    return np.concatenate(parts).astype(np.float32, copy=False)


def _run(
    library: Library,
    name: str,
    pending: Sequence[Shard],
    config: EngineConfig,
    store: ShardStore,
    progress: ProgressCallback,
    done: int,
    total: int,
) -> None:
    """Read, embed and save the pending shards; each is written as soon as all its vectors are back."""
    from citerec.engine.ray_rerank import release_pool

    ray = connect(config)
    release_pool()  # one actor pool at a time: the embedders may need the reranker actors' resources
    workers = min(worker_count(ray, config), len(pending))
    # Reads take no CPU and run on this node (the library's); that difference also keeps Ray Data from fusing
    # them into the embedding actors, which would then inherit the reads' pin to this node instead of spreading.
    dataset = ray.data.read_datasource(
        library_source(library.root, pending), override_num_blocks=len(pending), num_cpus=0
    )
    embedded = dataset.map_batches(
        _EmbedBlock,
        fn_constructor_kwargs={"name": name, "device": device_for(config)},
        batch_size=None,  # a whole block (= one shard) per call
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=config.cpus_per_worker,
        num_gpus=config.gpus_per_worker or None,
    )
    by_name = {shard.name: shard for shard in pending}
    partial: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (vectors, which rows arrived)
    for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
        for shard_name in np.unique(batch["shard"]):
            shard = by_name[str(shard_name)]
            mask = batch["shard"] == shard_name
            rows, vectors = batch["row"][mask], np.asarray(batch["vector"][mask], dtype=np.float32)
            if shard.name not in partial:
                n = len(shard.papers)
                partial[shard.name] = (np.zeros((n, vectors.shape[1]), np.float32), np.zeros(n, bool))
            out, seen = partial[shard.name]
            out[rows], seen[rows] = vectors, True
            if seen.all():
                store.write(shard, out)
                del partial[shard.name]
                done += len(shard.papers)
                progress(STAGE, done, total)
    missing = [shard.name for shard in pending if not store.has(shard)]
    if missing:  # cannot happen unless Ray dropped rows; never publish an index with holes
        raise LibraryError(f"Ray returned incomplete shards {missing[:3]}; run `citerec index build` again")


def library_source(root: Path, shards: Sequence[Shard]) -> Any:
    """A Ray Data source reading the papers of each shard from the library: one block per shard.

    Reads run on the driver's node (`supports_distributed_reads` is False): the
    library is a SQLite file there. Each paper's content hash is checked against
    the plan, so a paper edited during the build is never embedded under its old
    hash. (The class is made here so that ray is imported only when it runs.)
    """
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class LibraryBlocks(Datasource):
        @property
        def supports_distributed_reads(self) -> bool:
            return False

        def get_name(self) -> str:
            return "CiterecLibrary"

        def estimate_inmemory_data_size(self) -> int | None:
            return sum(len(shard.papers) for shard in shards) * _BYTES_PER_PAPER

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None):
            groups = max(1, min(parallelism if parallelism > 0 else len(shards), len(shards)))
            tasks = []
            for number in range(groups):
                chunk = list(shards[number::groups])
                rows = sum(len(shard.papers) for shard in chunk)
                metadata = BlockMetadata(
                    num_rows=rows, size_bytes=rows * _BYTES_PER_PAPER, exec_stats=None, input_files=None
                )
                tasks.append(ReadTask(_reader(str(root), chunk), metadata))
            return tasks

    return LibraryBlocks()


def _reader(root: str, shards: list[Shard]):
    def read() -> Iterator[Any]:
        return read_blocks(root, shards)

    return read


def read_blocks(root: str, shards: Sequence[Shard]) -> Iterator[Any]:
    """A pyarrow table per shard: shard name, row within the shard, the paper as JSON."""
    import pyarrow as pa

    from citerec.library import Library
    from citerec.papers import normalise_key

    library = Library(root)
    try:
        for shard in shards:
            found = library.get_many(shard.keys)
            texts = []
            for key, content_hash in shard.papers:
                paper = found.get(normalise_key(key))
                if paper is None or paper.content_hash() != content_hash:
                    raise LibraryError(
                        f"library {root} changed while it was indexed ({key}); run `citerec index build` again"
                    )
                texts.append(json.dumps(paper.to_dict(), ensure_ascii=False))
            n = len(texts)
            yield pa.table({"shard": [shard.name] * n, "row": list(range(n)), "paper": texts})
    finally:
        library.close()


class _EmbedBlock:
    """An actor's state: one embedder, loaded once, turning blocks of papers into unit vectors."""

    def __init__(self, name: str, device: str) -> None:
        from citerec.embed import load_embedder

        try:
            self.embedder = load_embedder(name, device=device)
        except CiterecError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. no CUDA on the worker
            raise CiterecError(f"Ray worker cannot load embedder {name} on {device}: {exc}") from exc

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from citerec.papers import Paper

        papers = [Paper.from_dict(json.loads(str(text))) for text in batch["paper"]]
        vectors = self.embedder.embed_documents([self.embedder.format_document(paper) for paper in papers])
        return {"shard": batch["shard"], "row": batch["row"], "vector": np.asarray(vectors, dtype=np.float32)}
