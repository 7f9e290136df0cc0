"""A recall request as one frozen value, and what recall returns.

`RecallSpec` is built once where a request enters citerec (the command line,
HTTP, the language server, the Python API: `SuggestOptions.recall`) and handed
down unchanged; every stage reads its settings from it, and the recall cache
key is derived from it here (`candidates_key`), nowhere else. Adding a recall
setting means a field here, its use in the algorithm, and one entry in
`citerec.request.RECALL_SETTINGS` (its CLI option, HTTP field and editor
setting at once).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from citerec.choices import Fusion, Method, Plan, Weighting, check_choice
from citerec.index.cache import cache_key
from citerec.latex.clauses import clause_of

if TYPE_CHECKING:
    from citerec.index import Index

RECALL_K = 50  # candidates kept per passage (and reranked)
RECALL_DEPTH = 100  # each list's length before fusion: a paper ranked 80th by one method can still surface
FUSION = Fusion.ZSCORE  # z-scored scores, convex 1:1 weights. Measured on the pooled eval papers and ACM-CR
BM25_WEIGHT = 1.0  # (docs/evaluation.md): it beats RRF k=30 with dense x2 (the old default, tuned on 4 eval
DENSE_WEIGHT = 1.0  # papers) on both, and RRF k=60 too; RRF stays available (fusion="rrf", rrf_k)
HYBRID_RRF_K = 30.0
SENTENCE_WEIGHT = 1.5  # the passage read at three scales, mixed with these weights: its own sentence,
WINDOW_WEIGHT = 1.0  # the sentence with its neighbours, and the wider window (twice the neighbours).
WIDE_WEIGHT = 1.0  # Measured on the eval papers and ACM-CR sentences read in their paragraphs
TOPIC_WEIGHT = 0.0  # weight of a candidate's z-scored similarity to its draft's topic. Off: it helps a library
# spanning fields (ACM-CR, the pooled eval papers) but costs a paper's own library more
PRF_DOCS = 10  # feedback papers (RM3 / Rocchio)
PRF_TERMS = 10  # RM3 terms kept from the relevance model
RM3_WEIGHT = 0.5  # share of the relevance model in the expanded BM25 query
ROCCHIO_WEIGHT = 0.3  # how far the dense query moves towards the feedback papers
SEARCH_VERSION = 2  # part of every recall-cache key: bump when the same settings start to recall differently


@dataclass(frozen=True)
class FusionSettings:
    """How a passage's readings and lists are merged; the defaults were measured on the eval papers and ACM-CR.

    fusion: "rrf" (by rank, `rrf_k`), "minmax" or "zscore" (normalised scores, convex
    `bm25_weight`:`dense_weight`); weighting "sharpness" scales each list's weight per
    query by how far its leader stands out. `sentence_weight`, `window_weight` and
    `wide_weight` mix a passage's three readings (0 leaves one out); `topic_weight`
    is how much the draft's topic counts (0: not at all). The `prf_*`, `rm3_weight`
    and `rocchio_weight` shape the feedback pass when a request asks for one.
    """

    rrf_k: float = HYBRID_RRF_K
    bm25_weight: float = BM25_WEIGHT
    dense_weight: float = DENSE_WEIGHT
    depth: int = RECALL_DEPTH
    fusion: str = FUSION.value
    weighting: str = Weighting.FIXED.value
    sentence_weight: float = SENTENCE_WEIGHT
    window_weight: float = WINDOW_WEIGHT
    wide_weight: float = WIDE_WEIGHT
    topic_weight: float = TOPIC_WEIGHT
    prf_docs: int = PRF_DOCS
    prf_terms: int = PRF_TERMS
    rm3_weight: float = RM3_WEIGHT
    rocchio_weight: float = ROCCHIO_WEIGHT

    def __post_init__(self) -> None:
        check_choice(Fusion, self.fusion, "fusion")
        check_choice(Weighting, self.weighting, "weighting")
        for name in ("sentence_weight", "window_weight", "wide_weight", "topic_weight"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must not be negative")
        if self.sentence_weight + self.window_weight + self.wide_weight <= 0:
            raise ValueError("sentence_weight, window_weight and wide_weight must not all be 0")


@dataclass(frozen=True)
class RecallSpec:
    """Everything that decides which candidates a passage recalls.

    method: hybrid, bm25 or dense; k: candidates kept per passage; plan: how
    passages are read (auto: each draft chooses from its own citations);
    feedback: a pseudo-relevance-feedback pass (RM3 + Rocchio); fusion: the
    readings' and lists' weights (`FusionSettings`); draft_evidence: what the
    draft's other passages cite counts (`evidence`), through the learned ranking
    (`learned`), which `ranker` names (a model file; "" the shipped one).
    """

    method: str = Method.HYBRID.value
    k: int = RECALL_K
    plan: str = Plan.AUTO.value
    feedback: bool = False
    fusion: FusionSettings = field(default_factory=FusionSettings)
    draft_evidence: bool = True
    ranker: str = ""

    def __post_init__(self) -> None:
        check_choice(Method, self.method, "method")
        check_choice(Plan, self.plan, "plan")

    @property
    def hybrid(self) -> bool:
        return self.method == Method.HYBRID

    @property
    def learned(self) -> bool:
        """Whether the learned ranking combines the readings: asked for, or "auto" with the draft evidence on."""
        return self.hybrid and (self.plan == Plan.LEARNED or (self.plan == Plan.AUTO and self.draft_evidence))

    @property
    def uses_evidence(self) -> bool:
        """Whether what the draft's other passages cite (and the sentences `library learn` kept) counts: only
        through the learned ranking, and only with the draft evidence on. Decided here, once."""
        return self.learned and self.draft_evidence

    def with_fusion(self, fusion: FusionSettings) -> RecallSpec:
        return dataclasses.replace(self, fusion=fusion)


def candidates_key(index: Index, method: str, k: int, fusion: FusionSettings, feedback: bool, text: str) -> str:
    """The recall-cache key of one text's candidates: the index generation and search, and every setting
    that changes what the text recalls. The one place such a key is made."""
    search = {"version": SEARCH_VERSION, "nprobe": index.nprobe}
    return cache_key(index.manifest.generation, method, k, dataclasses.asdict(fusion), search, feedback, text)


@dataclass(frozen=True)
class Candidate:
    """A recalled paper: fused (or single-method) score and where each method ranked it."""

    key: str
    score: float
    bm25_rank: int | None  # 1-based; None when not in the BM25 list
    dense_rank: int | None
    bm25_score: float | None
    dense_score: float | None


@dataclass(frozen=True)
class Passage:
    """What recall reads of one passage: its window (the sentence with its neighbours), its own sentence and
    a wider window ("" when absent), the draft it belongs to (passages of one draft share a topic), and
    where it stands in that draft (sentence, paragraph, section; -1 and "" when unknown), which the draft
    evidence measures distances by. `clauses`: each cited key's own words where the sentence lists several
    papers with a phrase each (`citerec.latex.clauses`), what the evidence says of that paper instead of the
    sentence; the readings never use them."""

    window: str
    sentence: str = ""
    wide: str = ""
    draft: str = ""
    position: int = -1
    paragraph: int = -1
    section: str = ""
    clauses: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, context: object) -> Passage:
        """The passage of a LaTeX `Context` (anything with text, sentence, wide, draft, id and section)."""
        c = context
        return cls(
            c.text,  # type: ignore[attr-defined]
            c.sentence,  # type: ignore[attr-defined]
            c.wide,  # type: ignore[attr-defined]
            c.draft,  # type: ignore[attr-defined]
            getattr(c, "id", -1),
            getattr(c, "paragraph", -1),
            getattr(c, "section", ""),
            tuple(getattr(c, "clauses", ())),
        )

    def clause_of(self, key: str) -> str:
        """This passage's own words about the paper `key` (any spelling of it), "" when its sentence is."""
        return clause_of(self.clauses, key)

    def extended(self, words: str) -> Passage:
        """The passage with `words` (a rewrite) added to each of its readings."""
        return dataclasses.replace(
            self,
            window=f"{self.window} {words}",
            sentence=f"{self.sentence} {words}",
            wide=f"{self.wide} {words}" if self.wide else "",
        )
