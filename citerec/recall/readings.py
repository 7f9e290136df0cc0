"""A passage read at several scales, and a draft's topic.

Each passage is read as its own sentence (weighted most, so two adjacent
sentences keep their own suggestions), the sentence with its neighbours, and a
wider window; each distinct reading is recalled alone and the lists are mixed
by the spec's weights. Passages of one draft may also share the draft's topic
(the mean of their vectors): each candidate's similarity to it is added, which
keeps suggestions on the draft's subject in a library that spans several fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from citerec.recall.fusion import zscores
from citerec.recall.spec import Candidate, FusionSettings, Passage

if TYPE_CHECKING:
    from citerec.index import Index

TOPIC_MIN_PASSAGES = 3  # fewer passages do not tell a draft's topic from the passage itself

Reading = list[tuple[str, float]]  # the distinct texts of one passage, each with its weight


def readings(passage: Passage, fusion: FusionSettings) -> Reading:
    """The passage's distinct readings (own sentence, window, wide window) with their weights."""
    reading: dict[str, float] = {}
    for text, weight in ((passage.sentence, fusion.sentence_weight), (passage.window, fusion.window_weight)):
        if text and weight > 0:
            reading.setdefault(text, weight)
    if passage.wide and fusion.wide_weight > 0:
        reading.setdefault(passage.wide, fusion.wide_weight)
    return list(reading.items()) or [(passage.window, 1.0)]


def topic_vector(index: Index, passages: Sequence[str]) -> np.ndarray | None:
    """A draft's topic: the unit mean of its passages' vectors; None for fewer than TOPIC_MIN_PASSAGES."""
    passages = [p for p in dict.fromkeys(passages) if p]
    if len(passages) < TOPIC_MIN_PASSAGES:
        return None
    mean = index.query_vectors(passages).astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


def draft_topics(index: Index, passages: Sequence[Passage]) -> list[np.ndarray | None]:
    """Each passage's draft topic (the mean vector of that draft's passages)."""
    by_draft: dict[str, list[str]] = {}
    for passage in passages:
        by_draft.setdefault(passage.draft, []).append(passage.window)
    topics = {draft: topic_vector(index, windows) for draft, windows in by_draft.items()}
    return [topics[passage.draft] for passage in passages]


def with_topic(index: Index, candidates: list[Candidate], topic: np.ndarray, weight: float) -> list[Candidate]:
    """Candidates re-scored: z-scored recall score + `weight` × z-scored similarity to the topic."""
    if len(candidates) < 2:
        return candidates
    similarity = index.paper_vectors([c.key for c in candidates]) @ topic
    scores = zscores([c.score for c in candidates]) + weight * zscores(similarity)
    order = np.argsort(-scores, kind="stable")
    return [dataclasses.replace(candidates[i], score=float(scores[i])) for i in order]
