"""The one recall orchestrator: from a request to every passage's candidates (plan, readings, evidence, feedback).

The draft's citations come in as a value: either each passage's own cited keys
(`known`: a whole draft read at once, as `citerec suggest` reads it; the
per-draft adaptation and the plan switch need them all), or a `DraftCitations`
read before (`draft`: an editor's project, whose citing passages were read and
embedded when it was opened or saved), against which each passage is ranked as a
new passage of that draft. Both go through the same evidence, features and model.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from citerec.choices import Plan
from citerec.linear import LinearModel
from citerec.recall.draft import DraftCitations
from citerec.recall.evidence import draft_evidence, evidence_for, past_evidence
from citerec.recall.features import PlanLists, Sentences
from citerec.recall.kept import keep_ranked, ranking_key, read_ranked
from citerec.recall.learned import Ranked, rank_learned, ranking_for
from citerec.recall.plans import PlanChoice, fit_plans, recall_window, recall_with_plan
from citerec.recall.search import feedback_words
from citerec.recall.spec import Candidate, Passage, RecallSpec

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.past_sentences import PastSentence

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
    past: Sequence[PastSentence] = (),
    draft: DraftCitations | None = None,
) -> list[PassageRecall]:
    """Every passage's candidates as `spec` asks.

    `known` are the library keys each passage already cites: with plan "auto" they
    choose each draft's plan, and with the draft evidence on they are the evidence,
    never for a passage's own ranking (leave-one-out). `topic_of` are the passages
    as written, when `passages` carry a rewrite (their draft topic). `past` are the user's sentences about
    library papers from earlier drafts (`citerec library learn`): with the draft evidence on, they describe
    the candidates they are about. `draft` instead: the draft's citations read before (with the past
    sentences), each passage ranked alone as a new passage of that draft (`known` and `past` unused).
    """
    if not passages:
        return []
    ranking = ranking_for(spec, index.embedder_name)
    if ranking.note:
        log.warning("%s", ranking.note)
    spec = ranking.spec
    if draft is not None:
        found = [_in_draft(index, passage, spec, ranking.model, draft) for passage in passages]
    else:
        found = _in_passages(index, passages, spec, ranking.model, known, topic_of, past)
    if not spec.feedback:
        return found
    shown = [p.sentence if spec.fusion.sentence_weight > 0 else p.window for p in passages]  # what dominates
    return [
        replace(item, feedback=tuple(words))
        for item, words in zip(found, feedback_words(index, shown, spec), strict=True)
    ]


def _in_passages(
    index: Index,
    passages: Sequence[Passage],
    spec: RecallSpec,
    model: LinearModel | None,
    known: Sequence[Collection[str]],
    topic_of: Sequence[Passage] | None,
    past: Sequence[PastSentence],
) -> list[PassageRecall]:
    """Passages read together, each with the evidence of the others' citations (and the draft's adaptation);
    the learned ranking of a draft read before with the same inputs is read back, not ranked again."""
    recalled = recall_with_plan(index, passages, spec, topic_of)
    if model is not None and (spec.plan == Plan.LEARNED or spec.uses_evidence):
        key = ranking_key(index, spec, model, passages, known, past)
        ranked = read_ranked(index, key)
        if ranked is None:
            ranked = _learned(index, passages, spec, model, known, past, recalled)
            keep_ranked(index, key, ranked)
        if ranked:
            return [PassageRecall(item.candidates, why=item.why) for item in ranked]
    plans: list[PlanChoice | None] = [None] * len(passages)
    if spec.plan == Plan.AUTO and spec.hybrid:  # no evidence (or it is off): the plan switch
        recalled, plans = fit_plans(index, passages, recalled, known or [()] * len(passages), spec)
    return [PassageRecall(tuple(candidates), plan) for candidates, plan in zip(recalled, plans, strict=True)]


def _learned(
    index: Index,
    passages: Sequence[Passage],
    spec: RecallSpec,
    model: LinearModel,
    known: Sequence[Collection[str]],
    past: Sequence[PastSentence],
    recalled: Sequence[Sequence[Candidate]],
) -> list[Ranked]:
    """Every passage ranked by the learned model with the draft's evidence; none when the draft gives no evidence
    and the plan is "auto" (the plan switch decides then)."""
    evidence = draft_evidence(passages, known) if spec.uses_evidence else []
    if past and evidence:  # the user's earlier drafts describe some candidates
        evidence = past_evidence(passages, recalled, past, evidence)
    if not (spec.plan == Plan.LEARNED or any(evidence)):
        return []
    window = recall_window(index, passages, spec)
    evidence = evidence or [{} for _ in passages]
    lists = PlanLists.of(passages, recalled, window)
    ranked = rank_learned(index, lists, evidence, model, spec.k, known if spec.draft_evidence else ())
    # "auto" keeps the passage plan where the draft gave no evidence: the fresh part does not beat it on every
    # eval paper (README, Evaluation); "learned" asks for it
    return [
        Ranked(tuple(old), {}) if spec.plan == Plan.AUTO and not found else new
        for old, new, found in zip(recalled, ranked, evidence, strict=True)
    ]


def _in_draft(
    index: Index, passage: Passage, spec: RecallSpec, model: LinearModel | None, draft: DraftCitations
) -> PassageRecall:
    """One new passage of a draft read before, with that draft's evidence (the past sentences included) when
    the spec ranks by the learned model; otherwise the list of the plan the spec names. The per-draft
    adaptation is left out: it recalls every cited passage again."""
    recalled = recall_with_plan(index, [passage], spec)[0]
    n = len(draft.passages)
    found = evidence_for(passage, draft.passages, draft.known) if spec.uses_evidence else {}
    if draft.past and spec.uses_evidence:  # past sentences numbered after the passages
        found = past_evidence([passage], [recalled], draft.past, [found], after=n + 1)[0]
    if model is None or not (found or spec.plan == Plan.LEARNED):
        return PassageRecall(tuple(recalled))
    window = recall_window(index, [passage], spec)[0]
    lists = PlanLists.of([*draft.passages, passage], [*([()] * n), recalled], [*([()] * n), window])
    sentences = draft.sentences + Sentences.of(index, [passage])
    evidence = [*([{}] * n), found]
    ranked = rank_learned(
        index,
        lists,
        evidence,
        model,
        spec.k,
        only=[n],
        sentences=sentences,
        past=draft.past_sentences,
        clauses=draft.clauses,
    )[0]
    return PassageRecall(ranked.candidates, why=ranked.why)
