"""Pseudo-relevance feedback: the first pass's best papers lend the query their vocabulary.

RM3 (Abdul-Jaleel et al., 2004) for BM25: a relevance model over the feedback
papers, P(t|R) = Σ_d P(t|d)·P(d|q), keeps its heaviest terms and mixes them
with the query's own terms. Rocchio for the dense side: the query vector moves
towards the mean of the feedback papers' vectors. Both help vague passages
("as shown before") whose words are not the cited paper's words; both can
drift when the first pass was wrong, so their weights stay below the query's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from citerec.index.bm25 import top_positive
from citerec.index.text import tokenize
from citerec.recall.spec import Candidate, FusionSettings

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.index.bm25 import Bm25Index
    from citerec.index.terms import DocumentTerms


def rm3_query(
    query: str, terms: DocumentTerms, rows: Sequence[int], doc_weights: Sequence[float], n_terms: int, weight: float
) -> tuple[dict[int, float], tuple[str, ...]]:
    """BM25 column → weight for the expanded query, and the stems feedback added (heaviest first).

    (1 − weight)·P(t|q) + weight·P(t|R): the query's own terms by frequency, the
    relevance model's terms by their feedback probability.
    """
    vocab = terms.bm25.vocab
    counts = Counter(vocab[t] for t in tokenize(query) if t in vocab)
    total = sum(counts.values())
    mixed: dict[int, float] = {c: (1 - weight) * n / total for c, n in counts.items()} if total else {}
    model = terms.relevance_model(rows, doc_weights, n_terms)
    own = weight if total else 1.0
    for column, p in model.items():
        mixed[column] = mixed.get(column, 0.0) + own * p
    added = tuple(terms.words[c] for c in model if c not in counts)
    return mixed, added


def weighted_scores(bm25: Bm25Index, query: dict[int, float]) -> np.ndarray:
    """Σ_t weight_t · BM25(t, d) for every document d."""
    out = np.zeros(bm25.size, dtype=np.float32)
    for column, weight in query.items():
        start, end = int(bm25.indptr[column]), int(bm25.indptr[column + 1])
        np.add.at(out, bm25.indices[start:end], weight * bm25.data[start:end])
    return out


def rocchio(query: np.ndarray, feedback: np.ndarray, weight: float) -> np.ndarray:
    """The unit query vector moved `weight` of the way towards the feedback papers' mean vector."""
    if not len(feedback) or weight <= 0:
        return query
    centre = feedback.mean(axis=0)
    moved = (1 - weight) * query + weight * centre
    norm = float(np.linalg.norm(moved))
    return (moved / norm).astype(np.float32) if norm > 0 else query


def _rm3(
    index: Index, query: str, candidates: Sequence[Candidate], fusion: FusionSettings
) -> tuple[dict[int, float], tuple[str, ...]]:
    """RM3 over the first pass's `candidates`, weighted by their (shifted non-negative) scores."""
    rows = [index.row(c.key) for c in candidates]
    low = min((c.score for c in candidates), default=0.0)
    weights = [c.score - min(low, 0.0) for c in candidates]  # z-score fusion can give negative scores
    return rm3_query(query, index.document_terms(), rows, weights, fusion.prf_terms, fusion.rm3_weight)


def feedback_terms(
    index: Index, queries: Sequence[str], first: Sequence[Sequence[Candidate]], fusion: FusionSettings
) -> list[tuple[str, ...]]:
    """The BM25 stems RM3 adds to each query (heaviest first), given its first-pass candidates."""
    return [_rm3(index, q, candidates, fusion)[1] for q, candidates in zip(queries, first, strict=True)]


def feedback_lists(
    index: Index,
    queries: Sequence[str],
    first: Sequence[Sequence[Candidate]],
    depth: int,
    method: str,
    fusion: FusionSettings,
) -> tuple[list | None, list | None]:
    """The second pass: each query's BM25 list for its RM3-expanded terms and dense list for its
    Rocchio-moved vector (None for a method not in use)."""
    lexical = semantic = None
    if method != "dense":
        lexical = []
        for query, candidates in zip(queries, first, strict=True):
            expanded, _ = _rm3(index, query, candidates, fusion)
            lexical.append(top_positive(weighted_scores(index.bm25, expanded), depth))
    if method != "bm25":
        vectors = index.query_vectors(queries)
        moved = [
            rocchio(vector, index.paper_vectors([c.key for c in candidates]), fusion.rocchio_weight)
            for vector, candidates in zip(vectors, first, strict=True)
        ]
        semantic = index.dense_lists(np.stack(moved), depth)
    return lexical, semantic
