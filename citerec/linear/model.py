"""One file format for every linear model citerec ships: the learned ranking, the where-to-cite models.

A model file is JSON: the format and its version, the kind of model, the feature
names, one or more *parts* (each a standardisation and logistic weights over
those features), and an `info` block that says what made it: the embedder whose
vectors and cosines its features read, the training papers (their names and a
hash of the manifest), the hyperparameters, the held-out metrics it was chosen
on and the citerec version. Loading checks the format and, through
`check_embedder`, that the model reads the vectors it was trained on: a model
never scores another embedder's cosines silently. Loads are cached by path and
modification time, so a long-running server sees a retrained file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citerec.errors import CiterecError

FORMAT = "citerec-linear-model"
FORMAT_VERSION = 2  # 1 was two formats, the ranker's and the check models': their files were converted
DEFAULT_PART = "default"  # the part of a model that has one


class EmbedderMismatch(CiterecError):
    """A model asked to read the vectors of an embedder it was not trained on."""


def embedder_family(name: str) -> str:
    """The model an embedder name runs (`all-MiniLM-L6-v2@onnx-int8,doc128` → `all-MiniLM-L6-v2`): its ONNX
    variants (precision, document budget) give cosines within rounding of each other, another model does not."""
    return name.split("@", 1)[0].strip().lower().removeprefix("sentence-transformers/")


@dataclass(frozen=True)
class Part:
    """One logistic regression over standardised features: sigmoid(bias + Σ w·(x − mean)/scale)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """Each feature's share of each row's logit (rows x features)."""
        mean = np.asarray(self.mean, dtype=np.float32)
        scale = np.asarray(self.scale, dtype=np.float32)
        return (features - mean) / scale * np.asarray(self.weights, dtype=np.float32)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return self.contributions(features).sum(axis=1) + self.bias

    def exact_logits(self, features: np.ndarray) -> np.ndarray:
        """The logits in double precision (the where-to-cite models' scores, as they were trained)."""
        x = np.asarray(features, dtype=np.float64)
        return ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights) + self.bias

    def to_json(self) -> dict[str, object]:
        return {"mean": list(self.mean), "scale": list(self.scale), "weights": list(self.weights), "bias": self.bias}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Part:
        arrays = (tuple(float(v) for v in data[name]) for name in ("mean", "scale", "weights"))
        return cls(*arrays, float(data["bias"]))


@dataclass(frozen=True)
class ModelInfo:
    """What made a model: embedder (canonical name), training papers and manifest hash, hyperparameters,
    held-out metrics (what it was chosen on) and the citerec version that trained it."""

    embedder: str
    papers: tuple[str, ...] = ()
    manifest_hash: str = ""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    citerec_version: str = ""
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder,
            "training_papers": {"names": list(self.papers), "manifest_sha256": self.manifest_hash},
            "hyperparameters": dict(self.hyperparameters),
            "metrics": dict(self.metrics),
            "citerec_version": self.citerec_version,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelInfo:
        papers = data.get("training_papers", {})
        return cls(
            str(data["embedder"]),
            tuple(papers.get("names", ())),
            str(papers.get("manifest_sha256", "")),
            dict(data.get("hyperparameters", {})),
            dict(data.get("metrics", {})),
            str(data.get("citerec_version", "")),
            str(data.get("notes", "")),
        )


@dataclass(frozen=True)
class LinearModel:
    """A model file's content: its kind, the features it reads (by name), its parts and what made it."""

    kind: str
    features: tuple[str, ...]
    parts: Mapping[str, Part]
    info: ModelInfo

    def part(self, name: str = DEFAULT_PART) -> Part:
        return self.parts[name]

    def logit(self, x: np.ndarray, names: Sequence[str] | None = None, part: str = DEFAULT_PART) -> np.ndarray:
        """One part's logits in double precision; with `names` (x's columns) the model's features are picked out by
        name, so a caller with more columns, or in another order, is still read right."""
        if names is not None:
            column = {name: i for i, name in enumerate(names)}
            missing = [name for name in self.features if name not in column]
            if missing:
                raise CiterecError(f"the {self.kind} model needs features it was not given: {missing[:3]}")
            x = x[:, [column[name] for name in self.features]]
        if x.shape[1] != len(self.features):
            raise CiterecError(f"the {self.kind} model expects {len(self.features)} features, got {x.shape[1]}")
        return self.parts[part].exact_logits(x)

    def check_embedder(self, embedder: str, source: str = "") -> None:
        """EmbedderMismatch unless `embedder` runs the model this one was trained on."""
        if embedder_family(embedder) != embedder_family(self.info.embedder):
            where = f"{source}: " if source else ""
            raise EmbedderMismatch(
                f"{where}the {self.kind} model was trained on {self.info.embedder} vectors, not {embedder}'s"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "features": list(self.features),
            "parts": {name: part.to_json() for name, part in self.parts.items()},
            "info": self.info.to_json(),
        }

    def dumps(self) -> str:
        """The file's text: the same model always gives the same bytes."""
        return json.dumps(self.to_json(), indent=1) + "\n"

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 of the file's text: which model this is, whatever its file is called."""
        return hashlib.sha256(self.dumps().encode("utf-8")).hexdigest()

    def save(self, path: Path) -> None:
        """Written beside, then renamed over: a crash never leaves half a model."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(self.dumps(), encoding="utf-8")
        os.replace(partial, path)


def read_model(path: Path, kind: str | None = None) -> LinearModel:
    """The model in `path`; a one-line error naming the file when it is not one (or not of `kind`)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} file of format version {FORMAT_VERSION}")
        parts = {name: Part.from_json(part) for name, part in data["parts"].items()}
        model = LinearModel(str(data["kind"]), tuple(data["features"]), parts, ModelInfo.from_json(data["info"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CiterecError(f"{path}: not a citerec model ({exc}); retrain it with `citerec train`") from None
    for name, part in model.parts.items():
        if not len(part.mean) == len(part.scale) == len(part.weights) == len(model.features):
            raise CiterecError(f"{path}: part {name!r} has not one weight per feature")
    return _of_kind(model, path, kind)


def _of_kind(model: LinearModel, path: Path, kind: str | None) -> LinearModel:
    """`model`, or a one-line error when it is not of `kind` (None: any)."""
    if kind is not None and model.kind != kind:
        raise CiterecError(f"{path}: a {model.kind} model, not a {kind} model")
    return model


_loaded: dict[Path, tuple[tuple[int, int], LinearModel]] = {}
_loaded_lock = threading.Lock()


def load_model(path: Path, kind: str | None = None) -> LinearModel:
    """`read_model`, cached by path and modification time: read once, read again when the file changes."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise CiterecError(f"{path}: cannot read the model ({exc.strerror})") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _loaded_lock:
        cached = _loaded.get(path)
    if cached is not None and cached[0] == stamp:
        model = cached[1]
    else:
        model = read_model(path)
        with _loaded_lock:
            _loaded[path] = (stamp, model)
    return _of_kind(model, path, kind)
