"""What the cite-worthiness model looks at: a draft's sentences, their paragraphs, cue words and positions.

Sentences come from the LaTeX reader (`extract_contexts` with every sentence), so
masking is the reader's: comments, code listings (verbatim, lstlisting, minted),
tables, pictures and the bibliography are never sentences; display equations are
skipped inside sentences; headings become the section a sentence belongs to.
What this module adds: captions are marked (a caption cites less often than body
text, and the model has a feature for it), the abstract and fragments of fewer
than four words are kept out (an abstract conventionally cites nothing, a
fragment is no claim), and the sentences a draft cites are the labels.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from citerec.latex import Context, Draft, extract_contexts
from citerec.linear import Feature, FeatureSet

SECTION_KINDS = ("introduction", "related", "method", "results", "conclusion", "other")
_SECTION_WORDS = (
    ("related", r"related|background|literature|prior work|previous work|survey|overview|history|review"),
    ("introduction", r"intro|motivation|preface|prologue"),
    ("results", r"result|experiment|evaluation|performance|benchmark|analysis|discussion of results|ablation"),
    ("conclusion", r"conclu|summary|future|outlook|epilogue|closing|discussion"),
    ("method", r"method|model|approach|architecture|algorithm|design|implementation|system|framework|theory"),
)
MIN_WORDS = 4

# Cue patterns: (name, regex). Positive cues point at a claim someone else made; negative ones at the writer's own.
CUES: tuple[tuple[str, str], ...] = (
    ("hedge", r"\b(may|might|could|can be|suggests?|likely|possibly|appears? to|seems? to|believed|thought to)\b"),
    ("et_al", r"\bet\s+al\b"),
    (
        "prior_work",
        r"\b(recent(ly)?|previous(ly)?|prior|earlier|existing|past) "
        r"(work|works|studies|research|approaches|methods|literature)\b|\brecent(ly)?\b",
    ),
    (
        "shown",
        r"\b(has|have|had) been (shown|proposed|demonstrated|reported|used|applied|studied|developed|introduced"
        r"|observed|found)\b|\bwas (shown|proposed|introduced|developed)\b",
    ),
    (
        "attribution",
        r"\b(proposed|introduced|developed|described|presented|reported|pioneered|popularized) (by|in)\b"
        r"|\b(according to|following|inspired by|based on|see|cf\.?)\b",
    ),
    (
        "widely",
        r"\b(widely|commonly|popular|well[- ]known|state[- ]of[- ]the[- ]art|standard|classic(al)?|seminal"
        r"|established)\b",
    ),
    ("studies", r"\b(studies|researchers|authors|literature|works|several|many|numerous|various|a number of)\b"),
    ("example", r"\b(such as|e\.g\.|for example|for instance|including|like)\b"),
    ("year", r"\b(19[5-9]\d|20[0-4]\d)\b"),
    (
        "number_unit",
        r"\d+(\.\d+)?\s*(%|percent|ms|s|sec|min|h|hz|khz|mhz|ghz|k|mk|nk|nm|mm|cm|km|m|kg|g|mg|gb|mb|tb|ev|kev"
        r"|mev|w|kw|mw|v|db|x)\b",
    ),
    ("named", r"\b([A-Z][a-z]+[A-Z]\w*|[A-Z]{2,}[a-z]?\w*|[A-Z][a-z]*-\d+\w*)\b"),
    ("we_result", r"\b(we|our|us|this (thesis|paper|work|chapter|section|article))\b"),
    (
        "we_show",
        r"\b(we (show|find|found|observe|observed|obtain|propose|present|introduce|demonstrate|report|achieve|use"
        r"|define|consider|denote)|our (results?|method|approach|model|experiments?))\b",
    ),
    (
        "pointer",
        r"\b(figure|fig\.|table|section|sec\.|chapter|eq\.|equation|appendix|algorithm|theorem|lemma|definition)"
        r"\s*\d|\b(figure|table|section|chapter|appendix) \w",
    ),
    ("definition", r"\b(let|denote|define|defined as|where|given|suppose|assume)\b"),
    ("tool", r"\b(library|package|toolkit|software|dataset|corpus|benchmark|database|implementation|framework|tool)\b"),
)
_COMPILED = tuple((name, re.compile(pattern, re.I if name != "named" else 0)) for name, pattern in CUES)
CUE_NAMES = tuple(name for name, _ in CUES)
# The cue-words rule (the baseline a learned model has to beat): hand-set weights, no training.
CUE_RULE = {
    "hedge": 0.5,
    "et_al": 2.0,
    "prior_work": 1.5,
    "shown": 1.5,
    "attribution": 1.0,
    "widely": 1.0,
    "studies": 0.5,
    "example": 0.5,
    "year": 1.0,
    "named": 0.5,
    "tool": 0.5,
    "we_result": -1.0,
    "we_show": -1.0,
    "pointer": -1.0,
    "definition": -0.5,
}


@dataclass(frozen=True)
class SentenceRow:
    """One sentence of a draft as the model sees it: where it is, what it says, whether it cites."""

    file: str
    line: int
    end_line: int
    text: str
    cited: bool
    paragraph: int  # index of its paragraph in the draft
    position: int  # its place in the paragraph (0-based)
    paragraph_size: int
    section: str
    section_kind: str
    caption: bool
    context: Context  # the reader's context: what recall and the suggester work on


def section_kind(title: str) -> str:
    """The kind of a section from its title: introduction and related work cite more than results."""
    low = title.lower()
    for kind, pattern in _SECTION_WORDS:
        if re.search(pattern, low):
            return kind
    return "other"


def _spans(text: str, envs: Sequence[str]) -> list[tuple[int, int]]:
    spans = []
    for env in envs:
        for m in re.finditer(r"\\begin\s*\{" + re.escape(env) + r"\}", text):
            close = text.find("\\end{" + env + "}", m.end())
            spans.append((m.start(), len(text) if close < 0 else close))
    return sorted(spans)


def _inside(spans: list[tuple[int, int]], offset: int) -> bool:
    k = bisect.bisect_right(spans, (offset, float("inf"))) - 1
    return k >= 0 and spans[k][0] <= offset < spans[k][1]


_FLOATS = ("figure", "figure*", "table", "table*", "wrapfigure", "wraptable", "algorithm", "SCfigure")


def read_sentences(draft: Draft) -> list[SentenceRow]:
    """Every sentence of `draft` the model scores, in reading order (see the module doc for what is left out)."""
    sentences = extract_contexts(draft, all_sentences=True)
    paragraphs = extract_contexts(draft, mode="paragraph", all_sentences=True)
    starts: dict[str, list[tuple[int, int]]] = {}
    for p in paragraphs:
        starts.setdefault(p.file, []).append((p.start, p.id))
    for marks in starts.values():
        marks.sort()
    floats = {f.name: _spans(f.text, _FLOATS) for f in draft.files}
    abstracts = {f.name: _spans(f.text, ("abstract",)) for f in draft.files}
    kept: list[tuple[Context, int, bool]] = []
    for ctx in sentences:
        if len(ctx.sentence.split()) < MIN_WORDS and not ctx.cited_keys:
            continue
        if _inside(abstracts.get(ctx.file, []), ctx.start) or ctx.section.strip().lower() == "abstract":
            continue
        marks = starts.get(ctx.file, [])
        k = bisect.bisect_right(marks, (ctx.start, float("inf"))) - 1
        paragraph = marks[k][1] if k >= 0 else -1
        kept.append((ctx, paragraph, _inside(floats.get(ctx.file, []), ctx.start)))
    sizes: dict[int, int] = {}
    for _, paragraph, _ in kept:
        sizes[paragraph] = sizes.get(paragraph, 0) + 1
    rows: list[SentenceRow] = []
    seen: dict[int, int] = {}
    for ctx, paragraph, caption in kept:
        position = seen.get(paragraph, 0)
        seen[paragraph] = position + 1
        rows.append(
            SentenceRow(
                file=ctx.file,
                line=ctx.line_start,
                end_line=ctx.line_end,
                text=ctx.sentence,
                cited=bool(ctx.cited_keys) or ctx.placeholder,
                paragraph=paragraph,
                position=position,
                paragraph_size=sizes[paragraph],
                section=ctx.section,
                section_kind=section_kind(ctx.section),
                caption=caption,
                context=ctx,
            )
        )
    return rows


def cue_matrix(texts: Sequence[str]) -> np.ndarray:
    """One row per text, one 0/1 column per cue in CUES."""
    out = np.zeros((len(texts), len(_COMPILED)), dtype=np.float64)
    for i, text in enumerate(texts):
        for j, (_, pattern) in enumerate(_COMPILED):
            out[i, j] = 1.0 if pattern.search(text) else 0.0
    return out


def cue_rule_scores(rows: Sequence[SentenceRow]) -> np.ndarray:
    """The cue-words rule: a weighted count of cues, for the baseline and for explaining a score."""
    weights = np.array([CUE_RULE.get(name, 0.0) for name in CUE_NAMES])
    return cue_matrix([r.text for r in rows]) @ weights


def _paragraph_means(rows: Sequence[SentenceRow], values: np.ndarray) -> np.ndarray:
    """Mean of `values` over each row's paragraph, the row itself left out (zeros when alone)."""
    out = np.zeros_like(values)
    groups: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.paragraph, []).append(i)
    for members in groups.values():
        total = values[members].sum(axis=0)
        for i in members:
            n = len(members) - 1
            out[i] = (total - values[i]) / n if n else 0.0
    return out


