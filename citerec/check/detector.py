"""Where to cite: score every uncited sentence of a draft by how likely it needs a citation.

The pipeline: the reader's sentences (features.read_sentences) → MiniLM vectors,
cue words, position and section, and how strongly the library answers each
sentence (one recall call) → the draft model, which reads the prior model's
score and the draft's own citations around each sentence, when the draft cites
enough, else the fresh model, which reads whether the library's papers point at
the sentence → the sentences over the threshold get their suggestions from the
ordinary suggester (reranked when on).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from citerec.check.features import (
    DRAFT_FEATURE_NAMES,
    POINTER_NAMES,
    SentenceRow,
    draft_features,
    read_sentences,
    text_features,
)
from citerec.check.model import DRAFT_MODEL_FILE, FRESH_MODEL_FILE, MIN_LABELLED, load_model, model_version
from citerec.linear import LinearModel, sigmoid
from citerec.suggest import Suggester, Suggestion, SuggestOptions

if TYPE_CHECKING:
    from citerec.embed import Embedder
    from citerec.index import Index
    from citerec.latex import Draft

PRIOR_LOGIT = "prior_logit"  # the draft model's first feature: the prior's logit of the sentence

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_THRESHOLD = 0.25  # chosen on the corpus dev part: precision and recall both >= 0.4 in a first draft (0.406 /
# 0.435); in a nearly finished one 0.404 / 0.240 (at 0.3: 0.440 / 0.164; no threshold gives both 0.4 there)
STRENGTH_DEPTH = 10
POINTER_DEPTH = 3  # a sentence's own top papers that `library_pointers` reads
CHUNK = 16  # sentences embedded and recalled at once when an editor waits between chunks
_VECTOR_FEATURES = ("emb_", "paragraph_emb_")
CHECK_EMBEDDER = None  # the bundled MiniLM (ONNX int8): the shipped model's embedding features come from it


@dataclass(frozen=True)
class CheckOptions:
    """How a check runs: the cut, suggestions per sentence, whether to adapt to the draft, how to suggest."""

    threshold: float = DEFAULT_THRESHOLD
    top_n: int = 5
    adapt: bool = True
    suggest: SuggestOptions = SuggestOptions()

    def __post_init__(self) -> None:
        from citerec.errors import CiterecError

        if not 0.0 <= self.threshold <= 1.0:
            raise CiterecError(f"--threshold must be between 0 and 1, not {self.threshold}")
        if self.top_n < 0:
            raise CiterecError("--top must be 0 or more")


@dataclass(frozen=True)
class SentenceCheck:
    """One uncited sentence, its score in [0, 1], and (when it likely needs one) what to cite."""

    file: str
    line: int
    end_line: int
    text: str
    score: float
    needs_citation: bool
    section: str
    suggestions: tuple[Suggestion, ...] = ()
    start: int = 0  # character offsets of the sentence in its file (editors and the web page mark it)
    end: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "end_line": self.end_line,
            "text": self.text,
            "score": round(self.score, 4),
            "needs_citation": self.needs_citation,
            "section": self.section,
            "start": self.start,
            "end": self.end,
            "suggestions": [s.to_json() for s in self.suggestions],
        }


@dataclass(frozen=True)
class CheckResult:
    """A draft's uncited sentences, in reading order, and how they were scored."""

    source: str
    sentences: tuple[SentenceCheck, ...]
    threshold: float
    adapted: bool  # whether the draft's own citations were read (the draft model scored)
    model_version: str
    n_cited: int

    def flagged(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if s.needs_citation]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "model_version": self.model_version,
            "threshold": self.threshold,
            "adapted": self.adapted,
            "n_cited_sentences": self.n_cited,
            "sentences": [s.to_json() for s in self.sentences],
        }


_EMBEDDER: list[Embedder] = []


def embed_sentences(texts: Sequence[str], index: Index | None = None) -> np.ndarray:
    """The sentences' vectors from the embedder the shipped model was trained with (loaded once).

    An `index` built with that same embedder embeds them instead, through its recall cache: recall
    (`recall_strength`) then finds every sentence's vector there and embeds nothing twice."""
    from citerec.embed import embedder_name, load_embedder

    if index is not None and texts and index.embedder_name == embedder_name(CHECK_EMBEDDER):
        return np.asarray(index.query_vectors(list(texts)), dtype=np.float64)
    if not _EMBEDDER:
        _EMBEDDER.append(load_embedder(CHECK_EMBEDDER))
    if not texts:
        return np.zeros((0, 384))
    return np.asarray(_EMBEDDER[0].embed_queries(list(texts)), dtype=np.float64)


