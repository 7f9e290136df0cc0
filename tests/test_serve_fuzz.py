"""The HTTP API fuzzed from its own OpenAPI schema (schemathesis, in-process ASGI, no network).

Every generated request, valid or not, must get an answer below 500 whose
errors are JSON with a message, and the size limits must hold. Requests whose
model work runs too long are cut off with a JSON 504. The number of examples
per operation follows the hypothesis profile (tests/helpers/fuzzing.py: `ci` by
default, CITEREC_FUZZ_PROFILE=long for deeper runs).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
httpx = pytest.importorskip("httpx")

from hypothesis import HealthCheck, settings  # noqa: E402

from citerec.library import Library  # noqa: E402
from citerec.recall import RecallSpec  # noqa: E402
from citerec.serve import ServeLimits, create_app  # noqa: E402
from citerec.suggest import SuggestOptions  # noqa: E402
from tests.helpers.fuzzing import COUNTS, examples  # noqa: E402

LIMITS = ServeLimits(
    max_documents=8,
    max_query_chars=400,
    max_document_chars=600,
    max_text_chars=1500,
    max_search_k=20,
    request_timeout_s=30,
)


class _Counted:
    """A reranker wrapper that counts pairs, so the test can check the document limit held."""

    def __init__(self, inner, delay: float = 0.0) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.delay = delay
        self.largest = 0

    def score(self, query, documents, *, instruction=None, progress=None):
        return self.score_pairs([(query, d) for d in documents], instruction=instruction)

    def score_pairs(self, pairs, *, instruction=None, progress=None):
        self.largest = max(self.largest, len(pairs))
        if self.delay:
            time.sleep(self.delay)
        return self.inner.score_pairs(pairs, instruction=instruction)


@pytest.fixture(scope="module")
def tiny(tiny_reranker_dir):
    from citerec.rerank import load_reranker

    return load_reranker(str(tiny_reranker_dir))


@pytest.fixture(scope="module")
def served(_indexed_example_library, tiny):
    reranker = _Counted(tiny)
    app = create_app(
        Library(_indexed_example_library),
        reranker=reranker,
        options=SuggestOptions(top_n=3, recall=RecallSpec(k=5)),
        limits=LIMITS,
    )
    yield app, reranker
    app.state.service.close()


def _without_lifespan(app):
    """The app with lifespan events acknowledged but not passed on: the test client starts and
    stops the app around every call, and stopping would close the shared service."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await app(scope, receive, send)

    return wrapped


@pytest.fixture(scope="module")
def api_schema(served):
    app, _ = served
    return schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan(app))


OPERATIONS = [
    ("/rerank", "POST"),
    ("/v1/rerank", "POST"),
    ("/v2/rerank", "POST"),
    ("/v1/suggest", "POST"),
    ("/v1/check", "POST"),
    ("/v1/library/search", "GET"),
    ("/healthz", "GET"),
]


def test_the_schema_lists_every_operation(api_schema) -> None:
    listed = {(op.ok().path, op.ok().method.upper()) for op in api_schema.get_all_operations()}
    assert listed == set(OPERATIONS)


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_api_answers_every_request_without_a_server_error(api_schema, served, path, method, mode) -> None:
    from hypothesis import given
    from schemathesis import GenerationMode

    if path == "/healthz" and mode == "negative":
        pytest.skip("/healthz takes no input: there is no invalid request to make")
    _, reranker = served
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(GenerationMode(mode)))
    @settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case) -> None:
        response = case.call()
        COUNTS[f"HTTP {method} {path}"] += 1
        assert response.status_code < 500 or response.status_code == 503, (case.as_curl_command(), response.text)
        if response.status_code >= 400:
            body = response.json()  # every error is JSON ...
            assert body.get("detail"), body  # ... with a message
        if response.status_code == 200 and path.endswith("/rerank"):
            assert len(response.json()["results"]) <= LIMITS.max_documents
        if response.status_code == 200 and path == "/v1/library/search":
            assert len(response.json()["results"]) <= LIMITS.max_search_k
        assert reranker.largest <= max(LIMITS.max_documents, LIMITS.max_batch_pairs)

    check()


def _post(app, path, body, method="POST"):
    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, json=body)

    return asyncio.run(main())


def test_slow_requests_are_cut_off_with_504(_indexed_example_library, tiny) -> None:
    slow = _Counted(tiny, delay=2.0)
    app = create_app(
        Library(_indexed_example_library),
        reranker=slow,
        options=SuggestOptions(top_n=2, recall=RecallSpec(k=3)),
        limits=ServeLimits(request_timeout_s=0.3),
    )
    try:
        started = time.monotonic()
        rerank = _post(app, "/v1/rerank", {"query": "attention", "documents": ["a paper", "another"]})
        suggest = _post(app, "/v1/suggest", {"text": "Transformers use self-attention \\cite{?}."})
        elapsed = time.monotonic() - started
    finally:
        app.state.service.close()
    for response in (rerank, suggest):
        assert response.status_code == 504, response.text
        assert "took longer than 0.3 s" in response.json()["detail"]
    assert elapsed < 3.5  # each answered at its deadline, not when the model finished


def test_a_timed_out_job_still_counts_until_its_thread_ends(_indexed_example_library, tiny) -> None:
    """Timed-out work keeps its pipeline slot: a slow model cannot be flooded by retries."""
    gate = threading.Event()

    class Gated(_Counted):
        def score_pairs(self, pairs, *, instruction=None, progress=None):
            gate.wait(20)
            return super().score_pairs(pairs, instruction=instruction)

    app = create_app(
        Library(_indexed_example_library),
        reranker=Gated(tiny),
        options=SuggestOptions(top_n=2, recall=RecallSpec(k=3)),
        limits=ServeLimits(request_timeout_s=0.2, max_pipeline_jobs=1, pipeline_threads=1),
    )
    try:
        first = _post(app, "/v1/suggest", {"text": "Transformers use self-attention \\cite{?}."})
        second = _post(app, "/v1/suggest", {"text": "Residual networks \\cite{?}."})
        gate.set()
        service = app.state.service
        deadline = time.monotonic() + 20
        while service._pipeline_jobs and time.monotonic() < deadline:
            time.sleep(0.05)
        third = _post(app, "/v1/library/search?q=attention", None, method="GET")
    finally:
        gate.set()
        app.state.service.close()
    assert first.status_code == 504
    assert second.status_code == 503 and "busy" in second.json()["detail"]
    assert third.status_code == 200, third.text  # the slot was given back when the thread ended


def test_unexpected_errors_are_json_500(_indexed_example_library, tiny, monkeypatch) -> None:
    app = create_app(Library(_indexed_example_library), reranker=_Counted(tiny), limits=LIMITS)
    service = app.state.service

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("citerec.recall.recall_text", broken)
    try:

        async def main():
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.get("/v1/library/search", params={"q": "attention"})

        response = asyncio.run(main())
    finally:
        service.close()
    assert response.status_code == 500
    assert "internal server error" in response.json()["detail"]
    assert "boom" not in response.text
