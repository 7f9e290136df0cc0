"""Per-candidate features for the learned ranking: each reading's lists, their agreement, and the draft evidence.

For every passage the candidates are its recalled papers (the passage plan's
fused list) and, when the draft evidence is on, the papers the draft cites in
*other* passages that recall missed. Each (passage, candidate) pair becomes one
row of `FEATURES`; `citerec.recall.learned` turns rows into one score. The same
function makes the rows the shipped model was trained on (`citerec train ranker`)
and the rows it scores, so training and use cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from citerec.index.text import tokenize
from citerec.linear import Feature, FeatureSet
from citerec.papers import normalise_key
from citerec.recall.evidence import PaperEvidence
from citerec.recall.spec import Candidate, Passage

if TYPE_CHECKING:
    from citerec.index import Index

READINGS, PRIOR, WORDING = "readings", "prior", "wording"  # the shares an adaptation re-weighs (recall.adapt)


@dataclass(frozen=True)
class CandidateTable:
    """One passage's candidates as the feature functions read them: one entry per row, in row order."""

    recalled: tuple[Candidate | None, ...]  # the passage plan's candidate (None: added by the evidence)
    z: np.ndarray  # fused score z-scored within the passage's list (the list's floor for an added one)
    window_ranks: tuple[int | None, ...]  # rank in the window plan's list
    cosines: np.ndarray  # cosine of the passage's window and the paper's vector
    evidence: Mapping[str, np.ndarray]  # each evidence feature's column (EvidenceValues' fields)


@dataclass(frozen=True)
class EvidenceValues:
    """What the draft's other citations say of one candidate (all 0 without evidence)."""

    cited_elsewhere: float = 0.0
    log_count: float = 0.0
    proximity: float = 0.0
    nearest: float = 0.0
    same_paragraph: float = 0.0
    same_section: float = 0.0
    context_cos: float = 0.0
    context_lex: float = 0.0


_NO_EVIDENCE = EvidenceValues()


def _agree(candidate: Candidate | None) -> float:
    return float(candidate is not None and candidate.bm25_rank is not None and candidate.dense_rank is not None)


def _rank_gain(table: CandidateTable, which: str) -> np.ndarray:
    return np.array([_gain(getattr(c, which)) if c is not None else 0.0 for c in table.recalled])


def _evidence(name: str) -> Callable[[CandidateTable], np.ndarray]:
    return lambda table: table.evidence[name]


def evidence_columns(values: Sequence[EvidenceValues]) -> dict[str, np.ndarray]:
    """The evidence of each row as one column per feature (what `RANKER_FEATURES` reads)."""
    names = [f.name for f in dataclasses.fields(EvidenceValues)]
    if not values:
        return {name: np.zeros(0) for name in names}
    row = operator.attrgetter(*names)
    return dict(zip(names, np.array([row(v) for v in values], dtype=np.float64).T, strict=True))


