"""What a suggestion run returns: per passage the cut suggestions and the full ranking, and how it was made."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from citerec.suggest.options import SuggestOptions

if TYPE_CHECKING:
    from citerec.latex import Context, ReadWarning
    from citerec.recall import PlanChoice

SCHEMA = "citerec.suggestions/1"


@dataclass(frozen=True)
class Suggestion:
    """One candidate paper for one context, with where each stage ranked it."""

    key: str
    title: str
    score: float  # rerank P(yes) when reranked, else the fused recall score
    confidence: float  # for people: P(yes) when reranked, else the score as a share of the passage's top score
    rank: int
    recall_rank: int
    fused_score: float
    bm25_rank: int | None
    dense_rank: int | None
    rerank_score: float | None
    already_cited: bool
    why: tuple[str, ...] = ()  # what supported it (the draft evidence, the readings), strongest first

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ContextSuggestions:
    """The suggestions for one context, and the full ranking they were cut from."""

    context: Context
    suggestions: tuple[Suggestion, ...]
    ranking: tuple[Suggestion, ...]
    expanded_query: str = ""  # what expansion added to the passage (a rewrite, or feedback terms)
    plan: PlanChoice | None = None  # the reading plan its draft chose; None when the draft could not choose

    def to_json(self) -> dict[str, Any]:
        ctx = self.context
        return {
            "id": ctx.id,
            "file": ctx.file,
            "line_start": ctx.line_start,
            "line_end": ctx.line_end,
            "section": ctx.section,
            "sentence": ctx.sentence,
            "query": ctx.text,
            "expanded_query": self.expanded_query,
            "plan": self.plan.to_json() if self.plan is not None else None,
            "placeholder": ctx.placeholder,
            "cited_keys": list(ctx.cited_keys),
            "suggestions": [s.to_json() for s in self.suggestions],
        }


@dataclass(frozen=True)
class SuggestResult:
    """What a run produced, plus how it was produced (for JSON consumers and for logs)."""

    source: str
    contexts: tuple[ContextSuggestions, ...]
    reranked: bool
    reranker: str | None
    embedder: str
    options: SuggestOptions
    notes: tuple[str, ...] = ()
    warnings: tuple[ReadWarning, ...] = ()  # damage in the draft that reading recovered from (file:line)

    def suggested_keys(self) -> list[str]:
        """Every suggested key once, in order of first appearance."""
        seen: dict[str, None] = {}
        for item in self.contexts:
            for suggestion in item.suggestions:
                seen.setdefault(suggestion.key, None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "source": self.source,
            "reranked": self.reranked,
            "reranker": self.reranker,
            "embedder": self.embedder,
            "notes": list(self.notes),
            "warnings": [dataclasses.asdict(warning) for warning in self.warnings],
            "options": self.options.to_json(),
            "contexts": [item.to_json() for item in self.contexts],
        }


def plan_notes(ranked: Sequence[ContextSuggestions]) -> tuple[str, ...]:
    """A line for each draft that moved to the window plan, with the evidence."""
    from citerec.recall.plans import WINDOW

    notes: dict[str, str] = {}
    for item in ranked:
        plan = item.plan
        if plan is not None and plan.plan == WINDOW and item.context.draft not in notes:
            notes[item.context.draft] = (
                "passages are read by their window (the sentence with its neighbours), which finds this draft's "
                f"own citations more often: Recall@10 {plan.window_recall:.2f} against {plan.passage_recall:.2f} "
                f"over {plan.evidence} cited passages (--plan passage reads them at three scales)"
            )
    return tuple(notes.values())
