"""The judges: Qwen3-Reranker scores (citation context, candidate paper) pairs; the small judge does on any CPU.

Importing this package is cheap: backends (torch, transformers, vLLM, an HTTP
client, ONNX Runtime) are imported only when `load_reranker` picks one by name.
The small judge (`citerec-small`, `citerec.rerank.small`) is picked by its name
or its folder, whatever the backend says.
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
    recall_order_fusion,
)
from citerec.rerank.small import SMALL_JUDGE, is_small_judge

__all__ = [
    "BACKENDS",
    "DEFAULT_INSTRUCTION",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_RERANKER",
    "SMALL_JUDGE",
    "Reranker",
    "format_document",
    "format_prompt",
    "is_small_judge",
    "load_reranker",
    "recall_order_fusion",
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
    """A reranker by model name or folder; `backend` is "hf", "vllm" or the http(s) URL of a vLLM server (Qwen3).

    `citerec-small` (or a folder written by `citerec train judge`) is the small judge on ONNX Runtime.
    With `cache_path`, scores are kept in a SQLite file and never computed twice.
    Raises `ModelError` when the model or the backend is not available.
    """
    if is_small_judge(name):
        if backend != "hf":
            raise ModelError(f"{name} runs on this machine's CPU through ONNX Runtime; --backend is for Qwen3 judges")
        from citerec.rerank.small import load_small_judge

        reranker: Reranker = load_small_judge(name, device=device, batch_size=batch_size, max_length=max_length)
    elif backend.startswith(("http://", "https://")):
        from citerec.rerank.server import load_server_reranker

        reranker = load_server_reranker(name, url=backend, batch_size=batch_size, max_length=max_length)
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