RANKER_FEATURES: FeatureSet[CandidateTable] = FeatureSet(
    (
        # the passage plan's fused score, z-scored within the passage's list
        Feature("fused_z", lambda t: t.z, READINGS),
        # 1/log2(1 + rank) in that list (0: not recalled)
        Feature(
            "fused_rank",
            lambda t: np.array([_gain(r + 1) if c is not None else 0.0 for r, c in enumerate(t.recalled)]),
            READINGS,
        ),
        # the same in the window plan's list (the sentence with its neighbours, fused by rank)
        Feature("window_rank", lambda t: np.array([_gain(r) for r in t.window_ranks]), READINGS),
        Feature("bm25_rank", lambda t: _rank_gain(t, "bm25_rank"), READINGS),  # the same in the BM25 list
        Feature("dense_rank", lambda t: _rank_gain(t, "dense_rank"), READINGS),  # the same in the dense list
        # 1 when BM25 and dense both list it
        Feature("agreement", lambda t: np.array([_agree(c) for c in t.recalled]), READINGS),
        Feature("dense_cos", lambda t: t.cosines, READINGS),  # cosine of the passage's window and the paper
        # that cosine minus the best among the passage's candidates
        Feature("dense_gap", lambda t: t.cosines - (t.cosines.max() if len(t.cosines) else 0.0), READINGS),
        Feature("cited_elsewhere", _evidence("cited_elsewhere"), PRIOR),  # 1 when another passage cites it
        Feature("log_count", _evidence("log_count"), PRIOR),  # log(1 + how many other passages cite it)
        Feature("proximity", _evidence("proximity"), PRIOR),  # Σ 1/(1 + sentences away) over those passages
        Feature("nearest", _evidence("nearest"), PRIOR),  # 1/(1 + sentences away) of the nearest one
        Feature("same_paragraph", _evidence("same_paragraph"), PRIOR),  # one of them in the passage's paragraph
        Feature("same_section", _evidence("same_section"), PRIOR),  # one of them in the passage's section
        # citation-context expansion: best cosine of the passage's sentence and a citing sentence
        Feature("context_cos", _evidence("context_cos"), WORDING),
        Feature("context_lex", _evidence("context_lex"), WORDING),  # the same by tf-idf over the draft's words
    )
)
FEATURES = RANKER_FEATURES.names
EVIDENCE_FEATURES = RANKER_FEATURES.of(PRIOR, WORDING)
CONTEXT_FEATURES = RANKER_FEATURES.of(WORDING)  # what a past sentence of the user's earlier drafts feeds


@dataclass(frozen=True)
class PlanLists:
    """Passages and what each reading plan recalled for them: what the learned ranking reads, as one value."""

    passages: tuple[Passage, ...]
    recalled: tuple[tuple[Candidate, ...], ...]  # per passage, the passage plan's fused list
    window: tuple[tuple[Candidate, ...], ...] = ()  # per passage, the window plan's list (empty: not recalled)

    @classmethod
    def of(
        cls,
        passages: Sequence[Passage],
        recalled: Sequence[Sequence[Candidate]],
        window: Sequence[Sequence[Candidate]] = (),
    ) -> PlanLists:
        return cls(tuple(passages), tuple(map(tuple, recalled)), tuple(map(tuple, window)))

    def subset(self, rows: Sequence[int]) -> PlanLists:
        """The lists of the passages at `rows`, in that order."""
        window = tuple(self.window[i] for i in rows) if self.window else ()
        return PlanLists(tuple(self.passages[i] for i in rows), tuple(self.recalled[i] for i in rows), window)


@dataclass(frozen=True)
class Rows:
    """One passage's candidates (normalised keys, recalled first, in recall order) and their feature rows."""

    keys: tuple[str, ...]
    features: np.ndarray  # len(keys) x len(FEATURES), float32
    recalled: tuple[Candidate | None, ...]  # the passage plan's candidate, None for one the evidence added
    evidence: tuple[PaperEvidence | None, ...]
    best_context: tuple[int, ...]  # index of the most alike citing passage (-1: none)


@dataclass(frozen=True, eq=False)
class Sentences:
    """Passages' sentences as the context features compare them: their query vectors (unit) and their words.

    Made once for a draft's citing passages (`citerec.recall.draft`), so that a new
    passage is compared with them without embedding them again."""

    vectors: np.ndarray  # passages x dimension, float32
    tokens: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, index: Index, passages: Sequence[Passage]) -> Sentences:
        return cls.of_texts(index, [p.sentence or p.window for p in passages])

    @classmethod
    def of_texts(cls, index: Index, texts: Sequence[str]) -> Sentences:
        vectors = index.query_vectors(texts) if texts else np.zeros((0, index.manifest.dimension), np.float32)
        return cls(vectors, tuple(tuple(tokenize(text)) for text in texts))

    def __add__(self, other: Sentences) -> Sentences:
        return Sentences(np.vstack([self.vectors, other.vectors]), self.tokens + other.tokens)


