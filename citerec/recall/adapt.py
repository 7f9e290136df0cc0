"""Adapting the shipped ranking to one draft, from the draft's own cited passages, cross-fitted.

Drafts differ in how far their other citations should count: a thesis that cites
one toolkit in every chapter and a short paper whose sentences each cite a new
paper want different weights, and so do drafts whose nearby sentences cite the
same papers and drafts whose sentences share cited papers wherever they stand.
The shipped model's logit splits into what the readings say (R), what the
evidence's proximity prior says (where and how often the draft cites the paper
elsewhere, P) and what the citing sentences' wording says (D); per draft, a
logistic regression re-weighs the three, logit = a·R + b·P + d·D + c, fitted on
the draft's cited passages with the shipped weights as its prior (a Gaussian
around a = b = d = 1, c = 0), so a draft with little evidence keeps the shipped
model.

Cross-fitting keeps it honest: the cited passages fall into `FOLDS` folds, and a
passage is scored by weights fitted on the other folds, whose evidence is
computed without the passage's fold's citations. No passage is scored by a model
that saw its citations; passages without citations (placeholders) use weights
fitted on every cited passage.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from citerec.linear import Part, fit_logistic
from citerec.recall.features import PRIOR as PRIOR_SHARE
from citerec.recall.features import RANKER_FEATURES, READINGS, WORDING, PlanLists
from citerec.recall.folds import DraftRows

if TYPE_CHECKING:
    from citerec.index import Index

FOLDS = 5
PRIOR = np.array([1.0, 1.0, 1.0, 0.0])  # a, b, d, c of the shipped model
PRIOR_PRECISION = 16.0  # the prior's weight in log-likelihood per squared unit of change: of 1, 4 and 16, the
# one that kept every eval paper within 0.02 of the plans (finishing, leave-one-paper-out; docs/evaluation.md)
_COLUMNS = [RANKER_FEATURES.share(name) for name in (READINGS, PRIOR_SHARE, WORDING)]
assert all(c == list(range(c[0], c[-1] + 1)) for c in _COLUMNS)  # each share's features stand together
SHARES = tuple(slice(c[0], c[-1] + 1) for c in _COLUMNS)  # the columns of R, P and D


def split_logits(part: Part, features: np.ndarray) -> np.ndarray:
    """Rows x 3: the readings' share (R, with the bias), the proximity prior's (P) and the wording's (D)."""
    contributions = part.contributions(features)
    shares = np.stack([contributions[:, share].sum(axis=1) for share in SHARES], axis=1)
    shares[:, 0] += part.bias
    return shares


def weighed(part: Part, features: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows' logits under a draft's (a, b, d, c), and each feature's contribution, scaled by its share's weight."""
    contributions = part.contributions(features)
    for share, weight in zip(SHARES, weights[:-1], strict=True):
        contributions[:, share] *= weight
    return contributions.sum(axis=1) + weights[0] * part.bias + weights[-1], contributions


def adapted_weights(index: Index, lists: PlanLists, known: Sequence[Collection[str]], part: Part) -> list[np.ndarray]:
    """Each passage's (a, b, d, c): its draft's cross-fitted weights (the shipped ones where there is no fit)."""
    weights: list[np.ndarray] = [PRIOR] * len(lists.passages)
    by_draft: dict[str, list[int]] = {}
    for i, passage in enumerate(lists.passages):
        by_draft.setdefault(passage.draft, []).append(i)
    for members in by_draft.values():
        cited = [i for i in members if i < len(known) and known[i]]
        if len(cited) < 2:
            continue
        rows = DraftRows.read(index, lists, known, cited)  # once: each fold masks the held-out citations
        folds = min(FOLDS, len(cited))
        fold_of = {i: n % folds for n, i in enumerate(cited)}
        for fold in range(folds + 1):  # the last "fold" fits on every cited passage, for the uncited ones
            train = [n for n, i in enumerate(cited) if fold_of[i] != fold]
            x, y = rows.shares(train, lambda features: split_logits(part, features))
            fitted = _map_fit(np.column_stack([x, np.ones(len(x))]), y.astype(np.float64))
            for i in members:
                if (fold_of.get(i) == fold) if fold < folds else (i not in fold_of):
                    weights[i] = fitted
    return weights


def _map_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Maximum a posteriori logistic regression with a Gaussian prior around `PRIOR` (the shipped weights)."""
    return fit_logistic(x, y, PRIOR_PRECISION, centre=PRIOR)
