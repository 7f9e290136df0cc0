"""Reading plans, and recalling each draft's passages with the plan its own citations favour.

Most drafts are served best by the default plan, `passage`: each passage read at
three scales (its own sentence weighted most) and the BM25 and dense lists fused
by normalised score. A few are not. In the eval papers, a review of periodograms
whose sentences often say "see" or name a method by its authors (`\\citet`)
recalls its citations better from the sentence with its neighbours alone, fused
by rank: the `window` plan (the defaults before three readings).

A draft that already cites enough papers of the library tells which kind it is.
Every cited passage is recalled with both plans; the draft moves to `window` only
when that plan finds the draft's own citations clearly more often (a one-sided
paired t-test over at least `MIN_EVIDENCE` passages). A passage's own citations
never choose its plan (leave-one-out), so leave-citations-out evaluation stays
honest and a passage's suggestions do not depend on what it cites.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from citerec.choices import Plan
from citerec.papers import normalise_key
from citerec.recall.readings import draft_topics
from citerec.recall.search import recall_passages
from citerec.recall.spec import Candidate, FusionSettings, Passage, RecallSpec

if TYPE_CHECKING:
    from citerec.index import Index

PASSAGE = Plan.PASSAGE.value
WINDOW = Plan.WINDOW.value
MIN_EVIDENCE = 30  # cited passages (besides the one ranked) before a draft may leave the default plan
SWITCH_T = 1.645  # one-sided 95 %: the window plan must recall the draft's citations better, clearly
EVIDENCE_CUTOFF = 10  # plans are compared by Recall@10 of each cited passage's known keys
WINDOW_RRF_K = 30.0  # the window plan: the sentence with its neighbours, RRF k=30 with dense x2,
WINDOW_DENSE_WEIGHT = 2.0  # the defaults before three readings (docs/evaluation.md)


@dataclass(frozen=True)
class PlanChoice:
    """The plan a passage is read with, and the evidence its draft gave for it."""

    plan: str  # PASSAGE or WINDOW
    evidence: int  # the draft's other cited passages the plans were compared on
    passage_recall: float  # their mean Recall@10 of known citations with each plan
    window_recall: float
    t: float  # paired t statistic of window minus passage (0 without evidence)

    def to_json(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["t"] = self.t if math.isfinite(self.t) else None
        return data


def window_plan(fusion: FusionSettings) -> FusionSettings:
    """`fusion` changed into the window plan: one reading (the window), fused by rank."""
    return dataclasses.replace(
        fusion,
        fusion="rrf",
        rrf_k=WINDOW_RRF_K,
        bm25_weight=1.0,
        dense_weight=WINDOW_DENSE_WEIGHT,
        sentence_weight=0.0,
        window_weight=1.0,
        wide_weight=0.0,
        topic_weight=0.0,
    )


def drafts_with_evidence(drafts: Sequence[str], known: Sequence[Collection[str]]) -> set[str]:
    """The drafts with enough cited passages for their plan to be chosen at all."""
    counts: dict[str, int] = {}
    for draft, keys in zip(drafts, known, strict=True):
        if keys:
            counts[draft] = counts.get(draft, 0) + 1
    return {draft for draft, count in counts.items() if count >= MIN_EVIDENCE}


def choose_plans(
    drafts: Sequence[str],
    known: Sequence[Collection[str]],
    passage: Sequence[Sequence[Candidate]],
    window: Sequence[Sequence[Candidate]],
) -> list[PlanChoice]:
    """Each passage's plan, chosen from its draft's other cited passages.

    `known` are the library keys each passage already cites (empty for a
    placeholder); `passage` and `window` are every passage's recall with each plan.
    """
    # per cited passage: (1, passage recall, window recall, d, d^2) with d = window - passage; summed per draft
    terms = [
        _terms(_recall_at(p, keys), _recall_at(w, keys)) if keys else None
        for p, w, keys in zip(passage, window, known, strict=True)
    ]
    totals: dict[str, tuple[float, ...]] = {}
    for draft, row in zip(drafts, terms, strict=True):
        if row is not None:
            totals[draft] = tuple(a + b for a, b in zip(totals.get(draft, _NO_EVIDENCE), row, strict=True))
    choices = []
    for draft, row in zip(drafts, terms, strict=True):
        total = totals.get(draft, _NO_EVIDENCE)
        if row is not None:  # leave this passage's own citations out
            total = tuple(a - b for a, b in zip(total, row, strict=True))
        choices.append(_choice(*total))
    return choices


_NO_EVIDENCE = (0.0,) * 5


def _terms(passage_recall: float, window_recall: float) -> tuple[float, ...]:
    d = window_recall - passage_recall
    return (1.0, passage_recall, window_recall, d, d * d)


def _choice(n: float, passage_sum: float, window_sum: float, d_sum: float, d_squares: float) -> PlanChoice:
    count = round(n)
    if count < MIN_EVIDENCE:
        return PlanChoice(PASSAGE, count, *_means(count, passage_sum, window_sum), t=0.0)
    mean = d_sum / count
    variance = max(d_squares - count * mean * mean, 0.0) / (count - 1)
    if variance <= 1e-12:
        t = math.inf if mean > 1e-12 else 0.0
    else:
        t = mean / math.sqrt(variance / count)
    plan = WINDOW if t > SWITCH_T else PASSAGE
    return PlanChoice(plan, count, *_means(count, passage_sum, window_sum), t=t)


def _means(count: int, passage_sum: float, window_sum: float) -> tuple[float, float]:
    return (passage_sum / count, window_sum / count) if count else (0.0, 0.0)


def _recall_at(candidates: Sequence[Candidate], keys: Collection[str]) -> float:
    top = {normalise_key(c.key) for c in candidates[:EVIDENCE_CUTOFF]}
    return sum(normalise_key(k) in top for k in keys) / len(keys)


def window_spec(spec: RecallSpec) -> RecallSpec:
    """The request read with the window plan."""
    return spec.with_fusion(window_plan(spec.fusion))


def recall_window(index: Index, passages: Sequence[Passage], spec: RecallSpec) -> list[list[Candidate]]:
    """Each passage recalled by its window alone, fused by rank (the window plan)."""
    return recall_passages(index, [Passage(p.window) for p in passages], window_spec(spec))


def recall_with_plan(
    index: Index,
    passages: Sequence[Passage],
    spec: RecallSpec,
    topic_of: Sequence[Passage] | None = None,
) -> list[list[Candidate]]:
    """Every passage recalled with the plan the spec names ("auto" recalls with the default plan first).

    `topic_of` are the passages whose windows make each draft's topic (default: `passages`)."""
    if spec.plan == WINDOW and spec.hybrid:
        return recall_window(index, passages, spec)
    topics = None
    if spec.hybrid and spec.fusion.topic_weight > 0:
        topics = draft_topics(index, topic_of if topic_of is not None else passages)
    return recall_passages(index, passages, spec, topics)


