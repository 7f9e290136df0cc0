"""The cite-worthiness model: a logistic regression kept as JSON, so scoring needs numpy alone.

The default model ships in this package (`model.json`, written by
scripts/train_citeworthiness.py from the eval papers). Per draft, `adapt` fits a
second, small model on the draft's own sentences: cited ones are labelled
positives, uncited ones are *unlabelled* (some of them are the gaps we look
for), so it learns P(cited | x) and corrects it to P(needs a citation | x) with
Elkan and Noto's constant c = E[P(cited | x) | x needs one], estimated on
held-out cited sentences. Every sentence is scored by a model fitted on other
folds (cross-fitting), so a sentence never grades itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citerec.errors import CiterecError

MODEL_FILE = Path(__file__).with_name("model.json")
FORMAT = "citerec-citeworthiness"
FORMAT_VERSION = 1
MIN_LABELLED = 8  # cited (and uncited) sentences a draft needs before adapting to it
FOLDS = 5


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

    def logit(self, x: np.ndarray) -> np.ndarray:
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


def adapt(prior_logit: np.ndarray, x: np.ndarray, cited: np.ndarray, *, seed: int = 0) -> np.ndarray | None:
    """P(needs a citation) for every sentence from the draft's own labels, cross-fitted; None when the draft
    has too few cited or uncited sentences to learn from (the prior model's score stands then).

    `x` holds the draft-level features (cues, section, neighbours' citations); the prior model's logit is one
    more feature, so a draft that behaves like the training papers keeps its ranking.
    """
    cited = cited.astype(bool)
    if cited.sum() < MIN_LABELLED or (~cited).sum() < MIN_LABELLED:
        return None
    z = np.hstack([prior_logit[:, None], x])
    mean, scale = z.mean(axis=0), z.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (z - mean) / scale
    rng = np.random.default_rng(seed)
    fold = np.empty(len(z), dtype=int)
    for group in (np.flatnonzero(cited), np.flatnonzero(~cited)):  # stratified: every fold has positives
        fold[group] = rng.permutation(len(group)) % FOLDS
    g = np.zeros(len(z))
    for k in range(FOLDS):
        test = fold == k
        coef, intercept = fit_logistic(z[~test], cited[~test].astype(np.float64), l2=3.0)
        g[test] = sigmoid(z[test] @ coef + intercept)
    c = float(g[cited].mean())  # Elkan–Noto: labelled share among true positives, on held-out cited sentences
    # P(needs one) = g / c, kept in [0, 1] without clipping (clipping ties the best sentences): 1 - (1 - g)^(1/c)
    # equals g / c to first order, is 1 at g = 1, and keeps the order.
    return 1.0 - np.power(1.0 - g, 1.0 / max(c, 1e-6))
