"""Reciprocal-rank fusion: merge ranked lists by rank, not score.

BM25 scores and cosine similarities live on unrelated scales; RRF
(Cormack et al., 2009) only uses each item's rank r in each list:
fused = Σ_lists weight / (k + r). A paper near the top of either list
surfaces, one near the top of both wins.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

T = TypeVar("T", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[T]], *, k: float = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[T, float]]:
    """Items of all `rankings` (each best first) with their fused score, best first.

    Ties go to the item with the better best rank, then to the one seen first.
    """
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    if k < 0:
        raise ValueError("the RRF constant k must not be negative")
    fused: dict[T, float] = {}
    best: dict[T, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    order = {item: i for i, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda pair: (-pair[1], best[pair[0]], order[pair[0]]))