def fit_plans(
    index: Index,
    passages: Sequence[Passage],
    recalled: list[list[Candidate]],
    known: Sequence[Collection[str]],
    spec: RecallSpec,
) -> tuple[list[list[Candidate]], list[PlanChoice | None]]:
    """Recall with the window plan too where a draft cites enough, and keep it where the draft favours it."""
    drafts = [passage.draft for passage in passages]
    fitted = drafts_with_evidence(drafts, known)
    plans: list[PlanChoice | None] = [None] * len(passages)
    if not fitted:
        return recalled, plans
    rows = [i for i, draft in enumerate(drafts) if draft in fitted]
    window = recall_window(index, [passages[i] for i in rows], spec)
    choices = choose_plans([drafts[i] for i in rows], [known[i] for i in rows], [recalled[i] for i in rows], window)
    recalled = list(recalled)
    for i, choice, candidates in zip(rows, choices, window, strict=True):
        plans[i] = choice
        if choice.plan == WINDOW:
            recalled[i] = candidates
    return recalled, plans


def draft_plan(
    index: Index,
    cited: Sequence[tuple[Passage, Collection[str]]],
    spec: RecallSpec,
    *,
    between: Callable[[], None] | None = None,
    chunk: int = 8,
) -> PlanChoice | None:
    """The plan a new passage of a draft would be read with, from the draft's cited passages (each with the
    library keys it cites); None when there are too few to choose, or the method is not hybrid.

    The passages are recalled `chunk` at a time and `between` is called before each chunk, so that a
    caller in the background (the language server) can let completions go first.
    """
    spec = dataclasses.replace(spec, plan=PASSAGE, feedback=False)
    if len(cited) < MIN_EVIDENCE or not spec.hybrid:
        return None
    recalled: list[list[Candidate]] = []
    window: list[list[Candidate]] = []
    for start in range(0, len(cited), chunk):
        if between is not None:
            between()
        passages = [passage for passage, _ in cited[start : start + chunk]]
        recalled += recall_with_plan(index, passages, spec)
        window += recall_window(index, passages, spec)
    keys = [keys for _, keys in cited]
    return choose_plans([""] * (len(cited) + 1), [*keys, ()], [*recalled, []], [*window, []])[-1]
