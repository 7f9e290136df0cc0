"""The lexical half of recall: a BM25 matrix built by bm25s, saved as plain numpy arrays.

bm25s computes the per-(term, document) BM25 weights once, as a CSC matrix
(term → documents). Scoring a query is then a sum of a few matrix columns, which
we do here with numpy on the saved (memory-mapped) arrays, so answering a query
needs neither bm25s nor its on-disk format.
"""

from __future__ import annotations

import json
import logging
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citerec.index.text import tokenize
from citerec.storage import atomic_open, atomic_write_text

K1 = 1.2
B = 0.75
_FILES = ("bm25_data.npy", "bm25_indices.npy", "bm25_indptr.npy")
_VOCAB = "bm25_vocab.json"
_MMAP_BYTES = 1 << 20


def load_array(path: Path) -> np.ndarray:
    """A saved array, memory-mapped when large (big libraries need not fit in RAM twice)."""
    mmap = "r" if path.stat().st_size > _MMAP_BYTES else None
    return np.load(path, mmap_mode=mmap, allow_pickle=False)


@dataclass(frozen=True)
class Bm25Index:
    """Term-major BM25 weights: column `t` holds (document row, weight) pairs for term `t`."""

    data: np.ndarray  # float32 weights
    indices: np.ndarray  # document rows
    indptr: np.ndarray  # len(vocab) + 1 offsets into data/indices
    vocab: dict[str, int]
    size: int  # number of documents

    FILES = (*_FILES, _VOCAB)  # what `save` writes

    @classmethod
    def build(cls, documents: Iterable[str]) -> Bm25Index:
        """Index `documents` (row i = the i-th document) with bm25s' Lucene BM25 (k1=1.2, b=0.75).

        Documents are tokenized as they stream in and kept as compact arrays of
        term ids, so 100k abstracts need tens of MB, not the GBs of token strings.
        """
        vocab: dict[str, int] = {}
        corpus: list[array] = []
        for document in documents:
            corpus.append(array("i", [vocab.setdefault(term, len(vocab)) for term in tokenize(document)]))
        if not vocab:
            return cls(np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64), {}, len(corpus))
        import bm25s

        # bm25s sets its logger to DEBUG on import; give the level back to the application.
        logging.getLogger("bm25s").setLevel(logging.NOTSET)
        retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
        retriever.index((corpus, vocab), create_empty_token=False, show_progress=False)
        scores = retriever.scores
        return cls(
            data=np.asarray(scores["data"], dtype=np.float32),
            indices=np.asarray(scores["indices"]),
            indptr=np.asarray(scores["indptr"]),
            vocab=vocab,
            size=len(corpus),
        )

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for `query` (zeros when no query term is indexed)."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in tokenize(query):
            column = self.vocab.get(term)
            if column is None:
                continue
            start, end = int(self.indptr[column]), int(self.indptr[column + 1])
            np.add.at(out, self.indices[start:end], self.data[start:end])
        return out

    def top_k(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the best `k` documents with a positive score, best first."""
        return top_positive(self.scores(query), k)

    def save(self, folder: Path) -> None:
        for name, values in zip(_FILES, (self.data, self.indices, self.indptr), strict=True):
            with atomic_open(folder / name, "wb", encoding=None) as handle:
                np.save(handle, values, allow_pickle=False)
        atomic_write_text(folder / _VOCAB, json.dumps({"size": self.size, "vocab": self.vocab}, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        data, indices, indptr = (load_array(folder / name) for name in _FILES)
        meta = json.loads((folder / _VOCAB).read_text(encoding="utf-8"))
        return cls(data=data, indices=indices, indptr=indptr, vocab=meta["vocab"], size=int(meta["size"]))


def top_positive(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the best `k` positive scores, best first (ties: lower row)."""
    rows = np.flatnonzero(scores > 0)
    if len(rows) > k:
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    rows = rows[np.lexsort((rows, -scores[rows]))]
    return rows, scores[rows]
