"""Query expansion: pseudo-relevance feedback, and rewriting through an OpenAI-compatible chat endpoint.

The endpoint is a small local stub server speaking /v1/chat/completions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.expand.llm import ChatRewriter, ExpansionError
from tests.helpers.recalling import recall_many

REWRITE = "dense passage retrieval dual encoder open-domain question answering"
VAGUE = "This was later improved considerably \\cite{?}.\n"
runner = CliRunner()


class _Stub(BaseHTTPRequestHandler):
    requests: list[dict] = []
    mode = "ok"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        if self.mode == "slow":
            time.sleep(1.0)
        if self.mode == "error":
            self._send(500, b'{"error": "model not loaded"}')
        elif self.mode == "garbage":
            self._send(200, b"<html>not json</html>")
        elif self.mode == "empty":
            self._send(200, json.dumps({"choices": []}).encode())
        else:
            answer = {"choices": [{"message": {"role": "assistant", "content": f"<think>x</think> {REWRITE}\n"}}]}
            self._send(200, json.dumps(answer).encode())

    def _send(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    _Stub.requests = []
    _Stub.mode = "ok"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rewrite_posts_a_chat_completion_and_keeps_one_line(stub: str) -> None:
    rewriter = ChatRewriter(stub + "/v1", "qwen-test")
    assert rewriter.rewrite("Rerankers refine the list.") == REWRITE
    (request,) = _Stub.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["model"] == "qwen-test"
    assert request["messages"][-1] == {"role": "user", "content": "Rerankers refine the list."}
    assert rewriter.rewrite_many(["a", "b", "a"]) == [REWRITE] * 3
    assert len(_Stub.requests) == 3  # "a" asked once


@pytest.mark.parametrize("url", ["http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/chat/completions"])
def test_endpoint_accepts_the_server_root_or_the_full_address(url: str) -> None:
    assert ChatRewriter(url, "m").endpoint == "http://h:1/v1/chat/completions"


@pytest.mark.parametrize(
    ("mode", "message"),
    [("error", "HTTP 500"), ("garbage", "not JSON"), ("empty", "no choices"), ("slow", "cannot reach")],
)
def test_endpoint_failures_are_clear_errors(stub: str, mode: str, message: str) -> None:
    _Stub.mode = mode
    with pytest.raises(ExpansionError, match=message) as caught:
        ChatRewriter(stub, "m", timeout=0.3).rewrite("a passage")
    assert "--expand-url" in str(caught.value)


def test_cli_llm_expansion_is_shown_and_changes_recall(example_library_dir: Path, tmp_path: Path, stub: str) -> None:
    draft = tmp_path / "vague.tex"
    draft.write_text(VAGUE, encoding="utf-8")
    base = ["suggest", str(draft), "-L", str(example_library_dir), "--rerank", "off", "--format", "json"]
    plain = runner.invoke(app, base)
    expanded = runner.invoke(app, [*base, "--expand", "llm", "--expand-url", stub, "--expand-model", "m"])
    assert plain.exit_code == 0 and expanded.exit_code == 0, expanded.output
    (context,) = json.loads(expanded.stdout)["contexts"]
    assert context["expanded_query"] == REWRITE
    assert context["suggestions"][0]["key"] == "karpukhin2020dense"
    assert json.loads(plain.stdout)["contexts"][0]["expanded_query"] == ""
    assert _Stub.requests[0]["messages"][-1]["content"].startswith("This was later improved")


def test_cli_llm_expansion_errors_are_one_line(example_library_dir: Path, tmp_path: Path) -> None:
    draft = tmp_path / "vague.tex"
    draft.write_text(VAGUE, encoding="utf-8")
    base = ["suggest", str(draft), "-L", str(example_library_dir), "--rerank", "off", "--expand", "llm"]
    missing = runner.invoke(app, base)
    assert missing.exit_code != 0
    assert "--expand-url" in missing.output and "Traceback" not in missing.output
    down = runner.invoke(app, [*base, "--expand-url", "http://127.0.0.1:9", "--expand-model", "m"])
    assert down.exit_code != 0
    assert "cannot reach" in down.output and "Traceback" not in down.output


def test_prf_expands_both_sides_and_shows_its_terms(example_library_dir: Path, examples_dir: Path) -> None:
    from citerec.index import Index
    from citerec.library import Library

    index = Index.open(Library(example_library_dir))
    query = "dual encoders for retrieval"
    from citerec.recall import RecallSpec, feedback_words, recall_text

    plain = recall_text(index, query, k=10)
    expanded = recall_many(index, [query], k=10, prf=True)[0]
    assert [c.score for c in plain] != [c.score for c in expanded]
    (terms,) = feedback_words(index, [query], RecallSpec())
    assert terms and not set(terms) & {"dual", "encod", "retriev"}  # only what the query lacked
    for method in ("bm25", "dense"):
        assert len(recall_many(index, [query], k=5, method=method, prf=True)[0]) == 5
    result = runner.invoke(
        app,
        ["suggest", str(examples_dir / "draft.tex"), "-L", str(example_library_dir), "--rerank", "off"]
        + ["--expand", "prf", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    contexts = json.loads(result.stdout)["contexts"]
    assert contexts and all(c["expanded_query"].startswith("+ ") for c in contexts)


def test_scores_are_readable_without_a_reranker(example_library_dir: Path, examples_dir: Path) -> None:
    base = [
        "suggest",
        str(examples_dir / "draft.tex"),
        "-L",
        str(example_library_dir),
        "--rerank",
        "off",
        "--include-cited",
    ]
    data = json.loads(runner.invoke(app, [*base, "--format", "json"]).stdout)
    for context in data["contexts"]:
        suggestions = context["suggestions"]
        assert suggestions[0]["confidence"] == pytest.approx(1.0)
        assert all(0 <= s["confidence"] <= 1 for s in suggestions)
        top = suggestions[0]["score"]
        shares = [max(0.0, s["score"] / top) for s in suggestions]  # below-average z-scores show as 0
        assert [s["confidence"] for s in suggestions] == pytest.approx(shares)
    table = runner.invoke(app, base, terminal_width=200)
    assert table.exit_code == 0
    assert "100%" in table.output and "share of the top" in table.output


def test_http_suggest_takes_expand_and_returns_the_added_terms(example_library_dir: Path) -> None:
    pytest.importorskip("fastapi")
    import httpx

    from citerec.library import Library
    from citerec.serve import create_app
    from citerec.suggest import SuggestOptions

    app = create_app(Library(example_library_dir), options=SuggestOptions(rerank="off"))
    body = {"text": "Dual encoders retrieve passages [cite].", "rerank": "off"}

    async def ask() -> list:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [
                await client.post("/v1/suggest", json={**body, "expand": "prf"}),
                await client.post("/v1/suggest", json={**body, "expand": "sideways"}),
            ]

    try:
        expanded, bad = asyncio.run(ask())
    finally:
        app.state.service.close()
    assert expanded.status_code == 200, expanded.text
    (context,) = expanded.json()["contexts"]
    assert context["expanded_query"].startswith("+ ")
    assert context["suggestions"][0]["confidence"] == pytest.approx(1.0)
    assert bad.status_code == 422
