"""The cross-fitted adaptation's rows, built once per draft and masked per fold.

`adapt` fits a draft's weights on its cited passages `FOLDS` times, each time
with one fold's citations held out. Rebuilding the evidence and every candidate
row per fold made a thesis re-run 14 times slower than without the evidence.
Here each cited passage's candidate rows are read once, with every other cited
passage that cites each candidate as a column of a 0/1 matrix; a fold is a mask
over those columns, and its evidence (how many, how near, in the same paragraph
or section, the most alike sentence in meaning and in wording) is a few numpy
reductions. The rows then go through `RANKER_FEATURES`, the same functions the
ranking reads.

One difference from rebuilding: the wording's tf-idf weighs words by the draft's
cited sentences, not only the fold's (the sentences are text, not citations:
nothing of a held-out citation leaks).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from citerec.papers import normalise_key
from citerec.recall.features import (
    RANKER_FEATURES,
    CandidateTable,
    Clauses,
    PlanLists,
    Sentences,
    has_paper,
    reading_table,
    tfidf,
)
from citerec.recall.spec import Passage

if TYPE_CHECKING:
    from citerec.index import Index

UNKNOWN_PROXIMITY = 0.01  # a citing passage whose distance is unknown (as `evidence.Citing.proximity`)


@dataclass(frozen=True, eq=False)
class PassageRows:
    """One cited passage's candidates: the recalled ones first, then every paper another cited passage cites."""

    keys: tuple[str, ...]  # normalised
    readings: CandidateTable  # what the readings say of each (evidence empty: each fold's own)
    labels: np.ndarray  # the passage cites it
    citers: np.ndarray  # rows x cited passages: that passage cites this candidate (never the passage itself)
    # rows x cited passages: the context similarities where a citer's clause about the candidate stands for its
    # sentence (`Passage.clauses`); None where none does (then the draft's sentence similarities count)
    semantic: np.ndarray | None = None
    lexical: np.ndarray | None = None

    @functools.cached_property
    def added(self) -> np.ndarray:
        """The rows recall did not find: kept only while some unmasked citer cites them."""
        return np.array([c is None for c in self.readings.recalled], dtype=bool)


