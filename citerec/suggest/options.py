"""Every knob of the suggestion pipeline in one frozen value, the recall request (`RecallSpec`) among them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from citerec.choices import ContextMode, Expansion, Method, Plan, RerankMode, check_choice
from citerec.engine.config import LOCAL, EngineConfig
from citerec.errors import CiterecError
from citerec.recall.spec import RecallSpec
from citerec.request import RECALL_NAMES, RECALL_SETTINGS, Label, as_written, recall_from
from citerec.rerank import DEFAULT_RERANKER

DEFAULT_RERANK_THRESHOLD = 0.05
RERANK_MODES = tuple(m.value for m in RerankMode)
RECALL_METHODS = tuple(m.value for m in Method)
PLANS = tuple(p.value for p in Plan)
PLAN_AUTO, PLAN_PASSAGE, PLAN_WINDOW, PLAN_LEARNED = PLANS


@dataclass(frozen=True)
class SuggestOptions:
    """Every knob of the pipeline; the CLI, the API, the service and the editor fill the same object.

    `recall` is the recall request itself (`RecallSpec`: method, depth, plan, feedback, fusion, draft evidence,
    ranker), passed down unchanged. Set it whole (`SuggestOptions(recall=RecallSpec(k=20, plan="window"))`), by
    its written names (`SuggestOptions.of(rerank="off", recall_k=20, plan="window")`, as the command line, HTTP
    and the editor write them: `citerec.request`), or change some of it (`options.with_recall(k=20)`).
    """

    top_n: int = 5
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
    # none, prf (RM3 + Rocchio: `recall.feedback`, which "prf" turns on) or llm (rewrite by a chat endpoint)
    expand: str = Expansion.NONE.value
    expand_url: str | None = None
    expand_model: str | None = None
    recall: RecallSpec = field(default_factory=RecallSpec)

    def __post_init__(self) -> None:
        check_choice(RerankMode, self.rerank, "--rerank", CiterecError)
        check_choice(ContextMode, self.mode, "--mode", CiterecError)
        if self.top_n < 1 or self.recall.k < 1:
            raise CiterecError("--top and --recall-k must be at least 1")
        check_choice(Expansion, self.expand, "--expand", CiterecError)
        if self.expand == Expansion.LLM and not (self.expand_url and self.expand_model):
            raise CiterecError("--expand llm needs --expand-url URL and --expand-model NAME")
        if self.expand == Expansion.PRF and not self.recall.feedback:  # the feedback pass runs inside recall
            object.__setattr__(self, "recall", dataclasses.replace(self.recall, feedback=True))

    @classmethod
    def of(cls, **settings: Any) -> SuggestOptions:
        """Options from flat keywords: the fields here, and the recall settings by their written names
        (`recall_k`, `method`, `plan`, `expand`, `fusion`, `draft_evidence`, `ranker`; `citerec.request`)."""
        return cls().with_settings(settings)

    def with_settings(self, settings: Mapping[str, Any], label: Label = as_written) -> SuggestOptions:
        """These options with `settings` written by name (None: not written), as the command line, HTTP and
        the editor write them; `label` names a setting in errors (`--plan` on the command line)."""
        own = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(settings) - own - RECALL_NAMES)
        if unknown:
            raise CiterecError(f"unknown setting(s): {', '.join(map(repr, unknown))}")
        changes = {name: value for name, value in settings.items() if name in own and value is not None}
        changes["recall"] = recall_from(settings, changes.get("recall", self.recall), label)
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The options as `--format json` writes them: flat, the recall settings by their written names."""
        data = dataclasses.asdict(self)
        recall = data.pop("recall")
        for setting in RECALL_SETTINGS:
            data.setdefault(setting.name, recall[setting.field])  # `expand` is written as given
        return data

    def with_recall(self, **changes: Any) -> SuggestOptions:
        """These options with some `RecallSpec` fields changed (by their names there: `k`, `plan`, …)."""
        return dataclasses.replace(self, recall=dataclasses.replace(self.recall, **changes))
