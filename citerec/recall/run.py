"""One call from a request to every passage's candidates: plan, readings, feedback."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from citerec.choices import Plan
from citerec.recall.plans import PlanChoice, fit_plans, recall_with_plan
from citerec.recall.search import feedback_words
from citerec.recall.spec import Candidate, Passage, RecallSpec

if TYPE_CHECKING:
    from citerec.index import Index


@dataclass(frozen=True)
class PassageRecall:
    """What one passage recalled, the plan its draft chose (None: none chosen), and the words feedback added."""

    candidates: tuple[Candidate, ...]
    plan: PlanChoice | None = None
    feedback: tuple[str, ...] = ()


def recall(
    index: Index,
    passages: Sequence[Passage],
    spec: RecallSpec,
    *,
    known: Sequence[Collection[str]] = (),
    topic_of: Sequence[Passage] | None = None,
) -> list[PassageRecall]:
    """Every passage's candidates as `spec` asks.

    `known` are the library keys each passage already cites: with plan "auto" they
    choose each draft's plan, never a passage's own (leave-one-out). `topic_of` are
    the passages as written, when `passages` carry a rewrite (their draft topic).
    """
    if not passages:
        return []
    recalled = recall_with_plan(index, passages, spec, topic_of)
    plans: list[PlanChoice | None] = [None] * len(passages)
    if spec.plan == Plan.AUTO and spec.hybrid:
        recalled, plans = fit_plans(index, passages, recalled, known, spec)
    words: list[tuple[str, ...]] = [()] * len(passages)
    if spec.feedback:
        shown = [p.sentence if spec.fusion.sentence_weight > 0 else p.window for p in passages]  # what dominates
        words = feedback_words(index, shown, spec)
    return [
        PassageRecall(tuple(candidates), plan, tuple(added))
        for candidates, plan, added in zip(recalled, plans, words, strict=True)
    ]
