"""The LLM judge: Qwen3-Reranker scores (citation context, candidate paper) pairs.

Importing this package is cheap: backends (torch, transformers, vLLM, an HTTP
client) are imported only when `load_reranker` picks one by name.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from citerec.errors import ModelError
from citerec.rerank.base import (
    DEFAULT_INSTRUCTION,
    DEFAULT_MAX_LENGTH,
    DEFAULT_RERANKER,
    Reranker,
    format_document,
    format_prompt,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_INSTRUCTION",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_RERANKER",
    "Reranker",
    "format_document",
    "format_prompt",
    "load_reranker",
]

# backend name -> "module:loader"; every loader takes (name, *, device, batch_size, max_length).
BACKENDS: dict[str, str] = {
    "hf": "citerec.rerank.hf:load_hf_reranker",
    "vllm": "citerec.rerank.vllm:load_vllm_reranker",
    "server": "citerec.rerank.server:load_server_reranker",
}


def load_reranker(
    name: str = DEFAULT_RERANKER,
    *,
    backend: str = "hf",
    device: str | None = None,
    batch_size: int | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    cache_path: Path | None = None,
) -> Reranker:
    """A reranker by model name or folder; `backend` is "hf", "vllm" or the http(s) URL of a vLLM server.

    With `cache_path`, scores are kept in a SQLite file and never computed twice.
    Raises `ModelError` when the model or the backend is not available.
    """
    if backend.startswith(("http://", "https://")):
        from citerec.rerank.server import load_server_reranker

        reranker: Reranker = load_server_reranker(name, url=backend, batch_size=batch_size, max_length=max_length)
    else:
        target = BACKENDS.get(backend)
        if target is None or backend == "server":
            known = ", ".join(b for b in BACKENDS if b != "server")
            raise ModelError(f"unknown reranker backend {backend!r}: use {known} or the URL of a vLLM server")
        module_name, _, attr = target.partition(":")
        loader = getattr(importlib.import_module(module_name), attr)
        reranker = loader(name, device=device, batch_size=batch_size, max_length=max_length)
    if cache_path is not None:
        from citerec.rerank.cache import CachedReranker

        reranker = CachedReranker(reranker, cache_path)
    return reranker
