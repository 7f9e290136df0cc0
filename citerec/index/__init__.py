"""A library's index: BM25 + dense embeddings in FAISS, built, updated and searched.

`ensure_index(library)` builds or updates the index saved in
`library.index_dir` and returns an `Index`, a store that answers searches and
holds no recall settings (how passages are recalled is `citerec.recall`).
Modules: `text` (tokens BM25 sees), `bm25`, `dense` (FAISS), `terms` (BM25
weights by paper), `cache` (the recall cache file), `manifest` (what was built,
published last), `build` (incremental updates), `store` (opening and searching).
None of them imports torch or faiss at import time, and none imports
`citerec.recall`.
"""

from __future__ import annotations

from citerec.index.build import IndexChanges, UpdateReport, diff_library, ensure_index, update_index
from citerec.index.manifest import Manifest, read_manifest
from citerec.index.store import Index

__all__ = [
    "Index",
    "IndexChanges",
    "Manifest",
    "UpdateReport",
    "diff_library",
    "ensure_index",
    "read_manifest",
    "update_index",
]
