"""Fusing ranked lists: by rank (RRF) or by normalised scores (convex combination).

BM25 scores and cosine similarities live on unrelated scales. Reciprocal-rank
fusion (Cormack et al., 2009) only uses each item's rank r in each list:
fused = Σ_lists weight / (k + r). It throws away how far ahead the leader is,
which is exactly what tells a confident list from a guessing one. Score fusion
keeps it: each list's scores are normalised (min-max or z-score) and combined
with convex weights, fixed or set per query from how sharp each list is.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from citerec.choices import Weighting, check_choice
from citerec.recall.spec import Candidate, FusionSettings

T = TypeVar("T", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[T]], *, k: float = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[T, float]]:
    """Items of all `rankings` (each best first) with their fused score, best first.

    Ties go to the item with the better best rank, then to the one seen first.
    """
    weights = _check_weights(weights, len(rankings))
    if k < 0:
        raise ValueError("the RRF constant k must not be negative")
    fused: dict[T, float] = {}
    best: dict[T, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    return _sorted(fused, best)


def normalise(scores: Sequence[float], how: str) -> tuple[list[float], float]:
    """`scores` on a common scale, and the value an item missing from the list gets.

    minmax maps the list onto [0, 1] (missing: 0); zscore centres it on its mean
    in standard deviations (missing: the list's lowest value). A flat list (all
    equal) gives every item 1 under minmax and 0 under zscore: it ranks nothing.
    """
    if not scores:
        return [], 0.0
    if how == "minmax":
        low, high = min(scores), max(scores)
        if high - low <= 1e-12:
            return [1.0] * len(scores), 0.0
        return [(s - low) / (high - low) for s in scores], 0.0
    if how == "zscore":
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        if std <= 1e-12:
            return [0.0] * len(scores), 0.0
        normed = [(s - mean) / std for s in scores]
        return normed, min(normed)
    raise ValueError(f"unknown normalisation {how!r}; choose minmax or zscore")


def sharpness(scores: Sequence[float]) -> float:
    """How far the list's leader stands above the rest, in standard deviations (0 for a flat or tiny list).

    A query-performance predictor: a list whose top score is an outlier usually
    found what the query is about; one whose scores are flat is guessing.
    """
    if len(scores) < 3:
        return 0.0
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return 0.0 if std <= 1e-12 else (max(scores) - mean) / std


def score_fusion(
    lists: Sequence[Mapping[T, float]],
    *,
    how: str = "minmax",
    weights: Sequence[float] | None = None,
    weighting: str = "fixed",
) -> list[tuple[T, float]]:
    """Convex combination of normalised scores of every item in `lists` (item → raw score), best first.

    `weights` are made to sum to 1. With weighting="sharpness" each list's weight
    is further scaled by its `sharpness` for this query, so a confident list
    counts more than a guessing one. Ties go to the better best rank.
    """
    weights = _check_weights(weights, len(lists))
    check_choice(Weighting, weighting, "weighting")
    if weighting == "sharpness":
        sharp = [sharpness(list(scores.values())) for scores in lists]
        if sum(sharp) > 0:
            weights = [w * s for w, s in zip(weights, sharp, strict=True)]
    total = sum(weights)
    weights = [w / total for w in weights] if total > 0 else [1.0 / len(lists)] * len(lists)
    normalised = [normalise(list(scores.values()), how) for scores in lists]
    items: dict[T, None] = {}
    best: dict[T, int] = {}
    for scores in lists:
        for rank, item in enumerate(scores, start=1):
            items.setdefault(item, None)
            best[item] = min(best.get(item, rank), rank)
    fused: dict[T, float] = {}
    for scores, (values, missing), weight in zip(lists, normalised, weights, strict=True):
        at = dict(zip(scores, values, strict=True))
        for item in items:
            fused[item] = fused.get(item, 0.0) + weight * at.get(item, missing)
    return _sorted(fused, best)


def _check_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n:
        raise ValueError(f"{len(weights)} weights for {n} rankings")
    if any(w < 0 for w in weights):
        raise ValueError("fusion weights must not be negative")
    return list(weights)


def _sorted(fused: dict[T, float], best: dict[T, int]) -> list[tuple[T, float]]:
    order = {item: i for i, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda pair: (-pair[1], best[pair[0]], order[pair[0]]))


def combine(
    keys: Sequence[str],
    bm25: tuple[np.ndarray, np.ndarray | None],
    dense: tuple[np.ndarray, np.ndarray | None],
    k: int,
    method: str,
    fusion: FusionSettings,
) -> list[Candidate]:
    """One query's BM25 and dense hits, each (rows, scores) best first, as its `k` best candidates.

    `method` "bm25" or "dense" keeps that list alone; "hybrid" fuses them as `fusion` says.
    `keys` name the rows."""
    bm25_rows, bm25_scores = bm25
    dense_rows, dense_scores = dense
    bm25_at = {int(row): (rank, float(bm25_scores[rank - 1])) for rank, row in enumerate(bm25_rows, 1)}
    dense_at = {int(row): (rank, float(dense_scores[rank - 1])) for rank, row in enumerate(dense_rows, 1)}
    if method == "bm25":
        ranked = [(row, score) for row, (_, score) in bm25_at.items()]
    elif method == "dense":
        ranked = [(row, score) for row, (_, score) in dense_at.items()]
    elif fusion.fusion == "rrf":
        ranked = reciprocal_rank_fusion(
            [list(bm25_at), list(dense_at)],
            k=fusion.rrf_k,
            weights=[fusion.bm25_weight, fusion.dense_weight],
        )
    else:
        ranked = score_fusion(
            [{row: score for row, (_, score) in at.items()} for at in (bm25_at, dense_at)],
            how=fusion.fusion,
            weights=[fusion.bm25_weight, fusion.dense_weight],
            weighting=fusion.weighting,
        )
    out = []
    for row, score in ranked[:k]:
        lexical, semantic = bm25_at.get(row), dense_at.get(row)
        out.append(
            Candidate(
                key=keys[row],
                score=float(score),
                bm25_rank=lexical[0] if lexical else None,
                dense_rank=semantic[0] if semantic else None,
                bm25_score=lexical[1] if lexical else None,
                dense_score=semantic[1] if semantic else None,
            )
        )
    return out


def mix(lists: Sequence[list[Candidate]], weights: Sequence[float]) -> list[Candidate]:
    """Candidates of several readings of one passage, scores mixed by `weights`.

    Each list's scores are first divided by its top score, so RRF fractions and
    normalised scores mix alike; a paper missing from one list gets 0 there.
    """
    by_key: dict[str, Candidate] = {}
    mixed: dict[str, float] = {}
    for candidates, weight in zip(lists, weights, strict=True):
        top = max((c.score for c in candidates), default=0.0) or 1.0
        for c in candidates:
            by_key.setdefault(c.key, c)
            mixed[c.key] = mixed.get(c.key, 0.0) + weight * c.score / top
    order = sorted(mixed, key=lambda key: -mixed[key])
    return [dataclasses.replace(by_key[key], score=mixed[key]) for key in order]


def zscores(values: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(normalise([float(v) for v in values], "zscore")[0], dtype=np.float64)