def recall_strength(suggester: Suggester, texts: Sequence[str]) -> np.ndarray:
    """How strongly the library answers each sentence (`strength_from`) and whether its papers point back at
    it (`library_pointers`): one recall call for every sentence of one draft.

    The one place this package reaches into recall, so a change there is a change here only.
    """
    return library_strength(suggester.index, texts, recall_lists(suggester, texts))


def library_strength(index: Index, texts: Sequence[str], lists: Sequence[Sequence[Any]]) -> np.ndarray:
    """The prior model's library columns from the sentences' recalled lists: four of strength, three of pointers."""
    return np.hstack([strength_from(lists), library_pointers(index, texts, lists)])


def recall_lists(suggester: Suggester, texts: Sequence[str]) -> list[list[Any]]:
    """Each sentence's STRENGTH_DEPTH recalled candidates."""
    from citerec.recall import RecallSpec, recall_texts

    return recall_texts(suggester.index, list(texts), RecallSpec(k=STRENGTH_DEPTH)) if texts else []


def strength_from(lists: Sequence[Sequence[Any]]) -> np.ndarray:
    """Four numbers per candidate list (objects with `dense_score` and `bm25_score`): the top dense and BM25
    scores and their margins over the second."""
    out = np.zeros((len(lists), 4))
    for i, candidates in enumerate(lists):
        dense = sorted((c.dense_score for c in candidates if c.dense_score is not None), reverse=True) + [0.0, 0.0]
        bm25 = sorted((c.bm25_score for c in candidates if c.bm25_score is not None), reverse=True) + [0.0, 0.0]
        out[i] = (
            dense[0],
            dense[0] - dense[1],
            np.log1p(max(bm25[0], 0.0)),
            np.log1p(max(bm25[0], 0.0)) - np.log1p(max(bm25[1], 0.0)),
        )
    return out


def library_pointers(index: Index, texts: Sequence[str], lists: Sequence[Sequence[Any]]) -> np.ndarray:
    """Three numbers per sentence: do the papers recalled for it point back at it, among the draft's sentences?

    A claim that needs a citation is often the one sentence of its draft that a paper describes best, while
    a sentence of the writer's own answers every paper a little. For the papers any sentence recalls (the
    union of the lists: a large library's unrelated papers never enter), each sentence's cosine is z-scored
    within the paper's column over the draft; a sentence reads, over its own top POINTER_DEPTH papers, its best
    z, its best rank among the draft's sentences (as -log(1 + rank)), and log(1 + how many papers it is the
    best sentence for, against an even share). Measured on the eval papers (docs/check.md): fresh-reading AP
    +0.025, 11 of 12 papers up.
    """
    out = np.zeros((len(lists), 3))
    keys = sorted({c.key for candidates in lists for c in candidates})
    if not keys:
        return out
    column = {key: j for j, key in enumerate(keys)}
    cosines = (
        np.asarray(index.query_vectors(list(texts)), dtype=np.float64)
        @ np.asarray(index.paper_vectors(keys), dtype=np.float64).T
    )
    z = (cosines - cosines.mean(axis=0)) / (cosines.std(axis=0) + 1e-6)
    rank = (-cosines).argsort(axis=0, kind="stable").argsort(axis=0, kind="stable")  # 0: the paper's best sentence
    best_for = np.bincount(cosines.argmax(axis=0), minlength=len(lists)) * len(lists) / len(keys)
    for i, candidates in enumerate(lists):
        own = [column[c.key] for c in candidates[:POINTER_DEPTH]]
        if own:
            out[i] = (z[i, own].max(), -np.log1p(rank[i, own].min()), np.log1p(best_for[i]))
    return out