@dataclass(frozen=True, eq=False)
class Clauses:
    """Passages' clauses (a paper's own words in a sentence listing several, `Passage.clauses`) as the context
    features compare them: made once for a draft's citing passages (`citerec.recall.draft`), like `Sentences`."""

    texts: tuple[str, ...]
    sentences: Sentences

    @staticmethod
    def texts_of(passages: Sequence[Passage]) -> tuple[str, ...]:
        """Every clause of the passages once, in order."""
        return tuple(dict.fromkeys(text for p in passages for _, text in p.clauses))

    def read(self, index: Index, texts: Sequence[str]) -> Sentences:
        """The `Sentences` of `texts`, embedding only those not made already."""
        row = {text: r for r, text in enumerate(self.texts)}
        new = [text for text in dict.fromkeys(texts) if text not in row]
        made = self.sentences + Sentences.of_texts(index, new) if new else self.sentences
        row.update({text: len(self.texts) + n for n, text in enumerate(new)})
        rows = [row[text] for text in texts]
        return Sentences(made.vectors[rows], tuple(made.tokens[r] for r in rows))


def candidate_rows(
    index: Index,
    lists: PlanLists,
    evidence: Sequence[Mapping[str, PaperEvidence]],
    *,
    only: Sequence[int] | None = None,
    sentences: Sentences | None = None,
    past: Sentences | None = None,
    clauses: Clauses | None = None,
) -> list[Rows]:
    """Every passage's candidate rows: its recalled papers, then the papers its draft cites elsewhere.

    `only`: the passages to make rows for (default all; the others are evidence alone); `sentences`: the
    passages' `Sentences` when already made; `past`: the past sentences' (`PaperEvidence.past`); `clauses`:
    the passages' clauses' (`Passage.clauses`)."""
    passages, recalled, window = lists.passages, lists.recalled, lists.window
    wanted = list(range(len(passages))) if only is None else list(only)
    queried = index.query_vectors([passages[i].window for i in wanted]) if wanted else np.zeros((0, 0), np.float32)
    windows = dict(zip(wanted, queried, strict=True))
    lexical, semantic, said = _sentence_similarities(index, passages, evidence, sentences, past, clauses)
    out = []
    for i in wanted:
        by_norm = {norm: found.key for norm, found in evidence[i].items() if has_paper(index, found.key)}
        keys, readings = reading_table(index, recalled[i], window[i] if window else (), windows[i], by_norm)
        found_by_row = tuple(evidence[i].get(n) for n in keys)
        values = [_evidence_features(found, i, lexical, semantic, said.get(i, {})) for found in found_by_row]
        table = dataclasses.replace(readings, evidence=evidence_columns([v for v, _ in values]))
        matrix = RANKER_FEATURES.rows(table, len(keys))[0].astype(np.float32)
        out.append(Rows(keys, matrix, table.recalled, found_by_row, tuple(best for _, best in values)))
    return out


def reading_table(
    index: Index,
    recalled: Sequence[Candidate],
    window: Sequence[Candidate],
    query: np.ndarray,
    added: Mapping[str, str],
) -> tuple[tuple[str, ...], CandidateTable]:
    """One passage's candidate keys (normalised) and what its readings say of each, its evidence left empty: the
    recalled papers in recall order, then the papers of `added` (normalised key → library key) recall missed,
    scored at the recalled list's floor. Training, inference and the adaptation's folds all start here."""
    own = {normalise_key(c.key): c for c in recalled}
    extra = [norm for norm in added if norm not in own]
    keys = (*own, *extra)
    library_keys = [c.key for c in recalled] + [added[norm] for norm in extra]
    cosines = index.paper_vectors(library_keys) @ query if library_keys else np.zeros(0, np.float32)
    window_ranks = {normalise_key(c.key): r for r, c in enumerate(window, 1)}
    scores = np.asarray([c.score for c in recalled], dtype=np.float64)
    mean, std = (scores.mean(), scores.std()) if len(scores) else (0.0, 0.0)
    floor = float((scores.min() - mean) / std) if len(scores) and std > 0 else 0.0
    rows = tuple(own.get(norm) for norm in keys)
    z = np.array([((c.score - mean) / std if std > 0 else 0.0) if c is not None else floor for c in rows])
    ranks = tuple(window_ranks.get(norm) for norm in keys)
    return keys, CandidateTable(rows, z, ranks, np.asarray(cosines, dtype=np.float64), {})


