"""Sentence embeddings through ONNX Runtime: the same model, about 3x faster on a CPU, and no torch at run time.

A variant name such as `all-MiniLM-L6-v2@onnx-int8,doc128` says: this model,
exported to ONNX, its operators fused by ONNX Runtime's transformer optimizer,
its matrix weights quantised to int8 per output channel, and documents cut at
128 tokens (title + abstract). Queries keep the model's own limit: a passage is
short and there is one per request. Each part was measured on the eval papers
(see `benchmarks/embed_speed.py`).

The export needs torch and transformers once; the result is cached under
`$CITEREC_CACHE_DIR` (default: the XDG cache folder) in a folder keyed by the
model's files and the export recipe, with a sidecar holding the file's SHA-256.
A damaged or half-written cached model is detected by that hash and exported
again. Loading and running need only onnxruntime and `tokenizers`, so a CLI run
does not pay torch's import time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citerec.embed.base import Profile, normalise_rows, profile_for
from citerec.embed.names import Variant, cache_root, parse_variant, resolve_model
from citerec.errors import ModelError
from citerec.onnx_tools import WorkerPool, cached_session, default_workers, fuse_bert, quantise_int8
from citerec.papers import Paper
from citerec.progress import ProgressCallback, no_progress
from citerec.storage import file_lock, file_sha256

log = logging.getLogger(__name__)

EXPORT_RECIPE = 1  # bump when the export, fusion or quantisation changes: old cached models are then ignored
OPSET = 17
QUERY_TOKENS = 256  # all-MiniLM-L6-v2 was trained at 256 tokens; sentence-transformers' limit for it
_CHUNK = 256  # texts tokenised at once and reported to the progress bar together
_export_lock = threading.Lock()


# -- the model folder -------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceModel:
    """What the export and the run need to know of a sentence-transformers folder (read without torch)."""

    folder: Path
    weights: Path
    dimension: int
    num_heads: int
    max_tokens: int

    @classmethod
    def read(cls, folder: Path, name: str) -> SourceModel:
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            st_config = _read_json(folder / "sentence_bert_config.json")
            pooling = _pooling_config(folder)
        except (OSError, ValueError) as exc:
            raise ModelError(f"embedder {name}: cannot read the model's configuration ({exc})") from exc
        if config.get("model_type") != "bert" or not pooling.get("pooling_mode_mean_tokens"):
            raise ModelError(f"embedder {name}: ONNX variants support mean-pooled BERT models only; drop the @ part")
        if not (folder / "tokenizer.json").is_file():
            raise ModelError(f"embedder {name}: no tokenizer.json in {folder}")
        weights = next((folder / f for f in ("model.safetensors", "pytorch_model.bin") if (folder / f).is_file()), None)
        if weights is None:
            raise ModelError(f"embedder {name}: no model weights in {folder}")
        max_tokens = int(st_config.get("max_seq_length") or config.get("max_position_embeddings") or QUERY_TOKENS)
        return cls(
            folder=folder,
            weights=weights,
            dimension=int(config["hidden_size"]),
            num_heads=int(config["num_attention_heads"]),
            max_tokens=min(max_tokens, int(config.get("max_position_embeddings", max_tokens))),
        )

    def fingerprint(self) -> str:
        """A short key for the cached export: the configuration, the weights' size and edges, the recipe."""
        digest = hashlib.sha256(f"recipe={EXPORT_RECIPE};opset={OPSET};ort={_ort_version()}".encode())
        for name in ("config.json", "tokenizer.json", "sentence_bert_config.json"):
            path = self.folder / name
            digest.update(path.read_bytes() if path.is_file() else b"-")
        size = self.weights.stat().st_size
        digest.update(str(size).encode())
        with self.weights.open("rb") as handle:  # the safetensors header names every tensor; the tail ends the data
            digest.update(handle.read(1 << 16))
            handle.seek(max(0, size - (1 << 16)))
            digest.update(handle.read())
        return digest.hexdigest()[:16]


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _pooling_config(folder: Path) -> dict[str, Any]:
    modules = _read_json(folder / "modules.json") or []
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            return _read_json(folder / module.get("path", "") / "config.json")
    return {}


def _ort_version() -> str:
    import onnxruntime

    return ".".join(onnxruntime.__version__.split(".")[:2])


