"""Hybrid recall over a library: BM25 + dense embeddings in FAISS, fused by reciprocal rank.

`ensure_index(library)` builds or updates the index saved in
`library.index_dir` and returns an `Index`; `Index.recall(passage)` returns
`Candidate`s. Modules: `text` (tokens BM25 sees), `bm25`, `dense` (FAISS),
`fusion` (RRF and score fusion), `manifest` (what was built, published last),
`build` (incremental updates), `recall` (opening and querying), `plans` (the
reading plan each draft is recalled with). None of them imports
torch or faiss at import time.
"""

from __future__ import annotations

from citerec.index.build import IndexChanges, UpdateReport, diff_library, ensure_index, update_index
from citerec.index.fusion import RRF_K, reciprocal_rank_fusion
from citerec.index.manifest import Manifest, read_manifest
from citerec.index.plans import PlanChoice
from citerec.index.recall import METHODS, Candidate, FusionSettings, Index

__all__ = [
    "METHODS",
    "RRF_K",
    "Candidate",
    "FusionSettings",
    "Index",
    "IndexChanges",
    "Manifest",
    "PlanChoice",
    "UpdateReport",
    "diff_library",
    "ensure_index",
    "read_manifest",
    "reciprocal_rank_fusion",
    "update_index",
]
