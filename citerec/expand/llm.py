"""Rewriting a passage into a search query with any OpenAI-compatible chat endpoint (vLLM, llama.cpp, …).

A vague passage ("this was later improved [cite]") shares few words with the
paper it cites; a language model can name the topic, the method and likely
title words. The rewrite is appended to the passage (query2doc, Wang et al.,
2023), so the passage's own words still count. Only the standard library is
used: one POST per passage to `{url}/v1/chat/completions`.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from citerec.errors import CiterecError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
SYSTEM_PROMPT = (
    "You help find the papers a scientific passage should cite. Rewrite the passage as a short search query: "
    "name its topic, the methods, tasks and datasets it refers to, and words the cited papers' titles likely "
    "use. Answer with the query alone, one line, no explanation."
)


class ExpansionError(CiterecError):
    """The rewriting endpoint cannot be reached or gave no usable answer."""


@dataclass(frozen=True)
class ChatRewriter:
    """Rewrites passages through `url` (the server root, or its full /v1/chat/completions address)."""

    url: str
    model: str
    timeout: float = DEFAULT_TIMEOUT
    max_tokens: int = 96
    api_key: str | None = None

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"

    def rewrite(self, passage: str) -> str:
        """The model's query for `passage` (one line); ExpansionError when the endpoint fails."""
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": passage}],
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.endpoint, json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (user's URL)
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            raise ExpansionError(f"--expand-url {self.endpoint}: HTTP {exc.code} {detail}".strip()) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ExpansionError(f"--expand-url {self.endpoint}: cannot reach it ({reason})") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ExpansionError(f"--expand-url {self.endpoint}: the answer is not JSON") from exc
        try:
            text = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ExpansionError(f"--expand-url {self.endpoint}: no choices[0].message.content in the answer") from exc
        return _one_line(text or "")

    def rewrite_many(self, passages: Sequence[str]) -> list[str]:
        """Rewrites of several passages, each asked once (repeats share the answer)."""
        answers: dict[str, str] = {}
        for passage in passages:
            if passage not in answers:
                answers[passage] = self.rewrite(passage)
                log.debug("expanded %r -> %r", passage[:60], answers[passage])
        return [answers[p] for p in passages]


def _one_line(text: str) -> str:
    """The answer without a reasoning block or quotes, as one line."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    return " ".join(text.split()).strip("\"'")