# -- the cached export ------------------------------------------------------------------------
def _cached_file(variant: Variant, source: SourceModel) -> Path:
    """Where the export of `variant` lives in the cache (it may not be there yet)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", variant.model.strip("/"))[-60:]
    return cache_root() / "onnx" / f"{slug}-{source.fingerprint()}" / f"model-{variant.precision}.onnx"


def export_pending(name: str) -> bool:
    """Whether the embedder `name` is an ONNX variant whose one-time export is still to be made.

    The export takes 10–25 s on a laptop, so the command line says so before it starts.
    """
    model, _, suffix = name.rpartition("@")
    if not model:
        return False
    try:
        display, folder, local = resolve_model(model)
        variant = parse_variant(display, suffix)
        return local and not _valid(_cached_file(variant, SourceModel.read(Path(folder), display)))
    except (ModelError, OSError, ImportError):
        return False  # loading will report the problem itself


def model_path(variant: Variant, source: SourceModel) -> Path:
    """The ONNX file of `variant`, exported (or repaired) first when the cache lacks a valid one."""
    target = _cached_file(variant, source)
    folder = target.parent
    if _valid(target):
        return target
    try:
        with _export_lock, file_lock(folder / ".lock"):
            if _valid(target):  # another process or thread exported it meanwhile
                return target
            if target.exists():
                log.warning("cached ONNX model %s is damaged; exporting it again", target)
            log.info("exporting %s to ONNX (%s) into %s", variant.model, variant.precision, folder)
            _export(source, variant.precision, target)
    except OSError as exc:
        raise ModelError(f"cannot write the ONNX model cache in {folder} ({exc}); set CITEREC_CACHE_DIR") from exc
    return target


def _valid(target: Path) -> bool:
    """The file exists and its bytes are those recorded when it was written."""
    sidecar = target.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        return target.stat().st_size == meta["size"] and file_sha256(target) == meta["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _publish(produced: Path, target: Path) -> None:
    """Move `produced` into place, then write the sidecar that makes it valid (last, so a crash leaves it invalid)."""
    meta = {"sha256": file_sha256(produced), "size": produced.stat().st_size, "recipe": EXPORT_RECIPE}
    os.replace(produced, target)
    sidecar_tmp = target.with_suffix(".json.tmp")
    sidecar_tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(sidecar_tmp, target.with_suffix(".json"))


def _export(source: SourceModel, precision: str, target: Path) -> None:
    """torch export -> ONNX Runtime operator fusion -> (int8) per-channel dynamic quantisation of the MatMuls."""
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        _torch_export(source, raw)
        fused = Path(tmp) / "fused.onnx"
        _fuse(source, raw, fused)
        if precision == "int8":
            quantised = Path(tmp) / "int8.onnx"
            _quantise(fused, quantised)
            fused = quantised
        _publish(fused, target)


def _torch_export(source: SourceModel, out: Path) -> None:
    """Trace the transformer plus mean pooling into one graph: inputs token ids and mask, output the sentence vector."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelError(f"exporting {source.folder} to ONNX needs torch and transformers ({exc})") from exc

    class MeanPooled(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a one-off export should not draw a weight-loading bar in the CLI
    model = AutoModel.from_pretrained(str(source.folder), attn_implementation="eager").eval()
    sample = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python control flow on shapes; checked by the tests
        torch.onnx.export(
            MeanPooled(model),
            (sample, sample, torch.zeros_like(sample)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "sentence_embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def _fuse(source: SourceModel, raw: Path, out: Path) -> None:
    fuse_bert(raw, out, num_heads=source.num_heads, hidden_size=source.dimension)


def _quantise(fused: Path, out: Path) -> None:
    """MatMuls only: per-tensor scales or a quantised attention kernel cost MiniLM far more accuracy (mean cosine
    to fp32 0.957 and 0.995 vs 0.9965)."""
    quantise_int8(fused, out)


# -- running ----------------------------------------------------------------------------------
class OnnxEmbedder:
    """An `Embedder` running an exported model with onnxruntime and a `tokenizers` tokenizer.

    Each text runs alone (no padding), on `workers` threads that share one single-threaded
    session. Alone because int8 dynamic quantisation scales activations over the whole input
    tensor: in a batch, a text's vector would depend on its neighbours (cosine 0.996 to itself
    embedded alone), so vectors of the same paper would differ between an incremental update and
    a rebuild. Measured on this 2-core machine, one text per call on two threads was as fast as
    padded batches of 32 on a two-thread session.
    """

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        variant: Variant,
        source: SourceModel,
        *,
        workers: int,
        profile: Profile | None = None,
        chunk: int = _CHUNK,
    ) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.variant = variant
        self.name = variant.name
        self.dimension = source.dimension
        self.profile = profile or profile_for(variant.model)
        self.workers = max(1, workers)
        self.pool = WorkerPool(self.workers, "citerec-embed")
        self.chunk = chunk
        self.query_tokens = source.max_tokens
        self.doc_tokens = min(variant.doc_tokens or source.max_tokens, source.max_tokens)
        self._inputs = {i.name for i in session.get_inputs()}

    def format_document(self, paper: Paper) -> str:
        return paper.document_text()

    def embed_documents(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        prompt = self.profile.document_prompt
        return self._encode(texts, prompt, self.doc_tokens, progress or no_progress, "embedding papers")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.profile.query_prompt, self.query_tokens, no_progress, "embedding queries")

    def _encode(
        self, texts: Sequence[str], prompt: str, max_tokens: int, progress: ProgressCallback, stage: str
    ) -> np.ndarray:
        """Unit rows in input order; texts truncated to `max_tokens` word pieces ([CLS] and [SEP] kept)."""
        total = len(texts)
        out = np.zeros((total, self.dimension), dtype=np.float32)
        if total == 0:
            return out
        progress(stage, 0, total)
        for start in range(0, total, self.chunk):
            batch = [prompt + text for text in texts[start : start + self.chunk]]
            tokens = [_truncate(e.ids, max_tokens) for e in self.tokenizer.encode_batch(batch)]
            vectors = self.pool.map(self._run, tokens)
            out[start : start + len(batch)] = vectors
            progress(stage, start + len(batch), total)
        return normalise_rows(out)

    def _run(self, ids: list[int]) -> np.ndarray:
        input_ids = np.asarray([ids], dtype=np.int64)
        feed = {
            "input_ids": input_ids,
            "attention_mask": np.ones_like(input_ids),
            "token_type_ids": np.zeros_like(input_ids),
        }
        return self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]


def _truncate(ids: list[int], max_tokens: int) -> list[int]:
    """The first `max_tokens` - 1 ids and the final [SEP], as the tokenizer's own truncation gives."""
    return ids if len(ids) <= max_tokens else ids[: max_tokens - 1] + ids[-1:]


def _recorded_sha256(path: Path) -> str:
    return str(json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["sha256"])


def load_onnx_embedder(
    name: str, *, threads: int | None = None, batch_size: int | None = None, device: str | None = None
) -> OnnxEmbedder:
    """The ONNX variant `model@onnx-…`, exported on first use, embedding on `threads` threads (default: one per
    CPU); `batch_size` is how many texts go between progress reports."""
    model, _, suffix = name.rpartition("@")
    display, folder, local = resolve_model(model)
    if not local:
        raise ModelError(f"model {display} is not available offline; ONNX variants need a local model")
    variant = parse_variant(display, suffix)
    source = SourceModel.read(Path(folder), display)
    path = model_path(variant, source)
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ModelError(f"embedder {variant.name} needs onnxruntime and tokenizers ({exc})") from exc
    providers = ("CPUExecutionProvider",)
    if device and device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers = ("CUDAExecutionProvider", *providers)
    try:
        session = cached_session(str(path), _recorded_sha256(path), 1, providers)
    except Exception as exc:  # noqa: BLE001 - a file that passed its hash but does not load: export again
        log.warning("cached ONNX model %s does not load (%s); exporting it again", path, exc)
        path.with_suffix(".json").unlink(missing_ok=True)
        path = model_path(variant, source)
        session = cached_session(str(path), _recorded_sha256(path), 1, providers)
    tokenizer = Tokenizer.from_file(str(source.folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    log.info("embedder %s loaded from %s (%s)", variant.name, path, ", ".join(session.get_providers()))
    workers = threads or default_workers()
    return OnnxEmbedder(session, tokenizer, variant, source, workers=workers, chunk=batch_size or _CHUNK)
