"""One call from a request to every passage's candidates: plan, readings, feedback."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from citerec.choices import Plan
from citerec.recall.evidence import draft_evidence, learned_evidence
from citerec.recall.features import PlanLists
from citerec.recall.learned import rank_learned, ranking_for
from citerec.recall.plans import PlanChoice, fit_plans, recall_window, recall_with_plan
from citerec.recall.search import feedback_words
from citerec.recall.spec import Candidate, Passage, RecallSpec

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.library_learned import LearnedSentence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassageRecall:
    """What one passage recalled, the plan its draft chose (None: none chosen), the words feedback added, and
    why the learned ranking put each candidate where it is (by key; empty without it)."""

    candidates: tuple[Candidate, ...]
    plan: PlanChoice | None = None
    feedback: tuple[str, ...] = ()
    why: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def recall(
    index: Index,
    passages: Sequence[Passage],
    spec: RecallSpec,
    *,
    known: Sequence[Collection[str]] = (),
    topic_of: Sequence[Passage] | None = None,
    learned: Sequence[LearnedSentence] = (),
) -> list[PassageRecall]:
    """Every passage's candidates as `spec` asks.

    `known` are the library keys each passage already cites: with plan "auto" they
    choose each draft's plan, and with the draft evidence on they are the evidence,
    never for a passage's own ranking (leave-one-out). `topic_of` are the passages
    as written, when `passages` carry a rewrite (their draft topic). `learned` are the user's sentences about
    library papers from earlier drafts (`citerec library learn`): with the draft evidence on, they describe
    the candidates they are about.
    """
    if not passages:
        return []
    ranking = ranking_for(spec, index.embedder_name)
    if ranking.note:
        log.warning("%s", ranking.note)
    spec = ranking.spec
    recalled = recall_with_plan(index, passages, spec, topic_of)
    plans: list[PlanChoice | None] = [None] * len(passages)
    why: list[Mapping[str, tuple[str, ...]]] = [{} for _ in passages]
    evidence = draft_evidence(passages, known) if spec.learned and spec.draft_evidence else []
    if learned and evidence:  # the user's earlier drafts describe some candidates
        evidence = learned_evidence(passages, recalled, learned, evidence)
    if spec.learned and (spec.plan == Plan.LEARNED or any(evidence)):
        window = recall_window(index, passages, spec)
        evidence = evidence or [{} for _ in passages]
        known = known if spec.draft_evidence else ()
        lists = PlanLists.of(passages, recalled, window)
        ranked = rank_learned(index, lists, evidence, ranking.model, spec.k, known)
        # "auto" keeps the passage plan where the draft gave no evidence: the fresh part does not beat it on
        # every eval paper (README, Evaluation); "learned" asks for it
        keep = [spec.plan == Plan.AUTO and not found for found in evidence]
        recalled = [
            old if kept else list(new.candidates) for old, new, kept in zip(recalled, ranked, keep, strict=True)
        ]
        why = [{} if kept else item.why for item, kept in zip(ranked, keep, strict=True)]
    elif spec.plan == Plan.AUTO and spec.hybrid:  # no evidence (or it is off): the plan switch
        recalled, plans = fit_plans(index, passages, recalled, known or [()] * len(passages), spec)
    words: list[tuple[str, ...]] = [()] * len(passages)
    if spec.feedback:
        shown = [p.sentence if spec.fusion.sentence_weight > 0 else p.window for p in passages]  # what dominates
        words = feedback_words(index, shown, spec)
    return [
        PassageRecall(tuple(candidates), plan, tuple(added), reasons)
        for candidates, plan, added, reasons in zip(recalled, plans, words, why, strict=True)
    ]
