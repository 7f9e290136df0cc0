"""The learned combination: one logistic-regression score per candidate, instead of hand-set plan switches.

A passage's candidates (`features.candidate_rows`) are scored by a small model
shipped with citerec (`models/ranker.json`, trained by `citerec train ranker`
on the corpus's train split, 103 papers; chosen on dev, measured on the test
split, the eval papers and ACM-CR, none of which it saw). The model
has two parts: *finishing*, for passages whose draft cites library papers
elsewhere (the draft evidence counts), and *fresh*, for passages without any
(a first draft: only the readings count). Inference is numpy alone. Each
suggestion's "why" names the features that raised its score most.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from citerec.choices import Plan
from citerec.errors import CiterecError
from citerec.linear import EmbedderMismatch, LinearModel, Part, load_model
from citerec.recall.adapt import PRIOR, adapted_weights, weighed
from citerec.recall.evidence import PaperEvidence, why_cited
from citerec.recall.features import (
    CONTEXT_FEATURES,
    EVIDENCE_FEATURES,
    FEATURES,
    Clauses,
    PlanLists,
    Rows,
    Sentences,
    candidate_rows,
)
from citerec.recall.spec import Candidate, Passage, RecallSpec

if TYPE_CHECKING:
    from citerec.index import Index

log = logging.getLogger(__name__)

KIND = "ranker"
MODEL_FILE = "ranker.json"
FINISHING, FRESH = "finishing", "fresh"
WHY_SHOWN = 2  # reasons kept per suggestion: what sets it apart, not what every candidate shares
WHY_PEERS = 10  # a candidate's reasons are measured against the passage's first this many candidates


def shipped_path() -> Path:
    """Where the shipped ranking model lies (inside the installed package)."""
    with resources.as_file(resources.files("citerec.recall") / "models" / MODEL_FILE) as shipped:
        return Path(shipped)


def load_ranker(path: str = "") -> LinearModel:
    """The ranking model at `path`, or the shipped one (""); read again when the file changes."""
    where = Path(path) if path else shipped_path()
    model = load_model(where, KIND)
    if model.features != FEATURES or set(model.parts) != {FINISHING, FRESH}:
        raise CiterecError(f"{where}: a ranking model for other features, retrain it (citerec train ranker)")
    return model


@dataclass(frozen=True)
class Ranking:
    """What a request ranks with: its spec (without the learned ranking when the model cannot be used), the model
    (None: none), and why the learned ranking was left out ("" when it was not)."""

    spec: RecallSpec
    model: LinearModel | None
    note: str = ""


def ranking_for(spec: RecallSpec, embedder: str, *, strict: bool = False) -> Ranking:
    """The learned ranking of `spec` over an index of `embedder`, checked: a model trained on another embedder's
    vectors is never applied; the request falls back to the plans and says so (EmbedderMismatch under `strict`)."""
    if not spec.learned:
        return Ranking(spec, None)
    model = load_ranker(spec.ranker)
    try:
        model.check_embedder(embedder, spec.ranker or "the shipped ranking")
    except EmbedderMismatch as exc:
        if strict:
            raise
        plan = Plan.AUTO.value if spec.plan == Plan.LEARNED else spec.plan
        note = f"{exc}: ranked by the reading plans without it (retrain with citerec train ranker)"
        return Ranking(dataclasses.replace(spec, plan=plan, draft_evidence=False), None, note)
    return Ranking(spec, model)


@dataclass(frozen=True)
class Ranked:
    """A passage's candidates in the model's order, and why each was ranked where it is (by key)."""

    candidates: tuple[Candidate, ...]
    why: Mapping[str, tuple[str, ...]]


def rank_learned(
    index: Index,
    lists: PlanLists,
    evidence: Sequence[Mapping[str, PaperEvidence]],
    model: LinearModel,
    k: int,
    known: Sequence[Collection[str]] = (),
    *,
    only: Sequence[int] | None = None,
    sentences: Sentences | None = None,
    past: Sentences | None = None,
    clauses: Clauses | None = None,
) -> list[Ranked]:
    """Each passage's candidates scored by the model, best first, `k` kept (the fresh part without evidence).

    `known` adapts the weights to the draft (`adapt`; none: the shipped ones); `only` ranks those passages
    alone (the others are evidence); `sentences`, `past` and `clauses` are the passages', the past
    sentences' and the passages' clauses' when already made."""
    wanted = list(range(len(lists.passages))) if only is None else list(only)
    rows = candidate_rows(index, lists, evidence, only=wanted, sentences=sentences, past=past, clauses=clauses)
    finishing = model.parts[FINISHING]
    weights = adapted_weights(index, lists, known, finishing) if any(known) else None
    return [
        _ranked(lists.passages, row, _part(model, evidence[i]), k, PRIOR if weights is None else weights[i])
        for i, row in zip(wanted, rows, strict=True)
    ]


