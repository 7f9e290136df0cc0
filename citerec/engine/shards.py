"""Vector shards: the unit of work, and of resumption, of a distributed index build.

The papers to embed are cut into shards of consecutive rows. A shard is named
by a hash of its embedder and of its papers' (key, content hash) pairs, so the
name says exactly what its vectors are: a rerun of an interrupted build plans
the same shards, finds the finished ones on disk and embeds only the rest; a
paper edited meanwhile changes its shard's name, so stale vectors are never
re-used. A shard is two files written atomically beside the index
(`index/shards/<name>.npy` with the vectors, `<name>.keys.json` with its keys),
the vectors last, so a shard whose `.npy` exists is complete.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citerec.errors import LibraryError
from citerec.storage import atomic_open, atomic_write_text

SHARDS_DIR = "shards"
DEFAULT_SHARD_SIZE = 1024  # papers per shard: a few seconds of work per CPU worker, little lost when killed


@dataclass(frozen=True)
class Shard:
    """A block of papers to embed: its content-derived name and (key, content hash) pairs in row order."""

    name: str
    papers: tuple[tuple[str, str], ...]

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.papers]


def shard_name(embedder: str, papers: Sequence[tuple[str, str]]) -> str:
    """Hash of the embedder and the block's (key, content hash) pairs: equal names, equal vectors."""
    digest = hashlib.sha256(embedder.encode("utf-8"))
    for key, content_hash in papers:
        digest.update(b"\0" + key.encode("utf-8") + b"\t" + content_hash.encode("utf-8"))
    return digest.hexdigest()[:32]


def plan_shards(embedder: str, papers: Sequence[tuple[str, str]], size: int = DEFAULT_SHARD_SIZE) -> list[Shard]:
    """Cut `papers` into shards of `size` consecutive papers (the last one may be shorter)."""
    if size < 1:
        raise ValueError("shard size must be at least 1")
    shards = []
    for start in range(0, len(papers), size):
        block = tuple((str(k), str(h)) for k, h in papers[start : start + size])
        shards.append(Shard(shard_name(embedder, block), block))
    return shards


class ShardStore:
    """The shard files of one index folder."""

    def __init__(self, index_dir: Path) -> None:
        self.folder = Path(index_dir) / SHARDS_DIR

    def _vectors(self, name: str) -> Path:
        return self.folder / f"{name}.npy"

    def _keys(self, name: str) -> Path:
        return self.folder / f"{name}.keys.json"

    def has(self, shard: Shard) -> bool:
        return self._vectors(shard.name).is_file() and self._keys(shard.name).is_file()

    def write(self, shard: Shard, vectors: np.ndarray) -> None:
        """Save a finished shard: keys first, vectors last (their presence marks the shard complete)."""
        if vectors.shape[0] != len(shard.papers):
            raise ValueError(f"shard {shard.name}: {vectors.shape[0]} vectors for {len(shard.papers)} papers")
        atomic_write_text(self._keys(shard.name), json.dumps(shard.keys, ensure_ascii=False))
        with atomic_open(self._vectors(shard.name), "wb", encoding=None) as handle:
            np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)

    def read(self, shard: Shard) -> np.ndarray:
        """A finished shard's vectors; LibraryError when its files do not match the plan."""
        path = self._vectors(shard.name)
        try:
            keys = json.loads(self._keys(shard.name).read_text(encoding="utf-8"))
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise LibraryError(f"{path}: unreadable vector shard ({exc}); run `citerec index build --rebuild`") from exc
        if keys != shard.keys or vectors.ndim != 2 or vectors.shape[0] != len(keys):
            raise LibraryError(f"{path}: vector shard does not match its papers; run `citerec index build --rebuild`")
        return vectors

    def discard(self, shard: Shard) -> None:
        self._vectors(shard.name).unlink(missing_ok=True)
        self._keys(shard.name).unlink(missing_ok=True)

    def clear(self) -> None:
        """Drop every shard (once their vectors are in a published index generation)."""
        shutil.rmtree(self.folder, ignore_errors=True)
