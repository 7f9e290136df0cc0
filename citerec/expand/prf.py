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

from citerec.index.text import tokenize

if TYPE_CHECKING:
    from citerec.index.bm25 import Bm25Index


class DocumentTerms:
    """Document-major view of a BM25 index (term weights per paper), built once on first feedback."""

    def __init__(self, bm25: Bm25Index) -> None:
        from scipy.sparse import csc_matrix

        self.bm25 = bm25
        shape = (bm25.size, len(bm25.vocab))
        self.rows = csc_matrix((bm25.data, bm25.indices, bm25.indptr), shape=shape).tocsr()
        self.words = [""] * len(bm25.vocab)
        for word, column in bm25.vocab.items():
            self.words[column] = word

    def relevance_model(self, rows: Sequence[int], doc_weights: Sequence[float], n_terms: int) -> dict[int, float]:
        """The `n_terms` heaviest columns of P(t|R) = Σ_d P(t|d)·P(d|q), weights summing to 1."""
        if not len(rows) or n_terms <= 0:
            return {}
        block = self.rows[list(rows)]
        sums = np.asarray(block.sum(axis=1)).ravel()
        sums[sums == 0] = 1.0
        prior = np.asarray(doc_weights, dtype=np.float64)
        prior = prior / prior.sum() if prior.sum() > 0 else np.full(len(rows), 1.0 / len(rows))
        model = np.asarray(block.multiply((prior / sums)[:, None]).sum(axis=0)).ravel()
        top = np.argsort(-model, kind="stable")[:n_terms]
        top = top[model[top] > 0]
        total = float(model[top].sum())
        return {int(c): float(model[c] / total) for c in top} if total > 0 else {}


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