@dataclass(frozen=True, eq=False)
class DraftRows:
    """A draft's cited passages read once: their rows, and how each passage stands to every other."""

    passages: tuple[PassageRows, ...]
    proximity: np.ndarray  # cited x cited: 1/(1 + sentences apart), UNKNOWN_PROXIMITY when unknown
    known_distance: np.ndarray  # cited x cited: both positions known
    same_paragraph: np.ndarray
    same_section: np.ndarray
    semantic: np.ndarray  # cosines of the cited sentences
    lexical: np.ndarray  # tf-idf cosines of the cited sentences (words weighed over the draft's cited sentences)

    @classmethod
    def read(cls, index: Index, lists: PlanLists, known: Sequence[Collection[str]], cited: Sequence[int]) -> DraftRows:
        """The rows of the passages `cited` (indices into `lists`, each citing at least one paper)."""
        sub = lists.subset(cited)
        keys = [tuple(dict.fromkeys(known[i])) for i in cited]
        citing: dict[str, list[int]] = {}
        written: dict[str, str] = {}
        for b, own in enumerate(keys):
            for key in own:
                norm = normalise_key(key)
                written.setdefault(norm, key)
                citing.setdefault(norm, []).append(b)
        in_index = {norm for norm, key in written.items() if has_paper(index, key)}
        windows = index.query_vectors([p.window for p in sub.passages])
        rows = [_passage_rows(index, sub, b, windows[b], keys[b], citing, written, in_index) for b in range(len(cited))]
        sentences = Sentences.of(index, sub.passages)
        texts = Clauses.texts_of(sub.passages)
        said = Sentences.of_texts(index, texts)
        n = len(sub.passages)
        drafts = [p.draft for p in sub.passages]
        of = {text: p.draft for p in reversed(sub.passages) for _, text in p.clauses}
        # a clause's words weighed by the cited sentences, as theirs are (it adds nothing to them)
        weights = tfidf(sentences.tokens + said.tokens, drafts + [of[text] for text in texts], counted=n)
        semantic, lexical = sentences.vectors @ sentences.vectors.T, weights[:n] @ weights[:n].T
        if texts:
            alike = (said.vectors @ sentences.vectors.T, weights[n:] @ weights[:n].T)  # clause x passage
            at = {text: t for t, text in enumerate(texts)}
            rows = [_with_clauses(r, b, sub.passages, at, semantic[b], lexical[b], alike) for b, r in enumerate(rows)]
        return cls(tuple(rows), *_places(sub.passages), semantic, lexical)

    def shares(self, train: Sequence[int], split: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the cited passages at `train` (positions in this draft's cited passages) with only
        `train`'s citations as evidence: `split`(features) → their shares (rows x 3), and their labels."""
        mask = np.zeros(len(self.passages), dtype=bool)
        mask[list(train)] = True
        xs, ys = [], []
        for a in train:
            table, labels, _ = self._masked(a, mask)
            features = RANKER_FEATURES.rows(table, len(labels))[0].astype(np.float32)
            xs.append(split(features))
            ys.append(labels)
        return np.vstack(xs), np.concatenate(ys)

    def _masked(self, a: int, mask: np.ndarray) -> tuple[CandidateTable, np.ndarray, tuple[str, ...]]:
        """Passage `a`'s rows with the evidence of the passages in `mask` alone: the table, labels and keys."""
        rows = self.passages[a]
        cites = rows.citers & mask
        has = cites.any(axis=1)
        keep = ~rows.added | has
        cites, has = cites[keep], has[keep]
        proximity = self.proximity[a]
        near = np.where(cites & self.known_distance[a], proximity, 0.0).max(axis=1, initial=0.0)
        nearest = np.where(near > 0, near, np.where(has, UNKNOWN_PROXIMITY, 0.0))
        evidence = {
            "cited_elsewhere": has.astype(np.float64),
            "log_count": np.log1p(cites.sum(axis=1)),
            "proximity": cites @ proximity,
            "nearest": nearest,
            "same_paragraph": (cites & self.same_paragraph[a]).any(axis=1).astype(np.float64),
            "same_section": (cites & self.same_section[a]).any(axis=1).astype(np.float64),
            "context_cos": _best(cites, has, self.semantic[a] if rows.semantic is None else rows.semantic[keep]),
            "context_lex": _best(cites, has, self.lexical[a] if rows.lexical is None else rows.lexical[keep]),
        }
        readings = rows.readings
        recalled = tuple(c for c, kept in zip(readings.recalled, keep, strict=True) if kept)
        ranks = tuple(r for r, kept in zip(readings.window_ranks, keep, strict=True) if kept)
        table = CandidateTable(recalled, readings.z[keep], ranks, readings.cosines[keep], evidence)
        return table, rows.labels[keep], tuple(k for k, kept in zip(rows.keys, keep, strict=True) if kept)


def _with_clauses(
    rows: PassageRows,
    b: int,
    passages: Sequence[Passage],
    at: dict[str, int],
    semantic: np.ndarray,
    lexical: np.ndarray,
    alike: tuple[np.ndarray, np.ndarray],
) -> PassageRows:
    """Passage `b`'s rows with each citer's clause about a candidate standing for that citer's sentence (`at`:
    each clause's row in `alike`); the rows unchanged where no citer has one (most passages of a draft)."""
    said = [
        (r, j, at[clause])
        for r, j in zip(*np.nonzero(rows.citers), strict=True)
        if (clause := passages[j].clause_of(rows.keys[r]))
    ]
    if not said:
        return rows
    sem, lex = np.tile(semantic, (len(rows.keys), 1)), np.tile(lexical, (len(rows.keys), 1))
    for r, j, t in said:
        sem[r, j], lex[r, j] = alike[0][t, b], alike[1][t, b]
    return dataclasses.replace(rows, semantic=sem, lexical=lex)


def _best(cites: np.ndarray, has: np.ndarray, similarity: np.ndarray) -> np.ndarray:
    """The largest similarity to a citing passage, per row (0 without one; `similarity` per citer, or per row
    and citer)."""
    return np.where(has, np.where(cites, similarity.astype(np.float64), -np.inf).max(axis=1, initial=-np.inf), 0.0)


def _passage_rows(
    index: Index,
    sub: PlanLists,
    b: int,
    window: np.ndarray,
    own_keys: Sequence[str],
    citing: dict[str, list[int]],
    written: dict[str, str],
    in_index: set[str],
) -> PassageRows:
    cited_elsewhere = {
        norm: written[norm] for norm, js in citing.items() if norm in in_index and any(j != b for j in js)
    }
    keys, readings = reading_table(index, sub.recalled[b], sub.window[b] if sub.window else (), window, cited_elsewhere)
    citers = np.zeros((len(keys), len(sub.passages)), dtype=bool)
    for row, norm in enumerate(keys):
        for j in citing.get(norm, ()):
            citers[row, j] = j != b
    cited_here = {normalise_key(k) for k in own_keys}
    return PassageRows(keys, readings, np.array([n in cited_here for n in keys], dtype=bool), citers)


def _places(passages: Sequence[Passage]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Proximity, whether the distance is known, same paragraph and same section, for every pair of passages."""
    position = np.array([p.position for p in passages])
    paragraph = np.array([p.paragraph for p in passages])
    section = [p.section for p in passages]
    known = (position[:, None] >= 0) & (position[None, :] >= 0)
    distance = np.abs(position[:, None] - position[None, :])
    proximity = np.where(known, 1.0 / (1.0 + distance), UNKNOWN_PROXIMITY)
    same_paragraph = known & (paragraph[:, None] >= 0) & (paragraph[:, None] == paragraph[None, :])
    same_section = np.array([[bool(s) and s == t for t in section] for s in section], dtype=bool).reshape(
        len(passages), len(passages)
    )
    return proximity, known, same_paragraph, same_section
