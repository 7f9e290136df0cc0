"""The server backend against a local HTTP server that answers like vLLM's /score and /v1/rerank."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from citerec.errors import ModelError
from citerec.rerank import DEFAULT_RERANKER, load_reranker
from citerec.rerank.base import EncodedPair
from citerec.rerank.server import ServerReranker

PAIRS = [
    ("Self-attention replaces recurrence.", "Attention Is All You Need " * 60),
    ("Residual connections help depth.", "Deep residual learning"),
    ("Self-attention replaces recurrence.", "BM25"),
]


@pytest.fixture(scope="module")
def hf(tiny_reranker_dir):
    return load_reranker(str(tiny_reranker_dir), device="cpu", max_length=256)


@pytest.fixture()
def server(hf):
    """Serves the tiny model: P(yes) of each joined (text_1, text_2), as vLLM's Qwen3 classifier does."""
    state = {"requests": [], "fail": False}
    tok = hf.tokenizer

    def judge(query_side: str, docs: list[str]) -> list[float]:
        shared = tuple(tok(query_side, add_special_tokens=False)["input_ids"])
        return hf.score_encoded(
            [EncodedPair(shared, tuple(tok(d, add_special_tokens=False)["input_ids"])) for d in docs]
        )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def reply(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/v1/models":
                self.reply(200, {"object": "list", "data": [{"id": "tiny-reranker", "object": "model"}]})
            else:
                self.reply(404, {"error": "not found"})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append((self.path, body))
            if state["fail"]:
                return self.reply(500, {"error": "engine died"})
            if body.get("model") != "tiny-reranker":
                return self.reply(404, {"error": f"model {body.get('model')} does not exist"})
            if self.path == "/score":
                scores = [judge(q, [d])[0] for q, d in zip(body["text_1"], body["text_2"], strict=True)]
                data = [{"index": i, "object": "score", "score": s} for i, s in enumerate(scores)]
                return self.reply(200, {"id": "score-1", "object": "list", "model": body["model"], "data": data})
            if self.path == "/v1/rerank":
                scores = judge(body["query"], body["documents"])
                results = [
                    {"index": i, "relevance_score": s, "document": {"text": d}}
                    for i, (s, d) in enumerate(zip(scores, body["documents"], strict=True))
                ]
                results.sort(key=lambda r: -r["relevance_score"])  # vLLM sorts by score
                return self.reply(200, {"id": "rerank-1", "model": body["model"], "results": results})
            self.reply(404, {"error": "not found"})

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


def test_score_endpoint_matches_local_hf(hf, server):
    url, state = server
    remote = load_reranker("tiny-reranker", backend=url, max_length=256, batch_size=2)
    assert isinstance(remote, ServerReranker)
    remote.tokenizer, remote.encoder = hf.tokenizer, hf.encoder  # the tiny tokenizer is not in a hub cache
    assert remote.score_pairs(PAIRS) == pytest.approx(hf.score_pairs(PAIRS), abs=1e-6)
    assert [len(b["text_1"]) for _, b in state["requests"]] == [2, 1]


def test_rerank_endpoint_groups_by_query_and_restores_order(hf, server):
    url, state = server
    remote = ServerReranker(url + "/v1/rerank", model_name="tiny-reranker", max_length=256, tokenizer=hf.tokenizer)
    assert remote.score_pairs(PAIRS) == pytest.approx(hf.score_pairs(PAIRS), abs=1e-6)
    assert [len(b["documents"]) for _, b in state["requests"]] == [2, 1]


def test_default_name_adopts_the_served_model(server):
    url, _ = server
    assert load_reranker(DEFAULT_RERANKER, backend=url + "/").model_name == "tiny-reranker"
    with pytest.raises(ModelError, match="serves tiny-reranker, not 'other/model'"):
        load_reranker("other/model", backend=url)


def test_without_tokenizer_long_documents_are_cut_and_suffix_kept(server):
    url, state = server
    remote = ServerReranker(url, model_name="tiny-reranker", max_length=512)
    remote.score("q", ["word " * 50_000])
    ((_, body),) = state["requests"]
    assert body["text_2"][0].endswith("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert len(body["text_2"][0]) < 512 * 4


def test_server_errors_become_model_errors(server):
    url, state = server
    remote = ServerReranker(url, model_name="tiny-reranker")
    state["fail"] = True
    with pytest.raises(ModelError, match="HTTP 500"):
        remote.score("q", ["d"])
    assert remote.score("q", []) == []


def test_unreachable_server_is_a_model_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelError, match="cannot reach"):
        load_reranker("tiny", backend=f"http://127.0.0.1:{port}")
