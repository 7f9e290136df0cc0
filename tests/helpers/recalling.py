"""Recall as tests ask for it: plain texts and optional readings, with one spec built from keywords."""

from __future__ import annotations

from collections.abc import Sequence

from citerec.index import Index
from citerec.recall import Candidate, FusionSettings, Passage, RecallSpec, recall_passages


def recall_many(
    index: Index,
    windows: Sequence[str],
    k: int = 50,
    method: str = "hybrid",
    *,
    sentences: Sequence[str] | None = None,
    wides: Sequence[str] | None = None,
    prf: bool = False,
    fusion: FusionSettings | None = None,
) -> list[list[Candidate]]:
    """Each window's candidates; `sentences` and `wides`, when given, are each passage's other readings."""
    own = sentences if sentences is not None else [""] * len(windows)
    wide = wides if wides is not None else [""] * len(windows)
    passages = [Passage(w, s, x) for w, s, x in zip(windows, own, wide, strict=True)]
    spec = RecallSpec(method=method, k=k, feedback=prf, fusion=fusion or FusionSettings())
    return recall_passages(index, passages, spec)
