"""Every knob of the suggestion pipeline in one frozen value, and the recall request derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from citerec.choices import ContextMode, Expansion, Method, Plan, RerankMode, check_choice
from citerec.engine import LOCAL, EngineConfig
from citerec.errors import CiterecError
from citerec.recall import FusionSettings, RecallSpec
from citerec.rerank import DEFAULT_RERANKER

DEFAULT_RERANK_THRESHOLD = 0.05
RERANK_MODES = tuple(m.value for m in RerankMode)
RECALL_METHODS = tuple(m.value for m in Method)
PLANS = tuple(p.value for p in Plan)
PLAN_AUTO, PLAN_PASSAGE, PLAN_WINDOW, PLAN_LEARNED = PLANS


@dataclass(frozen=True)
class SuggestOptions:
    """Every knob of the pipeline; the CLI, the API, the service and the editor fill the same object.

    The recall settings among them (method, recall_k, plan, expand, fusion) make one
    `RecallSpec` (`recall`), passed down unchanged.
    """

    top_n: int = 5
    recall_k: int = 50
    method: str = Method.HYBRID.value
    rerank: str = RerankMode.AUTO.value
    reranker: str = DEFAULT_RERANKER
    backend: str = "hf"
    instruction: str | None = None
    threshold: float | None = None  # None: DEFAULT_RERANK_THRESHOLD when reranked, none otherwise
    include_cited: bool = False
    mode: str = ContextMode.SENTENCE.value
    all_sentences: bool = False
    neighbours: int = 1
    embedder: str | None = None
    # Follow \input of a draft on disk to files outside its folder tree (never for text: see read_draft).
    allow_outside_includes: bool = False
    # Refuse a damaged draft (a '{' never closed, a runaway argument) instead of reading on with a warning.
    strict: bool = False
    engine: EngineConfig = LOCAL  # where reranking runs: local (here) or ray (batched over workers)
    expand: str = Expansion.NONE.value  # none, prf (RM3 + Rocchio) or llm (rewrite by a chat endpoint)
    expand_url: str | None = None
    expand_model: str | None = None
    # How passages are read (citerec.recall.plans): auto lets a draft that cites 30+ library papers choose
    # between the passage plan (three scales, the default) and the window plan; passage or window forces one.
    plan: str = Plan.AUTO.value
    fusion: FusionSettings = field(default_factory=FusionSettings)  # how readings and lists are merged
    # What the draft's other citations say counts (citerec.recall.evidence): with plan auto, the learned ranking
    # (citerec.recall.learned) combines the readings and the evidence. `ranker` is a model file ("" the shipped one).
    draft_evidence: bool = True
    ranker: str = ""

    def __post_init__(self) -> None:
        check_choice(RerankMode, self.rerank, "--rerank", CiterecError)
        check_choice(Method, self.method, "--method", CiterecError)
        check_choice(ContextMode, self.mode, "--mode", CiterecError)
        if self.top_n < 1 or self.recall_k < 1:
            raise CiterecError("--top and --recall-k must be at least 1")
        check_choice(Expansion, self.expand, "--expand", CiterecError)
        check_choice(Plan, self.plan, "--plan", CiterecError)
        if self.expand == Expansion.LLM and not (self.expand_url and self.expand_model):
            raise CiterecError("--expand llm needs --expand-url URL and --expand-model NAME")

    @property
    def recall(self) -> RecallSpec:
        """The recall request these options make."""
        return RecallSpec(
            method=self.method,
            k=self.recall_k,
            plan=self.plan,
            feedback=self.expand == Expansion.PRF,
            fusion=self.fusion,
            draft_evidence=self.draft_evidence,
            ranker=self.ranker,
        )
