"""Embedders run by sentence-transformers (torch): any hub or local model, on the GPU when there is one.

torch and sentence_transformers are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from citerec.embed.base import MAX_SEQ_LENGTH, Profile, normalise_rows, profile_for
from citerec.embed.names import _not_offline, resolve_model
from citerec.errors import ModelError
from citerec.papers import Paper
from citerec.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """An `Embedder` over a loaded sentence-transformers model."""

    def __init__(
        self, model: SentenceTransformer, name: str, *, profile: Profile | None = None, batch_size: int = 32
    ) -> None:
        self.model = model
        self.name = name
        self.profile = profile or profile_for(name)
        self.batch_size = batch_size
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if not dimension:
            raise ModelError(f"model {name} does not declare an embedding dimension")
        self.dimension = int(dimension)
        sep = self.profile.title_separator
        if sep == "[SEP]":
            sep = getattr(model.tokenizer, "sep_token", None) or sep
        self._separator = sep

    def format_document(self, paper: Paper) -> str:
        if self._separator is not None:
            return f"{paper.title}{self._separator}{paper.abstract}" if paper.abstract else paper.title
        return paper.document_text()

    def embed_documents(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        return self._encode(texts, self.profile.document_prompt, progress or no_progress, "embedding papers")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.profile.query_prompt, no_progress, "embedding queries")

    def _encode(self, texts: Sequence[str], prompt: str, progress: ProgressCallback, stage: str) -> np.ndarray:
        """Encode in length-sorted batches (less padding), reporting progress after each batch."""
        total = len(texts)
        out = np.zeros((total, self.dimension), dtype=np.float32)
        if total == 0:
            return out
        order = sorted(range(total), key=lambda i: len(texts[i]), reverse=True)
        progress(stage, 0, total)
        for start in range(0, total, self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = [texts[i] for i in rows]
            vectors = self.model.encode(
                batch,
                batch_size=len(batch),
                prompt=prompt or None,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
            out[rows] = vectors
            progress(stage, min(start + len(batch), total), total)
        return normalise_rows(out)


def default_device() -> str:
    """`cuda` when a GPU is usable, else `mps` on Apple silicon, else `cpu`."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


@functools.lru_cache(maxsize=4)
def _load_model(source: str, device: str, local: bool) -> Any:
    """Load once per process: opening several indexes must not reload the weights."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(source, device=device, local_files_only=local)
    if model.max_seq_length is None or model.max_seq_length > MAX_SEQ_LENGTH:
        model.max_seq_length = MAX_SEQ_LENGTH
    if device.startswith("cuda"):
        model.half()
    return model


def load_sentence_transformer(
    canonical: str, *, device: str | None = None, batch_size: int | None = None
) -> SentenceTransformerEmbedder:
    """The sentence-transformers model `canonical` (a name `embedder_name` gave), loaded once per process."""
    display, source, local = resolve_model(canonical)
    device = device or default_device()
    try:
        model = _load_model(source, device, local)
    except ModelError:
        raise
    except Exception as exc:  # download failures, missing files, bad configs
        if not local:
            raise _not_offline(display) from exc
        raise ModelError(f"cannot load embedder {display}: {exc}") from exc
    if batch_size is None:
        batch_size = 128 if device.startswith("cuda") else 32
    log.info("embedder %s loaded on %s (batch size %d)", display, device, batch_size)
    return SentenceTransformerEmbedder(model, display, batch_size=batch_size)