def has_paper(index: Index, key: str) -> bool:
    """Whether the index holds the paper `key`."""
    try:
        index.row(key)
    except KeyError:
        return False
    return True


def _gain(rank: int | None) -> float:
    return 1.0 / math.log2(1 + rank) if rank else 0.0


def _evidence_features(
    found: PaperEvidence | None,
    i: int,
    lexical: Mapping[int, np.ndarray],
    semantic: Mapping[int, np.ndarray],
    said: Mapping[str, tuple[float, float]],
) -> tuple[EvidenceValues, int]:
    """The evidence of one candidate and its most alike citing passage (-1: none); past sentences count in the
    context similarities alone. A citing passage's clause about the candidate (`said`: its cosine and tf-idf
    similarity to passage `i`) stands for that passage's sentence."""
    if found is None:
        return _NO_EVIDENCE, -1
    citing = found.citing
    every = (*citing, *found.past)
    js = [c.passage for c in every]
    sem = (
        [said[c.sentence][0] if c.clause else float(semantic[i][c.passage]) for c in every] if i in semantic else [0.0]
    )
    lex = [said[c.sentence][1] if c.clause else float(lexical[i][c.passage]) for c in every] if i in lexical else [0.0]
    best = js[int(np.argmax(sem))] if i in semantic else -1
    if not citing:  # only past sentences: they say nothing of where the draft cites the paper
        return EvidenceValues(context_cos=max(sem), context_lex=max(lex)), best
    values = EvidenceValues(
        cited_elsewhere=1.0,
        log_count=math.log1p(found.count),
        proximity=found.proximity,
        nearest=found.nearest.proximity,
        same_paragraph=float(any(c.same_paragraph for c in citing)),
        same_section=float(any(c.same_section for c in citing)),
        context_cos=max(sem),
        context_lex=max(lex),
    )
    return values, best


def _sentence_similarities(
    index: Index,
    passages: Sequence[Passage],
    evidence: Sequence[Mapping[str, PaperEvidence]],
    sentences: Sentences | None = None,
    past: Sentences | None = None,
    clauses: Clauses | None = None,
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, dict[str, tuple[float, float]]]]:
    """For each passage with evidence, its sentence's tf-idf and dense cosine to every passage's sentence,
    then to every past sentence (`Citing.passage` after the passages; `past`: all of them, when made); and
    to each clause its evidence quotes (by text: cosine, tf-idf; `clauses`: the passages', when made).

    Rows are indexed by passage; only passages of the same draft are ever compared."""
    wanted = [i for i, found in enumerate(evidence) if found]
    if not wanted:
        return {}, {}, {}
    sentences = sentences if sentences is not None else Sentences.of(index, passages)
    drafts = [p.draft for p in passages]
    weights = tfidf(sentences.tokens, drafts)
    lexical = {i: weights @ weights[i] for i in wanted}
    quoted = _clause_similarities(index, drafts, evidence, wanted, sentences, clauses)
    said = {c.passage - len(passages): c.sentence for i in wanted for e in evidence[i].values() for c in e.past}
    if not said:
        return lexical, {i: sentences.vectors @ sentences.vectors[i] for i in wanted}, quoted
    used = sorted(said)  # the past sentences about some candidate: the others are never read
    if past is None:
        past = Sentences.of_texts(index, [said[m] for m in used])
    else:
        past = Sentences(past.vectors[used], tuple(past.tokens[m] for m in used))
    top = used[-1] + 1
    semantic = {}
    for i in wanted:
        here = sentences.vectors[i]
        semantic[i] = np.concatenate([sentences.vectors @ here, _spread(past.vectors @ here, used, top)])
    for draft in {drafts[i] for i in wanted}:  # past sentences weighed by each draft's own idf
        rows = [i for i, d in enumerate(drafts) if d == draft]
        tokens = [sentences.tokens[i] for i in rows] + list(past.tokens)
        both = tfidf(tokens, [draft] * len(tokens), blank=top - len(used))
        for local, i in enumerate(rows):
            if i in lexical:
                lexical[i] = np.concatenate([lexical[i], _spread(both[len(rows) :] @ both[local], used, top)])
    return lexical, semantic, quoted


