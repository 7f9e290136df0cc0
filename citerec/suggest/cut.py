"""The last stages: rerank each passage's candidates (here, or batched over an engine) and cut the list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from citerec.papers import Paper, normalise_key
from citerec.rerank import format_document, recall_order_fusion
from citerec.suggest.options import DEFAULT_RERANK_THRESHOLD, SuggestOptions
from citerec.suggest.results import ContextSuggestions, Suggestion

if TYPE_CHECKING:
    from citerec.latex import Context
    from citerec.progress import ProgressCallback
    from citerec.recall import Candidate, PassageRecall
    from citerec.rerank import Reranker


def rerank_scores(
    reranker: Reranker | None,
    contexts: Sequence[Context],
    recalled: Sequence[PassageRecall],
    papers: Mapping[str, Paper],
    options: SuggestOptions,
    progress: ProgressCallback,
) -> list[Sequence[float] | None]:
    """Each passage's judge scores for its candidates (None each without a judge), fused with recall's order when
    the judge asks for it (the small judge).

    A local judge scores passage by passage; an engine's judge (Ray) gets every pair in one
    call, so that it can spread them over its workers."""
    if reranker is None:
        for number in range(len(contexts)):
            progress("Ranking", number + 1, len(contexts))
        return [None] * len(contexts)
    fuse = recall_order_fusion(reranker) or list
    if not options.engine.local:
        pairs = [
            (context.text, document(papers, c.key))
            for context, item in zip(contexts, recalled, strict=True)
            for c in item.candidates
        ]
        scores = reranker.score_pairs(pairs, instruction=options.instruction, progress=progress)
        out: list[Sequence[float] | None] = []
        start = 0
        for item in recalled:
            out.append(fuse(scores[start : start + len(item.candidates)]))
            start += len(item.candidates)
        return out
    judged: list[Sequence[float] | None] = []
    for number, (context, item) in enumerate(zip(contexts, recalled, strict=True)):
        documents = [document(papers, c.key) for c in item.candidates]
        judged.append(fuse(reranker.score(context.text, documents, instruction=options.instruction)))
        progress("Reranking", number + 1, len(contexts))
    return judged


def cut(
    context: Context,
    item: PassageRecall,
    scores: Sequence[float] | None,
    options: SuggestOptions,
    papers: Mapping[str, Paper],
    expanded: str = "",
) -> ContextSuggestions:
    """The passage's full ranking (by judge score when there is one, else recall order) and its suggestions:
    the top `options.top_n` above the threshold, cited papers left out unless asked for."""
    candidates = item.candidates
    cited = {normalise_key(k) for k in context.cited_keys}
    order = list(range(len(candidates)))
    if scores is not None:
        order.sort(key=lambda i: (-scores[i], i))
    top = max((float(c.score) for c in candidates), default=0.0)
    ranking = [
        _suggestion(candidates[i], rank, i, scores, top, papers, cited, item.why.get(candidates[i].key, ()))
        for rank, i in enumerate(order, 1)
    ]
    threshold = options.threshold
    if threshold is None and scores is not None:
        threshold = DEFAULT_RERANK_THRESHOLD
    kept = [
        s
        for s in ranking
        if (options.include_cited or not s.already_cited) and (threshold is None or s.score >= threshold)
    ]
    return ContextSuggestions(context, tuple(kept[: options.top_n]), tuple(ranking), expanded, item.plan)


def _suggestion(
    candidate: Candidate,
    rank: int,
    i: int,
    scores: Sequence[float] | None,
    top: float,
    papers: Mapping[str, Paper],
    cited: set[str],
    why: tuple[str, ...] = (),
) -> Suggestion:
    paper = papers.get(normalise_key(candidate.key))
    rerank_score = None if scores is None else float(scores[i])
    return Suggestion(
        key=paper.key if paper else candidate.key,
        title=paper.title if paper else "",
        score=rerank_score if rerank_score is not None else float(candidate.score),
        confidence=rerank_score if rerank_score is not None else share(candidate.score, top),
        rank=rank,
        recall_rank=i + 1,
        fused_score=float(candidate.score),
        bm25_rank=candidate.bm25_rank,
        dense_rank=candidate.dense_rank,
        rerank_score=rerank_score,
        already_cited=normalise_key(candidate.key) in cited,
        why=why,
    )


def share(score: float, top: float) -> float:
    """A recall score as a share of the passage's best (1.0 for the leader, 0 for below-average z-scores)."""
    return max(0.0, float(score) / top) if top > 0 else 0.0


def document(papers: Mapping[str, Paper], key: str) -> str:
    """What the reranker reads for candidate `key`: its entry formatted, or the bare key when it is gone."""
    paper = papers.get(normalise_key(key))
    return format_document(paper) if paper else key
