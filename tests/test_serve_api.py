"""The HTTP API of `citerec serve`, in-process, with the tiny random reranker and the example library."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from citerec.library import Library  # noqa: E402
from citerec.serve import ServeLimits, create_app  # noqa: E402
from tests.test_serve_batching import DOCS, QUERY, Recording  # noqa: E402

PARAGRAPH = (
    "Modern systems embed documents with pre-trained Transformer encoders \\cite{?}. "
    "Dense passage retrieval uses a dual encoder trained on question--passage pairs \\cite{?}."
)
OTHER_INSTRUCTION = "Judge whether the document is about image recognition"


@pytest.fixture(scope="module")
def tiny(tiny_reranker_dir):
    from citerec.rerank import load_reranker

    return load_reranker(str(tiny_reranker_dir))


@pytest.fixture(scope="module")
def library(_indexed_example_library) -> Library:
    return Library(_indexed_example_library)


@pytest.fixture(scope="module")
def index(library):
    from citerec.index import ensure_index

    return ensure_index(library)


@pytest.fixture
def make_app(library, index, tiny):
    """Build apps over the shared library and index; their worker threads stop at teardown."""
    apps = []

    def make(reranker=tiny, **kwargs):
        app = create_app(library, reranker=reranker, index=index, **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.service.close()


def call(app, *requests, headers=None):
    """Send (method, url, json) requests concurrently to the app; returns the responses in order."""

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
            return await asyncio.gather(*(client.request(m, url, json=body) for m, url, body in requests))

    return asyncio.run(main())


def rerank_body(**extra):
    return {"query": QUERY, "documents": DOCS, **extra}


# -- /v1/rerank ----------------------------------------------------------------
def test_rerank_scores_are_the_rerankers_sorted(make_app, tiny):
    (response,) = call(make_app(), ("POST", "/v1/rerank", rerank_body(model=tiny.model_name)))
    assert response.status_code == 200, response.text
    data = response.json()
    expected = tiny.score(QUERY, DOCS)
    assert data["model"] == tiny.model_name and data["id"].startswith("rerank-")
    assert sorted(r["index"] for r in data["results"]) == list(range(len(DOCS)))
    for result in data["results"]:
        assert result["relevance_score"] == pytest.approx(expected[result["index"]], abs=1e-6)
        assert result["document"]["text"] == DOCS[result["index"]]
    scores = [r["relevance_score"] for r in data["results"]]
    assert scores == sorted(scores, reverse=True)
    assert data["usage"] == {"documents": 5, "pairs": 5, "total_chars": sum(len(d) + len(QUERY) for d in DOCS)}


def test_rerank_top_n_object_documents_and_no_echo(make_app, tiny):
    body = {"query": QUERY, "documents": [{"text": d} for d in DOCS], "top_n": 2, "return_documents": False}
    (response,) = call(make_app(), ("POST", "/v1/rerank", body))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    expected = tiny.score(QUERY, DOCS)
    best = sorted(range(len(DOCS)), key=lambda i: -expected[i])[:2]
    assert [r["index"] for r in results] == best
    assert all("document" not in r for r in results)


def test_rerank_instruction_override_changes_scores(make_app, tiny):
    default, custom = call(
        make_app(),
        ("POST", "/v1/rerank", rerank_body()),
        ("POST", "/v1/rerank", rerank_body(instruction=OTHER_INSTRUCTION)),
    )
    by_index = {r["index"]: r["relevance_score"] for r in custom.json()["results"]}
    expected = tiny.score(QUERY, DOCS, instruction=OTHER_INSTRUCTION)
    assert [by_index[i] for i in range(len(DOCS))] == pytest.approx(expected, abs=1e-6)
    default_by_index = {r["index"]: r["relevance_score"] for r in default.json()["results"]}
    assert [default_by_index[i] for i in range(len(DOCS))] != pytest.approx(expected, abs=1e-6)


def test_concurrent_requests_are_batched_with_unbatched_scores(make_app, tiny):
    recording = Recording(tiny)
    app = make_app(recording, limits=ServeLimits(max_batch_pairs=64, batch_wait_ms=100))
    queries = [f"{QUERY} Variant {i}." for i in range(8)]
    responses = call(app, *(("POST", "/v1/rerank", {"query": q, "documents": DOCS}) for q in queries))
    assert all(r.status_code == 200 for r in responses)
    assert 1 <= len(recording.calls) < len(queries)
    for query, response in zip(queries, responses, strict=True):
        got = {r["index"]: r["relevance_score"] for r in response.json()["results"]}
        assert [got[i] for i in range(len(DOCS))] == pytest.approx(tiny.score(query, DOCS), abs=1e-6)


def test_queue_full_answers_503_with_retry_after(make_app, tiny):
    gate = threading.Event()
    recording = Recording(tiny, gate=gate)
    app = make_app(recording, limits=ServeLimits(max_queued_pairs=5, max_batch_pairs=8, batch_wait_ms=0))

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.create_task(client.post("/v1/rerank", json=rerank_body()))
            assert await asyncio.to_thread(recording.entered.wait, 10)
            refused = await client.post("/v1/rerank", json={"query": QUERY, "documents": ["one more"]})
            health = await client.get("/healthz")
            gate.set()
            return await first, refused, health

    first, refused, health = asyncio.run(main())
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1
    assert "queue is full" in refused.json()["detail"]
    assert health.json()["queue"]["queued_pairs"] == 5
    assert first.status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": QUERY, "documents": ["d"] * 4}, "4 documents"),
        ({"query": QUERY, "documents": ["x" * 101]}, "document 0 has 101 characters"),
        ({"query": "q" * 101, "documents": ["d"]}, "the query has 101 characters"),
    ],
)
def test_rerank_size_limits_answer_413(make_app, body, fragment):
    app = make_app(limits=ServeLimits(max_documents=3, max_document_chars=100, max_query_chars=100))
    (response,) = call(app, ("POST", "/v1/rerank", body))
    assert response.status_code == 413
    assert fragment in response.json()["detail"]


def test_oversized_body_is_refused_before_parsing(make_app):
    app = make_app(limits=ServeLimits(max_body_bytes=1000))
    (response,) = call(app, ("POST", "/v1/rerank", {"query": QUERY, "documents": ["x" * 2000]}))
    assert response.status_code == 413
    assert "over 1000 bytes" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/v1/rerank", {"query": QUERY, "documents": []}),
        ("POST", "/v1/rerank", {"documents": DOCS}),
        ("POST", "/v1/rerank", {"query": "", "documents": DOCS}),
        ("POST", "/v1/rerank", {"query": QUERY, "documents": DOCS, "top_n": 0}),
        ("POST", "/v1/rerank", {"query": QUERY, "documents": [3]}),
        ("POST", "/v1/suggest", {"text": "a", "tex": "b"}),
        ("POST", "/v1/suggest", {}),
        ("POST", "/v1/suggest", {"text": "  "}),
        ("POST", "/v1/suggest", {"text": "x", "rerank": "maybe"}),
        ("GET", "/v1/library/search?q=attention&k=0", None),
        ("GET", "/v1/library/search?q=attention&method=magic", None),
    ],
)
def test_invalid_requests_answer_422(make_app, method, url, body):
    (response,) = call(make_app(), (method, url, body))
    assert response.status_code == 422, response.text


def test_unknown_model_answers_404(make_app):
    (response,) = call(make_app(), ("POST", "/v1/rerank", rerank_body(model="someone/else")))
    assert response.status_code == 404
    assert "someone/else" in response.json()["detail"]


# -- auth ------------------------------------------------------------------------
def test_api_key_guards_v1_but_not_health_and_page(make_app):
    app = make_app(api_key="s3cret")
    requests = [("POST", "/v1/rerank", rerank_body()), ("GET", "/v1/library/search?q=attention", None)]
    for response in call(app, *requests):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
    for response in call(app, *requests, headers={"Authorization": "Bearer wrong"}):
        assert response.status_code == 401
    for response in call(app, *requests, headers={"Authorization": "Bearer s3cret"}):
        assert response.status_code == 200, response.text
    health, page = call(app, ("GET", "/healthz", None), ("GET", "/", None))
    assert health.status_code == 200 and health.json()["auth"] is True
    assert page.status_code == 200


# -- health, search, suggest, page --------------------------------------------------
def test_healthz_reports_model_library_and_queue(make_app, library, tiny):
    (response,) = call(make_app(), ("GET", "/healthz", None))
    data = response.json()
    assert data["status"] == "ok" and data["model"] == tiny.model_name
    assert data["library_papers"] == len(library) > 0
    assert data["auth"] is False
    assert data["queue"]["queued_pairs"] == 0 and data["queue"]["max_queued_pairs"] == ServeLimits().max_queued_pairs


def test_library_search_returns_recall_hits(make_app, library, index):
    query = "dense passage retrieval dual encoder open-domain question answering"
    (response,) = call(make_app(), ("GET", f"/v1/library/search?q={query}&k=4", None))
    assert response.status_code == 200, response.text
    data = response.json()
    from citerec.recall import recall_text

    expected = recall_text(index, query, k=4, method="hybrid")
    assert [hit["key"] for hit in data["results"]] == [library.get(c.key).key for c in expected]
    assert data["results"][0]["key"] == "karpukhin2020dense"
    assert data["results"][0]["title"] == library.get("karpukhin2020dense").title
    scores = [hit["score"] for hit in data["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_k_over_the_limit_answers_413(make_app):
    (response,) = call(make_app(limits=ServeLimits(max_search_k=5)), ("GET", "/v1/library/search?q=x&k=6", None))
    assert response.status_code == 413


def test_suggest_returns_the_cli_json(make_app, library, index, tiny):
    from citerec.suggest import Suggester, SuggestOptions

    (response,) = call(make_app(), ("POST", "/v1/suggest", {"tex": PARAGRAPH, "top_n": 3}))
    assert response.status_code == 200, response.text
    data = response.json()
    direct = Suggester(library, reranker=tiny, index=index).suggest_text(PARAGRAPH, options=SuggestOptions(top_n=3))
    expected = json.loads(json.dumps(direct.to_json()))
    assert data["schema"] == "citerec.suggestions/1" and data["reranked"] is True
    assert len(data["contexts"]) == 2
    for got, want in zip(data["contexts"], expected["contexts"], strict=True):
        assert [s["key"] for s in got["suggestions"]] == [s["key"] for s in want["suggestions"]]
        assert [s["score"] for s in got["suggestions"]] == pytest.approx(
            [s["score"] for s in want["suggestions"]], abs=1e-6
        )
        assert len(got["suggestions"]) <= 3
        assert all(library.get(s["key"]) is not None for s in got["suggestions"])


def test_suggest_rerank_off_per_request_and_plain_text(make_app):
    (response,) = call(
        make_app(),
        ("POST", "/v1/suggest", {"text": "Residual networks for image recognition.", "rerank": "off", "top_n": 2}),
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["reranked"] is False and data["reranker"] is None
    assert data["contexts"] and all(len(c["suggestions"]) <= 2 for c in data["contexts"])


def test_suggest_text_limit_answers_413(make_app):
    (response,) = call(make_app(limits=ServeLimits(max_text_chars=20)), ("POST", "/v1/suggest", {"text": "y" * 21}))
    assert response.status_code == 413


def test_server_without_reranker(make_app):
    from citerec.suggest import SuggestOptions

    app = make_app(reranker=None, options=SuggestOptions(rerank="off"))
    rerank, suggest_on, suggest, health = call(
        app,
        ("POST", "/v1/rerank", rerank_body()),
        ("POST", "/v1/suggest", {"tex": PARAGRAPH, "rerank": "on"}),
        ("POST", "/v1/suggest", {"tex": PARAGRAPH}),
        ("GET", "/healthz", None),
    )
    assert rerank.status_code == 503 and "no reranker" in rerank.json()["detail"]
    assert suggest_on.status_code == 503
    assert suggest.status_code == 200 and suggest.json()["reranked"] is False
    assert health.json()["model"] is None and health.json()["queue"] is None


def test_page_and_its_assets_are_served_locally(make_app):
    page, script, docs = call(make_app(), ("GET", "/", None), ("GET", "/static/page.js", None), ("GET", "/docs", None))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="suggest-go"' in page.text and 'id="rerank-go"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no external assets
    assert script.status_code == 200 and "/v1/suggest" in script.text
    assert docs.status_code == 200


# -- CLI -------------------------------------------------------------------------------
def test_cli_serve_help_and_lazy_imports():
    import typer
    from typer.testing import CliRunner

    from citerec.cli.serve import serve

    app = typer.Typer()
    app.command("serve")(serve)
    app.command("noop")(lambda: None)  # a second command keeps "serve" a subcommand
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--api-key", "--max-batch-pairs", "--max-queued-pairs", "--rerank"):
        assert option in result.output
    code = "import sys, citerec.cli.serve; sys.exit(bool({'fastapi', 'torch', 'uvicorn'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
