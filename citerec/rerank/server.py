"""Client for a running vLLM server (`vllm serve ... --runner pooling`): `/score` or `/v1/rerank`.

The server holds the model; this side only formats and truncates the prompts
exactly as the local backends do (with the model's tokenizer when it is in the
local cache, else by a conservative character budget) and posts them.
Uses the standard library's urllib, so it needs no extra dependency.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence

from citerec.errors import ModelError
from citerec.progress import ProgressCallback
from citerec.rerank.base import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_RERANKER,
    PREFIX,
    SUFFIX,
    BaseReranker,
    PromptEncoder,
    document_segment,
    group_by_query,
    query_segment,
    score_api_texts,
)

logger = logging.getLogger(__name__)

# Without a tokenizer, cut documents at this many characters per token of budget (English runs ~4).
CHARS_PER_TOKEN = 3


class ServerReranker(BaseReranker):
    """Posts (query side, document side) texts to a vLLM server and reads back P(yes)."""

    def __init__(
        self,
        url: str,
        *,
        model_name: str,
        batch_size: int | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        tokenizer=None,
        timeout: float = 600.0,
    ) -> None:
        url = url.rstrip("/")
        self.rerank_api = url.endswith("/rerank")
        self.endpoint = url if self.rerank_api or url.endswith("/score") else f"{url}/score"
        self.model_name = model_name
        self.max_length = max_length
        self.batch_size = batch_size or 256
        self.timeout = timeout
        self.tokenizer = tokenizer
        self.encoder = PromptEncoder.for_tokenizer(tokenizer, max_length) if tokenizer is not None else None

    def _score_pairs(
        self, pairs: Sequence[tuple[str, str]], instruction: str, progress: ProgressCallback
    ) -> list[float]:
        texts = self._texts(pairs, instruction)
        scores: list[float] = [0.0] * len(texts)
        done = 0
        progress("rerank", 0, len(texts))
        for chunk in self._chunks(pairs, texts):
            for i, value in zip(chunk, self._post_chunk([texts[i] for i in chunk]), strict=True):
                scores[i] = value
            done += len(chunk)
            progress("rerank", done, len(texts))
        return scores

    def _texts(self, pairs: Sequence[tuple[str, str]], instruction: str) -> list[tuple[str, str]]:
        if self.encoder is not None:
            decode = lambda ids: self.tokenizer.decode(list(ids), skip_special_tokens=False)  # noqa: E731
            return score_api_texts(self.encoder, pairs, instruction, decode)
        chars = max(1, self.max_length - 200) * CHARS_PER_TOKEN
        out = []
        for query, doc in pairs:
            q = query_segment(query[: chars // 2], instruction)
            out.append((PREFIX + q, document_segment(doc[: max(0, chars - len(q))]) + SUFFIX))
        return out

    def _chunks(self, pairs: Sequence[tuple[str, str]], texts) -> list[list[int]]:
        """Index chunks: any pairs for /score; one query per request for /rerank."""
        groups = list(group_by_query(pairs).values()) if self.rerank_api else [list(range(len(texts)))]
        return [g[i : i + self.batch_size] for g in groups for i in range(0, len(g), self.batch_size)]

    def _post_chunk(self, texts: list[tuple[str, str]]) -> list[float]:
        if self.rerank_api:
            body = {"model": self.model_name, "query": texts[0][0], "documents": [d for _, d in texts]}
            reply = post_json(self.endpoint, body, self.timeout)
            by_index = {int(r["index"]): float(r["relevance_score"]) for r in reply.get("results", [])}
        else:
            body = {"model": self.model_name, "text_1": [q for q, _ in texts], "text_2": [d for _, d in texts]}
            reply = post_json(self.endpoint, body, self.timeout)
            by_index = {int(r["index"]): float(r["score"]) for r in reply.get("data", [])}
        if sorted(by_index) != list(range(len(texts))):
            raise ModelError(f"{self.endpoint} answered {len(by_index)} scores for {len(texts)} pairs")
        return [by_index[i] for i in range(len(texts))]


def post_json(url: str, body: dict | None, timeout: float) -> dict:
    """POST (or GET when `body` is None) JSON; server and network failures become ModelError."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise ModelError(f"reranker server {url} answered HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ModelError(f"cannot reach the reranker server at {url}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"reranker server {url} did not answer JSON") from exc


def served_models(base_url: str, timeout: float = 10.0) -> list[str]:
    """Model ids a vLLM server serves (its OpenAI-style /v1/models)."""
    root = base_url.rstrip("/")
    for tail in ("/v1/rerank", "/rerank", "/score"):
        if root.endswith(tail):
            root = root[: -len(tail)]
            break
    reply = post_json(f"{root}/v1/models", None, timeout)
    return [str(m["id"]) for m in reply.get("data", [])]


def _local_tokenizer(name: str):
    """The model's tokenizer if it is on this machine (exact truncation), else None."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except Exception:  # not cached, or transformers missing: fall back to character budgets
        return None


def load_server_reranker(
    name: str,
    *,
    url: str,
    device: str | None = None,
    batch_size: int | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> ServerReranker:
    """Check the server is up and serves `name` (the default name adopts the one model served)."""
    models = served_models(url)
    if name not in models:
        if name == DEFAULT_RERANKER and len(models) == 1:
            name = models[0]
        else:
            raise ModelError(f"the server at {url} serves {', '.join(models) or 'no model'}, not {name!r}")
    tokenizer = _local_tokenizer(name)
    if tokenizer is None:
        logger.info("no local tokenizer for %s: truncating documents by characters", name)
    return ServerReranker(url, model_name=name, batch_size=batch_size, max_length=max_length, tokenizer=tokenizer)