def _part(model: LinearModel, found: Mapping[str, PaperEvidence]) -> Part:
    """Finishing where the draft cites papers elsewhere; fresh where nothing is known; and where only the
    user's past sentences speak, fresh plus the finishing part's weights of the context similarities."""
    if any(e.citing for e in found.values()):
        return model.parts[FINISHING]
    if not found:
        return model.parts[FRESH]
    return described_part(model)


def described_part(model: LinearModel) -> Part:
    """The fresh part with the finishing part's weights on `CONTEXT_FEATURES` (measured from 0, not from their
    mean: a candidate without past sentences scores as the fresh part scores it)."""
    fresh, finishing = model.parts[FRESH], model.parts[FINISHING]
    mean, scale, weights = list(fresh.mean), list(fresh.scale), list(fresh.weights)
    for name in CONTEXT_FEATURES:
        f = FEATURES.index(name)
        mean[f], scale[f], weights[f] = 0.0, finishing.scale[f], finishing.weights[f]
    return Part(tuple(mean), tuple(scale), tuple(weights), fresh.bias)


def _ranked(passages: Sequence[Passage], rows: Rows, part: Part, k: int, weights: np.ndarray) -> Ranked:
    """The rows ordered by their logits under the draft's `weights` (`adapt.weighed`)."""
    if not rows.keys:
        return Ranked((), {})
    logits, contributions = weighed(part, rows.features, weights)
    order = sorted(range(len(rows.keys)), key=lambda r: (-logits[r], r))[:k]
    candidates, why = [], {}
    peers = contributions[order[:WHY_PEERS]].mean(axis=0)
    for r in order:
        base = rows.recalled[r]
        score = 1.0 / (1.0 + math.exp(-float(logits[r])))
        key = base.key if base is not None else rows.evidence[r].key  # type: ignore[union-attr]
        candidates.append(Candidate(key, score, *(None, None, None, None) if base is None else _ranks(base)))
        why[key] = _why(rows, r, contributions[r], contributions[r] - peers, passages)
    return Ranked(tuple(candidates), why)


def _ranks(base: Candidate) -> tuple[int | None, int | None, float | None, float | None]:
    return base.bm25_rank, base.dense_rank, base.bm25_score, base.dense_score


_REASONS = {
    "fused_z": "among the passage's closest matches",
    "fused_rank": "among the passage's closest matches",
    "window_rank": "close to the sentence with its neighbours",
    "bm25_rank": "close in wording",
    "dense_rank": "close in meaning",
    "agreement": "found by wording and meaning alike",
    "dense_cos": "close in meaning",
    "dense_gap": "close in meaning",
}


def _why(
    rows: Rows, r: int, contributions: np.ndarray, apart: np.ndarray, passages: Sequence[Passage]
) -> tuple[str, ...]:
    """The reasons that set this candidate apart from the passage's other first candidates. Each reason gathers
    the features that say it (the six of the proximity prior are one "cited 1 sentence earlier"); a reason counts
    by how much more its raising features (`contributions` > 0) raised this candidate than the others (`apart`:
    its contribution less their mean), and only when that is positive, largest first. A reason every candidate
    shares ("recalled by the passage") says nothing. A candidate ahead on nothing gets its largest raising
    feature's reason."""
    ahead: dict[str, float] = {}
    for f in np.flatnonzero(contributions > 0):
        reason = _reason(rows, r, FEATURES[f], passages)
        if reason:
            ahead[reason] = ahead.get(reason, 0.0) + float(apart[f])
    chosen = [reason for reason, score in sorted(ahead.items(), key=lambda item: -item[1]) if score > 0]
    if not chosen and ahead:
        best = int(np.argmax(contributions))
        chosen = [_reason(rows, r, FEATURES[best], passages)] if contributions[best] > 0 else []
    return tuple(reason for reason in chosen[:WHY_SHOWN] if reason)


def _reason(rows: Rows, r: int, name: str, passages: Sequence[Passage]) -> str:
    """One feature's reason in plain words ("" when it has none to give)."""
    found = rows.evidence[r]
    if name in EVIDENCE_FEATURES and found is not None:
        best = rows.best_context[r]
        if name in CONTEXT_FEATURES and 0 <= best < len(passages):
            quoted = next((c.sentence for c in found.citing if c.passage == best), passages[best].sentence)
            said = " ".join((quoted or "").split())
            return f"described alike where the draft cites it: '{_short(said)}'"
        if name in CONTEXT_FEATURES and best >= len(passages):
            before = next(c for c in found.past if c.passage == best)
            where = "where it is cited by others" if before.by_others else "where you cited it before"
            return f"described alike {where} ({before.where}): '{_short(before.sentence)}'"
        return why_cited(found) if found.citing else ""
    return _REASONS.get(name, "")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
