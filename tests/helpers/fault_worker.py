"""A process for the SIGKILL tests: the real index build and rerank-cache writes, without model start-up.

`python -m tests.helpers.fault_worker index LIBRARY_DIR` rebuilds the index with a
hashing embedder (no torch: the process starts in under a second, so kills land
in the build itself); `... rerank-cache FILE ROUNDS` scores ROUNDS batches through
`CachedReranker` with a hashing judge, one cache transaction per batch.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DIMENSION = 64
BATCH = 25


class HashEmbedder:
    """Deterministic unit vectors from text hashes: the index code path with no model."""

    name = "test-hash-64"
    dimension = DIMENSION

    def format_document(self, paper) -> str:
        return paper.document_text()

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            rows.append(np.random.default_rng(seed).standard_normal(DIMENSION))
        vectors = np.asarray(rows, dtype=np.float32).reshape(-1, DIMENSION)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)

    def embed_documents(self, texts: Sequence[str], progress=None) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


def hash_score(query: str, document: str) -> float:
    digest = hashlib.sha256(f"{query}\x00{document}".encode()).digest()
    return int.from_bytes(digest[:4], "little") / 2**32


class HashJudge:
    model_name = "test-hash-judge"

    def score_pairs(self, pairs, *, instruction=None, progress=None) -> list[float]:
        return [hash_score(q, d) for q, d in pairs]


def rerank_pairs(rounds: int) -> list[list[tuple[str, str]]]:
    """The batches the worker scores, in order (the test recomputes them)."""
    return [[(f"query {r}", f"candidate paper {r}-{i}") for i in range(BATCH)] for r in range(rounds)]


def main(argv: list[str]) -> None:
    if argv[0] == "index":
        from citerec.index import update_index
        from citerec.library import Library

        update_index(Library(Path(argv[1])), embedder=HashEmbedder(), rebuild=True)
    elif argv[0] == "rerank-cache":
        from citerec.rerank.cache import CachedReranker

        judge = CachedReranker(HashJudge(), Path(argv[1]))
        for pairs in rerank_pairs(int(argv[2])):
            judge.score_pairs(pairs, instruction="judge")
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
