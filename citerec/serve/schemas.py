"""Request and response bodies of the HTTP API (pydantic models; they also make /docs).

`RerankRequest` is the one request of the three rerank paths (vLLM, Jina and
Cohere clients send the same fields); `RerankResponse` is the Jina/vLLM answer
of `/rerank` and `/v1/rerank`, `CohereRerankResponse` the Cohere v2 answer of
`/v2/rerank`. Shape errors (wrong types, empty query, `top_n` < 1) are 422 here;
size limits depend on the server's configuration and are checked in `app` (413).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from citerec.check.detector import DEFAULT_THRESHOLD
from citerec.request import RECALL_SETTINGS, RecallSetting

MAX_REQUEST_RECALL_K = 1000  # candidates a request may ask recall for per passage (each may be reranked)


class RerankDocument(BaseModel):
    """A document given as an object, as Cohere allows."""

    text: str


Documents = list[str | RerankDocument]


class RerankRequest(BaseModel):
    """The body of every rerank path; `passages` is taken as a synonym of `documents`."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, description="When given, one of the names this server accepts (else 404).")
    query: str = Field(..., min_length=1)
    documents: Documents | None = Field(None, min_length=1, description="The texts to score (required, or `passages`).")
    passages: Documents | None = Field(None, min_length=1, description="A synonym of `documents`.")
    top_n: int | None = Field(None, ge=1, description="Return only the best `top_n` results.")
    instruction: str | None = Field(
        None, min_length=1, description="Task instruction for the Qwen3-Reranker prompt (default: citation judging)."
    )
    return_documents: bool | None = Field(
        None,
        description="Echo each document's text in its result (default: yes on /rerank and /v1/rerank, "
        "no on /v2/rerank, as Cohere does).",
    )

    @model_validator(mode="after")
    def _one_list(self) -> RerankRequest:
        if (self.documents is None) == (self.passages is None):
            raise ValueError("give the texts to score as 'documents' (or its synonym 'passages'), once")
        return self

    def texts(self) -> list[str]:
        given = self.documents if self.documents is not None else self.passages
        return [d if isinstance(d, str) else d.text for d in given or ()]


class RerankResult(BaseModel):
    index: int = Field(..., description="Position of the document in the request.")
    relevance_score: float = Field(..., description="P(yes) from the reranker, in [0, 1].")
    document: RerankDocument | None = None


class RerankUsage(BaseModel):
    documents: int
    pairs: int
    total_chars: int = Field(..., description="Characters of query and documents over all pairs (not tokens).")


class RerankResponse(BaseModel):
    """The answer of `/rerank` and `/v1/rerank` (Jina and vLLM)."""

    id: str
    model: str = Field(..., description="The name the server answers to (the first of --served-model-name).")
    results: list[RerankResult]
    usage: RerankUsage


class CohereApiVersion(BaseModel):
    version: str = "2"


class CohereMeta(BaseModel):
    api_version: CohereApiVersion = CohereApiVersion()


class CohereRerankResponse(BaseModel):
    """The answer of `/v2/rerank` (Cohere v2): documents only when `return_documents` is true."""

    id: str
    results: list[RerankResult]
    meta: CohereMeta = CohereMeta()


def _request_field(setting: RecallSetting) -> tuple[Any, Any]:
    """A recall setting as an optional request field: its type, choices and help from `citerec.request`."""
    if setting.choices is not None:
        kind: Any = Literal[tuple(member.value for member in setting.choices)]  # type: ignore[misc]
    elif setting.written is dict:
        kind = dict[str, float | str]
    else:
        kind = setting.written
    bounds = {"ge": 1, "le": MAX_REQUEST_RECALL_K} if setting.written is int else {}
    return kind | None, Field(None, description=setting.help, **bounds)


# Every recall setting one request may set (`per_request`), made from the same definitions as the CLI's options.
RecallFields = create_model(
    "RecallFields",
    __config__=ConfigDict(extra="forbid"),
    **{setting.name: _request_field(setting) for setting in RECALL_SETTINGS if setting.per_request},
)


class SuggestRequest(RecallFields):  # type: ignore[misc,valid-type]
    """Exactly one of `text` (plain prose) or `tex` (LaTeX source); the recall settings of `RecallFields`."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="Plain text: a paragraph or an abstract.")
    tex: str | None = Field(None, description="LaTeX source of a draft (\\input is not followed).")
    top_n: int | None = Field(None, ge=1, le=100, description="Suggestions per passage (server default if omitted).")
    rerank: Literal["auto", "on", "off"] | None = Field(None, description="Override the server's rerank mode.")
    instruction: str | None = Field(None, min_length=1)
    include_cited: bool | None = Field(None, description="Also suggest keys already cited in the passage.")
    all_sentences: bool | None = Field(None, description="Suggest for every sentence, not only citation spots.")

    @model_validator(mode="after")
    def _one_source(self) -> SuggestRequest:
        if (self.text is None) == (self.tex is None):
            raise ValueError("give exactly one of 'text' or 'tex'")
        if not (self.text or self.tex or "").strip():
            raise ValueError("the text is empty")
        return self

    @property
    def source(self) -> str:
        return self.text if self.text is not None else self.tex  # type: ignore[return-value]

    def settings(self) -> dict[str, Any]:
        """What the request sets of the server's options, by name (`SuggestOptions.with_settings`)."""
        return self.model_dump(exclude={"text", "tex"}, exclude_none=True)


class CheckRequest(BaseModel):
    """Exactly one of `text` or `tex`: where it may need citations (the JSON of `citerec check --format json`)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="Plain text: a paragraph or an abstract.")
    tex: str | None = Field(None, description="LaTeX source of a draft (\\input is not followed).")
    threshold: float = Field(
        DEFAULT_THRESHOLD, ge=0.0, le=1.0, description="Score from which a sentence needs a citation."
    )
    top_n: int = Field(3, ge=0, le=20, description="Suggestions per sentence that needs a citation.")
    rerank: Literal["auto", "on", "off"] | None = Field(None, description="Override the server's rerank mode.")
    adapt: bool = Field(True, description="Tune the scores to the draft's own cited sentences.")

    @model_validator(mode="after")
    def _one_source(self) -> CheckRequest:
        SuggestRequest._one_source(self)  # type: ignore[arg-type]  # the same rule: one non-empty source
        return self

    @property
    def source(self) -> str:
        return self.text if self.text is not None else self.tex  # type: ignore[return-value]


class SearchHit(BaseModel):
    key: str
    title: str
    year: int | None = None
    authors: list[str] = []
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None


class SearchResponse(BaseModel):
    query: str
    method: str
    results: list[SearchHit]


class QueueHealth(BaseModel):
    queued_pairs: int
    max_queued_pairs: int
    max_batch_pairs: int
    batching: bool
    calls: int
    pairs_scored: int
    rejected: int


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    model: str | None = Field(None, description="The loaded reranker, or null when reranking is off.")
    library_papers: int
    index_papers: int = Field(..., description="Papers in the index answering now.")
    index_updating: bool = Field(..., description="The library changed; a new index is being built.")
    auth: bool = Field(..., description="Whether /v1 endpoints need a bearer key.")
    queue: QueueHealth | None = None


class ErrorBody(BaseModel):
    detail: Any
