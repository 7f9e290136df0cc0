"""A document-major view of the BM25 index: each paper's term weights, for pseudo-relevance feedback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

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