def draft_inputs(
    rows: Sequence[SentenceRow],
    x: np.ndarray,
    names: Sequence[str],
    embeddings: np.ndarray,
    cited: np.ndarray,
    prior: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """The draft model's features: the prior's logit, the readable text features (cues, position, section, library
    strength; not the vectors nor the library's pointers) and what the draft's citations say around each
    sentence (its own never counted).

    The pointers find a first draft's claims; in a draft that cites, its own citations say more, and with the
    pointers the draft model lost finishing-reading AP in a pooled library (docs/check.md)."""
    keep = [i for i, name in enumerate(names) if not name.startswith(_VECTOR_FEATURES) and name not in POINTER_NAMES]
    features = np.hstack([prior[:, None], x[:, keep], draft_features(rows, cited, embeddings)])
    return features, [PRIOR_LOGIT, *(names[i] for i in keep), *DRAFT_FEATURE_NAMES]


def score_rows(
    rows: Sequence[SentenceRow],
    embeddings: np.ndarray,
    strength: np.ndarray,
    *,
    model: LinearModel,
    fresh_model: LinearModel | None = None,
    draft_model: LinearModel | None = None,
    cited: np.ndarray | None = None,
    adapt_to_draft: bool = True,
) -> tuple[np.ndarray, bool]:
    """Every row's score in [0, 1] and whether the draft model scored them (the draft cites enough); otherwise
    the fresh model does.

    `cited` overrides which rows count as cited (the benchmark hides some); default: the rows' own.
    """
    cited = np.array([r.cited for r in rows], dtype=bool) if cited is None else cited.astype(bool)
    x, names = text_features(rows, embeddings, strength)
    if adapt_to_draft and cited.sum() >= MIN_LABELLED and (~cited).sum() >= MIN_LABELLED:
        draft_model = draft_model or load_model(DRAFT_MODEL_FILE)
        features, _ = draft_inputs(rows, x, names, embeddings, cited, model.logit(x, names))
        return sigmoid(draft_model.logit(features)), True
    fresh_model = fresh_model or load_model(FRESH_MODEL_FILE)
    return sigmoid(fresh_model.logit(x, names)), False


def _in_chunks(
    compute: Callable[[Sequence[str]], T], texts: Sequence[str], between: Callable[[], None] | None
) -> list[T]:
    """`[compute(texts)]`; with `between`, a chunk at a time, `between` called before each (it may wait)."""
    if between is None:
        return [compute(texts)]
    parts = []
    for start in range(0, len(texts), CHUNK):
        between()
        parts.append(compute(texts[start : start + CHUNK]))
    return parts


def check_rows(
    suggester: Suggester,
    rows: Sequence[SentenceRow],
    options: CheckOptions,
    *,
    model: LinearModel | None = None,
    between: Callable[[], None] | None = None,
) -> tuple[list[SentenceCheck], bool]:
    """Scores and suggestions for the uncited ones among `rows` (one draft's sentences).

    `between` is called between chunks of work: the language server waits there while completions run."""
    if not rows:
        return [], False
    model = model or load_model()
    texts = [r.text for r in rows]
    vectors = np.vstack(_in_chunks(lambda chunk: embed_sentences(chunk, suggester.index), texts, between))
    lists = [
        found for part in _in_chunks(lambda chunk: recall_lists(suggester, chunk), texts, between) for found in part
    ]
    strength = library_strength(suggester.index, texts, lists)
    scores, adapted = score_rows(rows, vectors, strength, model=model, adapt_to_draft=options.adapt)
    uncited = [(row, float(score)) for row, score in zip(rows, scores, strict=True) if not row.cited]
    flagged = [row.context for row, score in uncited if score >= options.threshold]
    suggestions: dict[tuple[str, int], tuple[Suggestion, ...]] = {}
    if flagged and options.top_n > 0:
        if between is not None:
            between()
        opts = dataclasses.replace(options.suggest, top_n=options.top_n)
        for item in suggester.rank(flagged, opts):
            suggestions[(item.context.file, item.context.start)] = item.suggestions
    checks = [
        SentenceCheck(
            file=row.file,
            line=row.line,
            end_line=row.end_line,
            text=row.text,
            score=score,
            needs_citation=score >= options.threshold,
            section=row.section,
            suggestions=suggestions.get((row.file, row.context.start), ()),
            start=row.context.start,
            end=row.context.end,
        )
        for row, score in uncited
    ]
    return checks, adapted


def check_text(
    suggester: Suggester,
    text: str,
    *,
    is_tex: bool,
    options: CheckOptions | None = None,
    between: Callable[[], None] | None = None,
) -> CheckResult:
    """`check_draft` on text sent by someone else (the HTTP service, an editor's buffer): its includes are
    never followed."""
    from citerec.latex import read_draft

    draft = read_draft("draft.tex" if is_tex else "draft.txt", text=text, is_tex=is_tex)
    return check_draft(suggester, draft, options, between=between)


def check_draft(
    suggester: Suggester,
    draft: Draft,
    options: CheckOptions | None = None,
    *,
    between: Callable[[], None] | None = None,
) -> CheckResult:
    """Where `draft` may need citations, against the suggester's library."""
    options = options or CheckOptions()
    model = load_model()
    for shipped in (model, load_model(FRESH_MODEL_FILE), load_model(DRAFT_MODEL_FILE)):
        shipped.check_embedder(suggester.index.embedder_name)
    rows = read_sentences(draft)
    checks, adapted = check_rows(suggester, rows, options, model=model, between=between)
    n_cited = sum(r.cited for r in rows)
    log.info(
        "%s: %d sentences, %d cited, %d flagged", draft.main, len(rows), n_cited, sum(c.needs_citation for c in checks)
    )
    return CheckResult(
        source=str(draft.main),
        sentences=tuple(checks),
        threshold=options.threshold,
        adapted=adapted,
        model_version=model_version(model),
        n_cited=n_cited,
    )