STRENGTH_NAMES = ("top_dense", "dense_margin", "top_bm25", "bm25_margin")  # detector.strength_from
POINTER_NAMES = ("pointer_z", "pointer_rank", "pointer_share")  # detector.library_pointers
LIBRARY_NAMES = STRENGTH_NAMES + POINTER_NAMES


@dataclass(frozen=True, eq=False)
class SentenceInputs:
    """What the prior's features are computed from: the sentences, their vectors and the library's answers."""

    rows: Sequence[SentenceRow]
    embeddings: np.ndarray
    strength: np.ndarray

    @functools.cached_property
    def cues(self) -> np.ndarray:
        return cue_matrix([r.text for r in self.rows])

    def positions(self, which: Callable[[SentenceRow], float]) -> np.ndarray:
        return np.array([float(which(r)) for r in self.rows])


_POSITIONS: tuple[tuple[str, Callable[[SentenceRow], float]], ...] = (
    ("first_in_paragraph", lambda r: r.position == 0),
    ("last_in_paragraph", lambda r: r.position == r.paragraph_size - 1),
    ("relative_position", lambda r: r.position / max(1, r.paragraph_size - 1)),
    ("log_paragraph_size", lambda r: np.log1p(r.paragraph_size)),
    ("caption", lambda r: r.caption),
)
PRIOR_FEATURES: FeatureSet[SentenceInputs] = FeatureSet(
    (
        Feature("cues", lambda s: s.cues, columns=CUE_NAMES),
        Feature(
            "paragraph_cues",
            lambda s: _paragraph_means(s.rows, s.cues),
            columns=tuple(f"paragraph_{n}" for n in CUE_NAMES),
        ),
        Feature("log_words", lambda s: s.positions(lambda r: np.log1p(len(r.text.split())))),
        *(Feature(name, lambda s, at=at: s.positions(at)) for name, at in _POSITIONS),
        Feature(
            "section",
            lambda s: np.array([[float(r.section_kind == k) for k in SECTION_KINDS] for r in s.rows]),
            columns=tuple(f"section_{k}" for k in SECTION_KINDS),
        ),
        Feature("library", lambda s: s.strength, columns=LIBRARY_NAMES),
        Feature("emb", lambda s: s.embeddings, columns="emb_"),
        Feature("paragraph_emb", lambda s: _paragraph_means(s.rows, s.embeddings), columns="paragraph_emb_"),
    )
)


