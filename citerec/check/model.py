"""The cite-worthiness models: linear models in citerec's one model format (`citerec.linear`).

Three models ship in this package, all written by `citerec train check`:

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

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from citerec.linear import DEFAULT_PART, LinearModel, ModelInfo, Part, fit_standardised
from citerec.linear import load_model as load_linear

MODEL_FILE = Path(__file__).with_name("model.json")
FRESH_MODEL_FILE = Path(__file__).with_name("fresh_model.json")
DRAFT_MODEL_FILE = Path(__file__).with_name("draft_model.json")
KINDS = {MODEL_FILE.name: "check-prior", FRESH_MODEL_FILE.name: "check-fresh", DRAFT_MODEL_FILE.name: "check-draft"}
MIN_LABELLED = 8  # cited (and uncited) sentences a draft needs before its citations are read


def fit_model(
    x: np.ndarray, y: np.ndarray, names: Sequence[str], *, l2: float, kind: str, info: ModelInfo
) -> LinearModel:
    """A cite-worthiness model fitted on rows `x` (columns `names`) labelled `y` (L2-penalised, standardised)."""
    mean, scale, weights, bias = fit_standardised(x, y, l2)
    part = Part(tuple(mean.tolist()), tuple(scale.tolist()), tuple(weights.tolist()), bias)
    return LinearModel(kind, tuple(names), {DEFAULT_PART: part}, info)


def load_model(path: Path | None = None) -> LinearModel:
    """The shipped prior (or the model at `path`); a clear error for a file that is not one."""
    return load_linear(path or MODEL_FILE)


def model_version(model: LinearModel) -> str:
    """What `citerec check --format json` reports as the model's version: the file's content, short."""
    return model.digest[:12]