def _clause_similarities(
    index: Index,
    drafts: Sequence[str],
    evidence: Sequence[Mapping[str, PaperEvidence]],
    wanted: Sequence[int],
    sentences: Sentences,
    clauses: Clauses | None,
) -> dict[int, dict[str, tuple[float, float]]]:
    """For each passage in `wanted`, its sentence's cosine and tf-idf similarity to each clause its evidence
    quotes; a clause's words are weighed by its draft's sentences, as theirs are (it adds nothing to them)."""
    quoted = {
        i: list(dict.fromkeys(c.sentence for e in evidence[i].values() for c in e.citing if c.clause)) for i in wanted
    }
    quoted = {i: texts for i, texts in quoted.items() if texts}
    if not quoted:
        return {}
    texts = list(dict.fromkeys(text for found in quoted.values() for text in found))
    read = clauses.read(index, texts) if clauses is not None else Sentences.of_texts(index, texts)
    at = {text: r for r, text in enumerate(texts)}
    out: dict[int, dict[str, tuple[float, float]]] = {}
    for draft in {drafts[i] for i in quoted}:
        rows = [i for i, d in enumerate(drafts) if d == draft]
        tokens = [sentences.tokens[i] for i in rows] + list(read.tokens)
        weights = tfidf(tokens, [draft] * len(tokens), counted=len(rows))
        for local, i in enumerate(rows):
            for text in quoted.get(i, ()):
                r = at[text]
                cosine = float(read.vectors[r] @ sentences.vectors[i])
                out.setdefault(i, {})[text] = (cosine, float(weights[len(rows) + r] @ weights[local]))
    return out


def _spread(values: np.ndarray, at: Sequence[int], size: int) -> np.ndarray:
    """`values` at the rows `at` of `size` zeros (where a past sentence no candidate has would stand)."""
    out = np.zeros(size, dtype=values.dtype)
    out[list(at)] = values
    return out


def tfidf(
    tokens: Sequence[Sequence[str]], drafts: Sequence[str], blank: int = 0, counted: int | None = None
) -> np.ndarray:
    """Unit tf-idf rows of the sentences (as words); document frequencies counted within each sentence's draft,
    each draft's count of sentences with `blank` empty ones more (past sentences left unread). Only the first
    `counted` rows count (default all): the others are weighed by them (clauses, weighed as their sentences)."""
    vocab: dict[str, int] = {}
    for words in tokens:
        for word in words:
            vocab.setdefault(word, len(vocab))
    matrix = np.zeros((len(tokens), max(len(vocab), 1)), dtype=np.float32)
    for row, words in enumerate(tokens):
        for word in words:
            matrix[row, vocab[word]] += 1.0
    counted = len(tokens) if counted is None else counted
    for draft in set(drafts):
        rows = [i for i, d in enumerate(drafts) if d == draft]
        weighing = [i for i in rows if i < counted]
        df = (matrix[weighing] > 0).sum(axis=0)
        idf = np.log((1 + len(weighing) + blank) / (1 + df)) + 1.0
        matrix[rows] *= idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
