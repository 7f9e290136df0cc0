"""The rerank API on the paths its clients already call, all on one handler and one set of limits.

vLLM serves its rerank API on `/rerank`, `/v1/rerank` and `/v2/rerank`; the
guides built on it post to `/rerank`, Cohere's SDK posts to `/v1/rerank`
(`Client`) and `/v2/rerank` (`ClientV2`). The first two answer in the
Jina/vLLM shape (documents echoed unless asked not to, usage), the third in
Cohere's v2 shape (documents only when asked). A request's `model` must be one
of the names the server accepts (`--served-model-name`), by default the model's
path or hub id and its last component, as clients name models.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException

from citerec.serve.limits import too_large
from citerec.serve.schemas import (
    CohereRerankResponse,
    ErrorBody,
    RerankDocument,
    RerankRequest,
    RerankResponse,
    RerankResult,
    RerankUsage,
)

if TYPE_CHECKING:
    from citerec.serve.service import Service


def accepted_model_names(model_name: str | None, served: Sequence[str] = ()) -> tuple[str, ...]:
    """The names a request's `model` may carry, the one to answer with first.

    `served` (from --served-model-name) replaces the defaults, as in vLLM; the
    defaults are the loaded model's path or hub id and its last component.
    """
    names = [name.strip() for name in served if name.strip()]
    if not names and model_name:
        names = [model_name, re.split(r"[/\\]", model_name.rstrip("/\\"))[-1]]
    return tuple(dict.fromkeys(name for name in names if name))


def rerank_router(service: Service, *, names: Sequence[str], dependencies: list, responses: dict) -> APIRouter:
    """The three rerank routes over `service`, guarded by `dependencies` (the API key check)."""
    router = APIRouter(
        dependencies=dependencies,
        responses={**responses, 404: {"model": ErrorBody, "description": "`model` names no model served here"}},
        tags=["rerank"],
    )
    limits = service.limits
    answer_as = names[0] if names else ""

    async def scored(body: RerankRequest, echo_by_default: bool) -> tuple[str, list[RerankResult], list[str]]:
        """Check the request against the names and limits, score it, and rank the results (the shared handler)."""
        if names and body.model is not None and body.model not in names:
            accepted = ", ".join(repr(name) for name in names)
            raise HTTPException(404, f"model {body.model!r} is not served here; this server accepts {accepted}")
        texts = body.texts()
        if len(texts) > limits.max_documents:
            raise too_large("the request", len(texts), limits.max_documents, "documents")
        if len(body.query) > limits.max_query_chars:
            raise too_large("the query", len(body.query), limits.max_query_chars, "characters")
        for i, text in enumerate(texts):
            if len(text) > limits.max_document_chars:
                raise too_large(f"document {i}", len(text), limits.max_document_chars, "characters")
        scores = await service.rerank(body.query, texts, body.instruction)
        echo = echo_by_default if body.return_documents is None else body.return_documents
        order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))[: body.top_n]
        results = [
            RerankResult(index=i, relevance_score=scores[i], document=RerankDocument(text=texts[i]) if echo else None)
            for i in order
        ]
        return f"rerank-{uuid.uuid4().hex}", results, texts

    async def jina(body: RerankRequest) -> RerankResponse:
        request_id, results, texts = await scored(body, echo_by_default=True)
        usage = RerankUsage(
            documents=len(texts), pairs=len(texts), total_chars=sum(len(t) + len(body.query) for t in texts)
        )
        return RerankResponse(id=request_id, model=answer_as, results=results, usage=usage)

    async def cohere_v2(body: RerankRequest) -> CohereRerankResponse:
        request_id, results, _ = await scored(body, echo_by_default=False)
        return CohereRerankResponse(id=request_id, results=results)

    common: dict[str, Any] = {"methods": ["POST"], "response_model_exclude_none": True}
    router.add_api_route(
        "/rerank",
        jina,
        name="rerank",
        response_model=RerankResponse,
        summary="Rerank (Jina / vLLM shape)",
        description="Score documents for a query with the loaded Qwen3-Reranker, best first: the request and "
        "answer of vLLM's and Jina's `/rerank`.",
        **common,
    )
    router.add_api_route(
        "/v1/rerank",
        jina,
        name="rerank_v1",
        response_model=RerankResponse,
        summary="Rerank (vLLM / Cohere v1 client)",
        description="The same handler and answer as `/rerank`, where vLLM and Cohere's v1 `Client.rerank` post.",
        **common,
    )
    router.add_api_route(
        "/v2/rerank",
        cohere_v2,
        name="rerank_v2",
        response_model=CohereRerankResponse,
        summary="Rerank (Cohere v2 shape)",
        description="The same handler, answering as Cohere's v2 API (`ClientV2.rerank`): `results[].index` and "
        "`relevance_score`, the documents only when `return_documents` is true.",
        **common,
    )
    return router
