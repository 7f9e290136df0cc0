"""A tiny random embedder for tests: deterministic vectors from each text's words, no model weights at all."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from citerec.papers import Paper


class TinyRandomEmbedder:
    """Each word gets a fixed random vector (seeded by its hash); a text is the unit sum of its words' vectors.
    Texts sharing words are close, as with a real embedder, but its cosines are nothing like MiniLM's."""

    def __init__(self, name: str = "tiny-random-embedder", dimension: int = 16) -> None:
        self.name = name
        self.dimension = dimension

    def format_document(self, paper: Paper) -> str:
        return f"{paper.title}. {paper.abstract or ''}"

    def _vector(self, text: str) -> np.ndarray:
        total = np.zeros(self.dimension, dtype=np.float64)
        for word in text.lower().split():
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            total += np.random.default_rng(seed).normal(size=self.dimension)
        norm = np.linalg.norm(total)
        return (total / norm if norm > 0 else total).astype(np.float32)

    def embed_documents(self, texts: Sequence[str], progress: object = None) -> np.ndarray:
        return np.vstack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)
