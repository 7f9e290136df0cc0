"""The rerank API as its clients call it: Cohere's SDK (v1 `Client`, v2 `ClientV2`) and httpx in the
Jina/vLLM shape, against a live server on loopback with the tiny reranker.

Every path must give the scores `citerec rerank` gives for the same query and
documents. The clients may reach only the loopback server: any other request
fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
cohere = pytest.importorskip("cohere")

from typer.testing import CliRunner  # noqa: E402

from citerec.cli import app as cli  # noqa: E402
from citerec.serve import ServeLimits, create_app  # noqa: E402
from citerec.serve.background import serve_in_thread  # noqa: E402
from citerec.serve.rerank_api import accepted_model_names  # noqa: E402
from tests.test_serve_api import call, index, library  # noqa: E402, F401 - fixtures used by name
from tests.test_serve_batching import DOCS, QUERY  # noqa: E402

KEY = "s3cret"
PATHS = ["/rerank", "/v1/rerank", "/v2/rerank"]


@pytest.fixture(scope="module")
def tiny(tiny_reranker_dir):
    from citerec.rerank import load_reranker

    return load_reranker(str(tiny_reranker_dir), device="cpu")


@pytest.fixture(scope="module")
def cli_scores(tiny_reranker_dir) -> list[float]:
    """`citerec rerank QUERY --doc … --format json`: the score of each document, in request order."""
    args = ["rerank", QUERY, "--reranker", str(tiny_reranker_dir), "--device", "cpu", "--format", "json"]
    for doc in DOCS:
        args += ["--doc", doc]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    by_index = {row["index"]: row["score"] for row in json.loads(result.stdout)["results"]}
    return [by_index[i] for i in range(len(DOCS))]


@pytest.fixture(scope="module")
def url(library, index, tiny):  # noqa: F811 - the imported fixtures
    app = create_app(library, reranker=tiny, index=index, api_key=KEY, limits=ServeLimits(max_documents=8))
    with serve_in_thread(app) as base:
        yield base


def _loopback_only(base: str) -> httpx.Client:
    """An httpx client for the SDK that refuses any request not to `base`."""

    def guard(request: httpx.Request) -> None:
        assert str(request.url).startswith(base + "/"), f"the client tried to reach {request.url}"

    return httpx.Client(event_hooks={"request": [guard]}, timeout=60)


def _client(kind, base: str, key: str = KEY):
    return kind(api_key=key, base_url=base, httpx_client=_loopback_only(base), max_retries=0)


def _in_request_order(results) -> list[float]:
    got = {r.index: r.relevance_score for r in results}
    assert sorted(got) == list(range(len(got)))
    return [got[i] for i in range(len(got))]


def _model_last_component(tiny) -> str:
    return Path(tiny.model_name).name


# -- Cohere's SDK ---------------------------------------------------------------------
def test_cohere_client_v2_gets_the_cli_scores_without_documents(url, tiny, cli_scores):
    response = _client(cohere.ClientV2, url).rerank(model=_model_last_component(tiny), query=QUERY, documents=DOCS)
    assert _in_request_order(response.results) == pytest.approx(cli_scores, abs=1e-6)
    scores = [r.relevance_score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    assert all(getattr(r, "document", None) is None for r in response.results)  # Cohere v2: only when asked
    assert response.id.startswith("rerank-") and response.meta.api_version.version == "2"
    top = _client(cohere.ClientV2, url).rerank(model=tiny.model_name, query=QUERY, documents=DOCS, top_n=2)
    assert [r.index for r in top.results] == [r.index for r in response.results[:2]]


@pytest.mark.parametrize("name", ["path", "last component"])
def test_cohere_client_v1_gets_the_cli_scores_and_documents(url, tiny, cli_scores, name):
    model = tiny.model_name if name == "path" else _model_last_component(tiny)
    documents = [DOCS[0], {"text": DOCS[1]}, *DOCS[2:]]  # v1 takes strings or {"text": …}
    response = _client(cohere.Client, url).rerank(model=model, query=QUERY, documents=documents, return_documents=True)
    assert _in_request_order(response.results) == pytest.approx(cli_scores, abs=1e-6)
    assert all(r.document.text == DOCS[r.index] for r in response.results)


def test_cohere_sdk_errors_for_an_unknown_model_and_a_wrong_key(url, tiny):
    with pytest.raises(cohere.NotFoundError) as not_found:
        _client(cohere.ClientV2, url).rerank(model="rerank-v3.5", query=QUERY, documents=DOCS)
    detail = not_found.value.body["detail"]
    assert "'rerank-v3.5' is not served here" in detail
    assert repr(tiny.model_name) in detail and repr(_model_last_component(tiny)) in detail
    with pytest.raises(cohere.UnauthorizedError):
        _client(cohere.Client, url, key="wrong").rerank(query=QUERY, documents=DOCS)


# -- httpx, each documented shape ------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("field", ["documents", "passages"])
def test_every_path_gives_the_cli_scores(url, cli_scores, path, field):
    response = httpx.post(url + path, json={"query": QUERY, field: DOCS}, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    data = response.json()
    got = {r["index"]: r["relevance_score"] for r in data["results"]}
    assert [got[i] for i in range(len(DOCS))] == pytest.approx(cli_scores, abs=1e-6)
    echoed = [("document" in r) for r in data["results"]]
    if path == "/v2/rerank":
        assert not any(echoed) and set(data) == {"id", "results", "meta"}
    else:  # Jina / vLLM: documents echoed, the model and the usage
        assert all(r["document"]["text"] == DOCS[r["index"]] for r in data["results"])
        assert data["usage"]["documents"] == len(DOCS) and data["model"]


@pytest.mark.parametrize("path", PATHS)
def test_return_documents_is_honoured_on_every_path(url, path):
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"query": QUERY, "documents": DOCS}
    shown = httpx.post(url + path, json={**body, "return_documents": True}, headers=headers)
    hidden = httpx.post(url + path, json={**body, "return_documents": False}, headers=headers)
    assert all(r["document"]["text"] == DOCS[r["index"]] for r in shown.json()["results"])
    assert all("document" not in r for r in hidden.json()["results"])


@pytest.mark.parametrize("path", PATHS)
def test_every_path_has_the_same_key_model_and_limit_rules(url, path):
    body = {"query": QUERY, "documents": DOCS}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.post(url + path, json=body, headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    auth = {"Authorization": f"Bearer {KEY}"}
    unknown = httpx.post(url + path, json={**body, "model": "someone/else"}, headers=auth)
    assert unknown.status_code == 404 and "this server accepts" in unknown.json()["detail"]
    too_many = httpx.post(url + path, json={"query": QUERY, "documents": ["d"] * 9}, headers=auth)
    assert too_many.status_code == 413 and "9 documents" in too_many.json()["detail"]
    for bad in ({"query": QUERY}, {**body, "passages": DOCS}):
        response = httpx.post(url + path, json=bad, headers=auth)
        assert response.status_code == 422 and "'passages'" in response.text


def test_suggest_is_unchanged_and_docs_list_every_path(url):
    auth = {"Authorization": f"Bearer {KEY}"}
    suggest = httpx.post(url + "/v1/suggest", json={"text": "Residual networks.", "rerank": "off"}, headers=auth)
    assert suggest.status_code == 200 and suggest.json()["schema"] == "citerec.suggestions/1"
    assert httpx.post(url + "/v1/suggest", json={"text": "Residual networks."}).status_code == 401
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    assert {"/rerank", "/v1/rerank", "/v2/rerank", "/v1/suggest"} <= set(paths)
    v2 = paths["/v2/rerank"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert v2.endswith("/CohereRerankResponse")
    assert httpx.get(url + "/docs").status_code == 200


# -- model names -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "served", "expected"),
    [
        ("Qwen/Qwen3-Reranker-4B", (), ("Qwen/Qwen3-Reranker-4B", "Qwen3-Reranker-4B")),
        ("/models/qwen3-reranker/", (), ("/models/qwen3-reranker/", "qwen3-reranker")),
        ("plain-name", (), ("plain-name",)),
        ("Qwen/Qwen3-Reranker-4B", ("reranker", " ", "qwen", "reranker"), ("reranker", "qwen")),
        (None, (), ()),
    ],
)
def test_accepted_model_names(model, served, expected):
    assert accepted_model_names(model, served) == expected


def test_served_model_name_from_the_cli_replaces_the_defaults(example_library_dir, tiny_reranker_dir, monkeypatch):
    """`citerec serve --served-model-name A B` (vLLM's form): only A and B are accepted, A answers."""
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(app=app))
    args = ["serve", "-L", str(example_library_dir), "--reranker", str(tiny_reranker_dir), "--rerank", "on"]
    result = CliRunner().invoke(cli, [*args, "--served-model-name", "Qwen3-Reranker-4B", "citer", "--port", "9"])
    assert result.exit_code == 0, result.output
    assert "rerank 'model' names: Qwen3-Reranker-4B, citer" in " ".join(result.output.split())  # rich wraps
    app = served["app"]
    try:
        assert app.state.model_names == ("Qwen3-Reranker-4B", "citer")
        ok, other, path = call(
            app,
            ("POST", "/v1/rerank", {"model": "Qwen3-Reranker-4B", "query": QUERY, "documents": DOCS}),
            ("POST", "/rerank", {"model": "citer", "query": QUERY, "documents": DOCS}),
            ("POST", "/v2/rerank", {"model": str(tiny_reranker_dir), "query": QUERY, "documents": DOCS}),
        )
        assert ok.status_code == 200 and ok.json()["model"] == "Qwen3-Reranker-4B"
        assert other.status_code == 200
        assert path.status_code == 404 and "'Qwen3-Reranker-4B', 'citer'" in path.json()["detail"]
    finally:
        app.state.service.close()
    stray = CliRunner().invoke(cli, ["serve", "-L", str(example_library_dir), "extra"])
    assert stray.exit_code != 0 and "unexpected argument 'extra'" in stray.output
