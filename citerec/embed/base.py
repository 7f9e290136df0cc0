"""What every embedder shares: the protocol the index depends on, model-family prompts, unit rows.

Importing this module sets the OpenMP wait policy (see `prefer_passive_openmp`)
before torch or faiss can load their runtimes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from citerec.papers import Paper
from citerec.progress import ProgressCallback


def prefer_passive_openmp() -> None:
    """Make idle OpenMP threads sleep instead of spin, unless the user chose otherwise.

    torch and faiss-cpu each bundle their own OpenMP runtime. With the default
    spin-waiting, one runtime's idle threads burn the cores the other needs:
    on a 2-core machine a query embedding right after a FAISS search took
    265 ms instead of 47 ms. The runtimes read this at load time, so it is set
    when citerec's embedding/index modules are imported, before torch or faiss.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


prefer_passive_openmp()

CITATION_INSTRUCTION = "Given a passage from a scientific paper, retrieve papers that it should cite"
MAX_SEQ_LENGTH = 512  # abstracts fit; caps memory for long-context models such as Qwen3-Embedding


class Embedder(Protocol):
    """Turns papers and query passages into L2-normalised float32 vectors of one dimension."""

    name: str
    dimension: int

    def format_document(self, paper: Paper) -> str:
        """The text of `paper` that this model was trained to embed as a document."""
        ...

    def embed_documents(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Profile:
    """How a model family wants its inputs: prompt prefixes and the title/abstract join."""

    query_prompt: str = ""
    document_prompt: str = ""
    title_separator: str | None = None  # None: "Title. Abstract"; else title + sep + abstract


# Matched against the lower-cased model name, first hit wins.
PROFILES: tuple[tuple[str, Profile], ...] = (
    ("qwen3-embedding", Profile(query_prompt=f"Instruct: {CITATION_INSTRUCTION}\nQuery: ")),
    ("specter", Profile(title_separator="[SEP]")),  # replaced by the tokenizer's sep token
    ("e5-", Profile(query_prompt="query: ", document_prompt="passage: ")),
)


def profile_for(name: str) -> Profile:
    lowered = name.lower()
    for pattern, profile in PROFILES:
        if pattern in lowered:
            return profile
    return Profile()


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows of unit length (zero rows stay zero), as inner-product search needs."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
