"""`index/manifest.json`: what an index was built from, written last.

The index files of one build live in a fresh generation folder
(`index/gen-…/`); the manifest names that folder, the embedder, the FAISS
kind and the content hash of every paper in row order. Because the manifest is
renamed into place only after every file of its generation is on disk, a
reader never sees a half-written index: an interrupted build leaves the
previous manifest, still pointing at the previous complete generation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citerec.errors import LibraryError
from citerec.index.dense import DenseSpec
from citerec.index.text import TOKENIZER_VERSION
from citerec.papers import normalise_key
from citerec.storage import atomic_write_text

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
VECTORS_FILE = "vectors.npy"


@dataclass(frozen=True)
class Manifest:
    """The description of one complete index generation."""

    embedder: str
    dimension: int
    dense: DenseSpec
    generation: str  # folder under the index dir holding this build's files
    papers: tuple[tuple[str, str], ...]  # (key, content hash), row i = papers[i]
    created: str = ""
    normalised: bool = True
    metric: str = "inner_product"
    tokenizer_version: int = TOKENIZER_VERSION
    format_version: int = FORMAT_VERSION
    library_version: str = ""  # `Library.version()` it was built from: equal means nothing to diff
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.papers]

    def hashes(self) -> dict[str, str]:
        """Content hash by normalised (case-insensitive) key."""
        return {normalise_key(key): digest for key, digest in self.papers}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "embedder": self.embedder,
            "dimension": self.dimension,
            "normalised": self.normalised,
            "metric": self.metric,
            "faiss": self.dense.to_dict(),
            "tokenizer_version": self.tokenizer_version,
            "generation": self.generation,
            "created": self.created,
            "size": len(self.papers),
            "library_version": self.library_version,
            **({"extra": self.extra} if self.extra else {}),
            "papers": dict(self.papers),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            embedder=str(data["embedder"]),
            dimension=int(data["dimension"]),
            dense=DenseSpec.from_dict(data["faiss"]),
            generation=str(data["generation"]),
            papers=tuple((str(k), str(v)) for k, v in data["papers"].items()),
            created=str(data.get("created", "")),
            normalised=bool(data.get("normalised", True)),
            metric=str(data.get("metric", "inner_product")),
            tokenizer_version=int(data.get("tokenizer_version", 0)),
            format_version=int(data["format_version"]),
            library_version=str(data.get("library_version", "")),
            extra=dict(data.get("extra", {})),
        )


def read_manifest(index_dir: Path) -> Manifest | None:
    """The manifest in `index_dir`, or None when there is none; LibraryError when unreadable."""
    path = index_dir / MANIFEST_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Manifest.from_dict(json.loads(data.decode("utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LibraryError(f"{path}: corrupt index manifest ({exc}); run `citerec index build --rebuild`") from exc


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    atomic_write_text(index_dir / MANIFEST_FILE, json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1) + "\n")
