"""The HTTP routes of `citerec serve` (FastAPI), built by `create_app`.

Open without a key: `/` (the page and its static files), `/healthz`, `/docs`
and `/openapi.json`. Everything under `/v1`, and the rerank API on `/rerank`
and `/v2/rerank` (`rerank_api`), needs `Authorization: Bearer KEY` when the
server has an API key.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from citerec import __version__
from citerec.errors import CiterecError, InputError
from citerec.library import Library
from citerec.serve.batching import BatcherClosed, QueueFull
from citerec.serve.docs import add_offline_docs
from citerec.serve.limits import ServeLimits, too_large
from citerec.serve.rerank_api import accepted_model_names, rerank_router
from citerec.serve.schemas import (
    CheckRequest,
    ErrorBody,
    Health,
    QueueHealth,
    SearchHit,
    SearchResponse,
    SuggestRequest,
)
from citerec.serve.service import RequestTimeout, RerankUnavailable, Service

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.rerank import Reranker
    from citerec.suggest import SuggestOptions

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
_ERRORS = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer key"},
    413: {"model": ErrorBody, "description": "Request too large for this server's limits"},
    503: {"model": ErrorBody, "description": "Queue full (with Retry-After), or no reranker loaded"},
    504: {"model": ErrorBody, "description": "The request ran past the server's --request-timeout"},
}


class BodyLimit:
    """ASGI middleware: refuse bodies over `limit` bytes (413) before they are read into memory.

    A declared Content-Length is checked up front; a chunked body is counted as
    it arrives and cut off with an HTTPException, which FastAPI turns into the 413.
    """

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"request body over {self.limit} bytes"
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            response = JSONResponse({"detail": message}, status_code=413)
            return await response(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, message)
            return event

        await self.app(scope, counted, send)


class ErrorsAsJson:
    """ASGI middleware: an unexpected exception becomes a JSON 500 with a message, logged once.

    Clients of the API get JSON for every error; the traceback stays in the server log.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = JSONResponse({"detail": "internal server error; the server log has the details"}, 500)
            await response(scope, receive, send)


_bearer = HTTPBearer(auto_error=False, description="The server's API key (--api-key / CITEREC_API_KEY)")


def _auth_dependency(api_key: str | None):
    """A dependency that checks the bearer key in constant time (a no-op without a key)."""

    # (module-level names only in these annotations: FastAPI resolves them from the module's globals)
    async def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if api_key is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not given or not secrets.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(
                401,
                "missing or wrong API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def create_app(
    library: Library | Path | str,
    *,
    reranker: Reranker | None = None,
    options: SuggestOptions | None = None,
    api_key: str | None = None,
    limits: ServeLimits | None = None,
    index: Index | None = None,
    served_model_names: Sequence[str] = (),
) -> FastAPI:
    """Load the library, index and reranker once and return the app serving them.

    `reranker` is used as given (tests pass a tiny one); without it the reranker
    named in `options` is loaded according to `options.rerank`. `index` lets a
    caller share an already loaded index. `served_model_names` are the names a
    rerank request's `model` may carry (default: the model's path and its last
    component; `app.state.model_names`). The loaded state is `app.state.service`;
    call its `close()` when the app is not run under a server (which does it at shutdown).
    """
    service = Service(library, reranker=reranker, options=options, limits=limits, index=index)
    limits = service.limits

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        service.close()

    app = FastAPI(
        title="citerec",
        version=__version__,
        summary="Citation suggestions for LaTeX drafts, and a Qwen3-Reranker rerank API.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    app.add_middleware(ErrorsAsJson)
    add_offline_docs(app)

    @app.exception_handler(QueueFull)
    async def _queue_full(_: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RerankUnavailable)
    async def _no_reranker(_: Request, exc: RerankUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RequestTimeout)
    async def _timed_out(_: Request, exc: RequestTimeout) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=504)

    @app.exception_handler(BatcherClosed)
    async def _closed(_: Request, exc: BatcherClosed) -> JSONResponse:
        return JSONResponse({"detail": "the server is shutting down"}, status_code=503)

    @app.exception_handler(CiterecError)
    async def _user_error(_: Request, exc: CiterecError) -> JSONResponse:
        status = 422 if isinstance(exc, InputError) or type(exc) is CiterecError else 500
        return JSONResponse({"detail": str(exc)}, status_code=status)

    guard = [Depends(_auth_dependency(api_key))]
    names = app.state.model_names = accepted_model_names(service.model_name, served_model_names)
    app.include_router(rerank_router(service, names=names, dependencies=guard, responses=_ERRORS))
    api = APIRouter(prefix="/v1", dependencies=guard, responses=_ERRORS)

    @api.post("/suggest", tags=["suggest"])
    async def suggest(body: SuggestRequest) -> dict:
        """Suggest citation keys per passage: the JSON of `citerec suggest --format json`."""
        if len(body.source) > limits.max_text_chars:
            raise too_large("the text", len(body.source), limits.max_text_chars, "characters")
        result = await service.suggest(body.source, is_tex=body.tex is not None, settings=body.settings())
        return result.to_json()

    @api.post("/check", tags=["check"])
    async def check(body: CheckRequest) -> dict:
        """Where the text may need citations: the JSON of `citerec check --format json`."""
        from citerec.check import CheckOptions

        if len(body.source) > limits.max_text_chars:
            raise too_large("the text", len(body.source), limits.max_text_chars, "characters")
        base = service.suggester.options
        suggest_options = dataclasses.replace(base, rerank=body.rerank or base.rerank, top_n=max(body.top_n, 1))
        options = CheckOptions(threshold=body.threshold, top_n=body.top_n, adapt=body.adapt, suggest=suggest_options)
        result = await service.check(body.source, is_tex=body.tex is not None, options=options)
        return result.to_json()

    @api.get("/library/search", response_model=SearchResponse, tags=["library"])
    async def search(
        q: Annotated[str, Query(min_length=1, description="Free-text query")],
        k: Annotated[int, Query(ge=1, description="Number of results")] = 10,
        method: Annotated[str, Query(pattern="^(hybrid|bm25|dense)$")] = "hybrid",
    ) -> SearchResponse:
        """Recall over the library (BM25 + dense embeddings, fused), without reranking."""
        if len(q) > limits.max_query_chars:
            raise too_large("the query", len(q), limits.max_query_chars, "characters")
        if k > limits.max_search_k:
            raise too_large("k", k, limits.max_search_k, "results")
        hits = []
        for candidate in await service.search(q, k, method):
            paper = service.library.get(candidate.key)
            hits.append(
                SearchHit(
                    key=paper.key if paper else candidate.key,
                    title=paper.title if paper else "",
                    year=paper.year if paper else None,
                    authors=list(paper.authors) if paper else [],
                    score=float(candidate.score),
                    bm25_rank=candidate.bm25_rank,
                    dense_rank=candidate.dense_rank,
                )
            )
        return SearchResponse(query=q, method=method, results=hits)

    app.include_router(api)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        """Liveness and load: the model, the library size and the reranker queue (no key needed)."""
        service.check_library()
        queue = None
        if service.batcher is not None:
            # QueueHealth is the public subset of the batcher's snapshot; pydantic drops the rest.
            queue = QueueHealth.model_validate(dataclasses.asdict(service.batcher.stats()))
        return Health(
            version=__version__,
            model=service.model_name,
            library_papers=len(service.library),
            index_papers=service.index.size,
            index_updating=service.refreshing,
            auth=api_key is not None,
            queue=queue,
        )

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
