"""The adaptation's masked rows beside the rows rebuilt from the fold's citations alone, as tests compare them."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

import numpy as np

from citerec.index import Index
from citerec.recall.evidence import draft_evidence
from citerec.recall.features import RANKER_FEATURES, PlanLists, Rows, candidate_rows
from citerec.recall.folds import DraftRows


def masked_beside_rebuilt(
    index: Index, lists: PlanLists, known: Sequence[Collection[str]], rows: DraftRows, held: Collection[int]
) -> Iterator[tuple[int, np.ndarray, np.ndarray, Rows]]:
    """For each passage outside `held` (every passage cites): its masked features and labels, in the rebuilt
    rows' key order, and the rebuilt rows (`candidate_rows` over the other passages' citations)."""
    train = [n for n in range(len(lists.passages)) if n not in held]
    mask = np.zeros(len(lists.passages), dtype=bool)
    mask[train] = True
    sub = lists.subset(train)
    rebuilt = candidate_rows(index, sub, draft_evidence(sub.passages, [known[i] for i in train]))
    for a, old in zip(train, rebuilt, strict=True):
        table, labels, keys = rows._masked(a, mask)
        assert sorted(keys) == sorted(old.keys)
        new = RANKER_FEATURES.rows(table, len(labels))[0].astype(np.float32)
        order = [dict(zip(keys, range(len(keys)), strict=True))[key] for key in old.keys]
        yield a, new[order], labels[order], old