def text_features(
    rows: Sequence[SentenceRow], embeddings: np.ndarray, strength: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """The prior model's features (`PRIOR_FEATURES`): nothing here depends on which sentences of the draft cite.

    `embeddings` are the sentences' MiniLM vectors (one row each), `strength` how
    strongly the library answers each sentence (LIBRARY_NAMES; see `detector.recall_strength`).
    """
    if strength.shape[1] != len(LIBRARY_NAMES):
        raise ValueError(f"expected {len(LIBRARY_NAMES)} library columns, got {strength.shape[1]}")
    return PRIOR_FEATURES.rows(SentenceInputs(rows, embeddings, strength), len(rows))


NEIGHBOURS = 10  # nearest sentences (by MiniLM cosine) whose citations a sentence's score reads


@dataclass(frozen=True, eq=False)
class DraftInputs:
    """What the draft's citations say is computed from: the sentences, which of them cite, their vectors."""

    rows: Sequence[SentenceRow]
    cited: np.ndarray  # bool per row
    embeddings: np.ndarray

    def neighbour(self, step: int) -> np.ndarray:
        """Whether the sentence `step` away in the same paragraph cites (0 where there is none)."""
        n, rows = len(self.rows), self.rows
        return np.array(
            [
                float(self.cited[i + step])
                if 0 <= i + step < n and rows[i + step].paragraph == rows[i].paragraph
                else 0.0
                for i in range(n)
            ]
        )


DRAFT_FEATURES: FeatureSet[DraftInputs] = FeatureSet(
    (
        Feature("paragraph_cited_share", lambda d: _paragraph_means(d.rows, d.cited.astype(np.float64).reshape(-1, 1))),
        Feature("previous_cited", lambda d: d.neighbour(-1)),
        Feature("next_cited", lambda d: d.neighbour(1)),
        Feature(
            "alike",
            lambda d: _alike(d.cited, d.embeddings),
            columns=("near_cited_share", "nearest_cited_cosine", "nearest_uncited_cosine", "top3_cited_cosine"),
        ),
        Feature(
            "around",
            lambda d: _around(d.rows, d.cited),
            columns=("window_cited_share", "log_distance_to_cited", "section_cited_share"),
        ),
    )
)
DRAFT_FEATURE_NAMES = DRAFT_FEATURES.names


def draft_features(rows: Sequence[SentenceRow], cited: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """What the draft's own citations say about each sentence, the sentence itself left out (`DRAFT_FEATURES`):
    how much its paragraph, neighbours, section and the sentences most alike in wording cite. A sentence worded
    like the draft's cited ones, in a region that cites, likely needs one."""
    if len(rows) == 0:
        return np.zeros((0, len(DRAFT_FEATURE_NAMES)))
    return DRAFT_FEATURES.rows(DraftInputs(rows, cited.astype(bool), embeddings), len(rows))[0]


def _alike(c: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Per sentence: the cited share of its nearest sentences, its cosine to the nearest cited and uncited
    sentence, and the mean cosine to its three nearest cited ones (itself never counted)."""
    n = len(c)
    out = np.zeros((n, 4))
    e = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
    e = e.astype(np.float32)
    for start in range(0, n, 1024):  # a block of rows at a time: a book has 8,000 sentences
        block = e[start : start + 1024] @ e.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -2.0
        k = min(NEIGHBOURS, n - 1)
        if k >= 1:
            nearest = np.argpartition(-block, k - 1, axis=1)[:, :k]
            out[start : start + len(block), 0] = c[nearest].mean(axis=1)
        if c.any():
            to_cited = block[:, c]
            out[start : start + len(block), 1] = to_cited.max(axis=1)
            top = min(3, to_cited.shape[1])
            out[start : start + len(block), 3] = np.partition(to_cited, -top, axis=1)[:, -top:].mean(axis=1)
        if (~c).any():
            out[start : start + len(block), 2] = block[:, ~c].max(axis=1)  # itself is -2 there
    return out


def _around(rows: Sequence[SentenceRow], c: np.ndarray, width: int = 2) -> np.ndarray:
    """Per sentence: the cited share of the `width` sentences either side, the log distance to the nearest
    cited sentence, and the cited share of its section (itself left out)."""
    n = len(rows)
    out = np.zeros((n, 3))
    cited_at = np.flatnonzero(c)
    ones = c.astype(np.float64)
    sections: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        sections.setdefault(row.section, []).append(i)
    for i in range(n):
        lo, hi = max(0, i - width), min(n, i + width + 1)
        out[i, 0] = (ones[lo:hi].sum() - ones[i]) / max(1, hi - lo - 1)
        others = cited_at[cited_at != i]
        out[i, 1] = np.log1p(np.abs(others - i).min()) if len(others) else np.log1p(n)
    for members in sections.values():
        total = ones[members].sum()
        for i in members:
            out[i, 2] = (total - ones[i]) / max(1, len(members) - 1)
    return out
