"""The cite-worthiness model: a logistic regression kept as JSON, so scoring needs numpy alone.

Three models ship in this package, all written by scripts/train_citeworthiness.py
from the eval papers only:

- `model.json`, the prior: P(a sentence cites | its text, paragraph, position,
  and how strongly the library answers it). The draft model reads its logit.
- `fresh_model.json`, the same with the library's pointers (whether the papers
  recalled for a sentence describe it best among the draft's sentences): what a
  first draft, whose citations say nothing yet, is scored by.
- `draft_model.json`, the draft model: for a draft that already cites, it reads
  the prior's logit with what the draft's own citations say around each
  uncited sentence (its paragraph, its neighbours, the sentences most alike in
  wording; features.draft_features). It is trained on the papers with a random
  share of their citations hidden (10-50 %, several draws), to rank the hidden
  ones above the sentences that never cited: the writer's uncited sentences
  are unlabelled, not negatives, and the model learns from drafts where we know
  which unlabelled ones were gaps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citerec.errors import CiterecError

MODEL_FILE = Path(__file__).with_name("model.json")
FRESH_MODEL_FILE = Path(__file__).with_name("fresh_model.json")
DRAFT_MODEL_FILE = Path(__file__).with_name("draft_model.json")
FORMAT = "citerec-citeworthiness"
FORMAT_VERSION = 1
MIN_LABELLED = 8  # cited (and uncited) sentences a draft needs before its citations are read


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 25) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (x standardised; the intercept is not penalised)."""
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 1e-8
    for _ in range(iterations):
        p = sigmoid(a @ w)
        grad = a.T @ (p - y) + penalty * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-4:
            break
    return w[:-1], float(w[-1])


@dataclass(frozen=True)
class CiteModel:
    """Standardisation plus logistic weights over named features."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    version: str = "1"
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        names: list[str],
        *,
        l2: float = 1.0,
        version: str = "1",
    ) -> CiteModel:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        coef, intercept = fit_logistic((x - mean) / scale, y.astype(np.float64), l2=l2)
        return cls(tuple(names), mean, scale, coef, intercept, version)

    def logit(self, x: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """The model's logit; with `names` (x's columns), the model's own features are picked out by name."""
        if names is not None:
            column = {name: i for i, name in enumerate(names)}
            missing = [name for name in self.names if name not in column]
            if missing:
                raise CiterecError(f"the cite-worthiness model needs features it was not given: {missing[:3]}")
            x = x[:, [column[name] for name in self.names]]
        if x.shape[1] != len(self.names):
            raise CiterecError(f"the cite-worthiness model expects {len(self.names)} features, got {x.shape[1]}")
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "info": self.info,
            "names": list(self.names),
            "intercept": _short(self.intercept),
            "mean": [_short(v) for v in self.mean],
            "scale": [_short(v) for v in self.scale],
            "coef": [_short(v) for v in self.coef],
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=0) + "\n", encoding="utf-8")


def _short(value: float) -> float:
    """Seven significant digits: a small file that keeps tiny scales (some MiniLM dimensions barely vary)."""
    return float(f"{float(value):.7g}")


def load_model(path: Path | None = None) -> CiteModel:
    """The shipped model (or the one at `path`); a clear error for a file that is not one."""
    path = path or MODEL_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CiterecError(f"{path}: cannot read the cite-worthiness model ({exc})") from None
    if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        raise CiterecError(f"{path}: not a {FORMAT} model of format version {FORMAT_VERSION}")
    return CiteModel(
        names=tuple(data["names"]),
        mean=np.array(data["mean"]),
        scale=np.array(data["scale"]),
        coef=np.array(data["coef"]),
        intercept=float(data["intercept"]),
        version=str(data["version"]),
        info=data.get("info", {}),
    )
