"""JSON over HTTP for the online sources: a contact address, timeouts, retries with backoff, a rate limit.

Metadata services ask for a contact address (OpenAlex and Crossref's polite
pools: `mailto`), answer 429 when asked too fast and 5xx when busy; a request
is retried with exponential backoff (or the server's `Retry-After`), and
requests to one service are spaced by its rate limit. The transport, the clock
and `sleep` are injectable, so tests replay recorded answers without a network
and without waiting. httpx is imported when a client is made.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from citerec.errors import CiterecError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


class SourceError(CiterecError):
    """An online source could not answer (HTTP error, timeout, malformed answer) after its retries."""


@dataclass(frozen=True)
class HttpSettings:
    """How politely to ask a service: who asks, how long to wait, how often to retry, how fast to go."""

    mailto: str = ""
    timeout_s: float = 20.0
    retries: int = 3
    backoff_s: float = 1.0
    min_interval_s: float = 0.0  # between two requests to one service

    def spaced(self, interval_s: float) -> HttpSettings:
        """These settings, with requests at least `interval_s` apart (a service's own rate limit)."""
        return replace(self, min_interval_s=max(self.min_interval_s, interval_s))


def user_agent(settings: HttpSettings) -> str:
    """How citerec names itself to a service: its version and the user's contact address when given (the polite
    pools of OpenAlex and Crossref, and arXiv's API terms, ask for one)."""
    from citerec import __version__

    return f"citerec/{__version__}" + (f" (mailto:{settings.mailto})" if settings.mailto else "")


class JsonClient:
    """GET requests to one service, answered as parsed JSON (None for 404)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        settings: HttpSettings,
        *,
        transport: Any = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import httpx

        self.name = name
        self.settings = settings
        self._client = httpx.Client(
            base_url=base_url,
            timeout=settings.timeout_s,
            transport=transport,
            headers={"User-Agent": user_agent(settings), **(headers or {})},
            follow_redirects=True,
        )
        self._sleep = sleep or time.sleep
        self._clock = clock
        self._last: float | None = None

    def close(self) -> None:
        self._client.close()

    def _wait_turn(self) -> None:
        if self._last is not None and self.settings.min_interval_s > 0:
            wait = self._last + self.settings.min_interval_s - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last = self._clock()

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, missing: tuple[int, ...] = (404,)) -> Any:
        """The JSON answer to GET `path`; None when the status is in `missing` (the service knows no such work)."""
        import httpx

        problem, retry_after = "", ""
        for attempt in range(self.settings.retries + 1):
            if attempt:
                delay = self._delay(attempt, retry_after)
                log.info("%s: %s; retrying in %.1fs", self.name, problem, delay)
                self._sleep(delay)
            self._wait_turn()
            retry_after = ""
            try:
                response = self._client.get(path, params=dict(params or {}))
            except httpx.TimeoutException:
                problem = f"timed out after {self.settings.timeout_s:g}s"
                continue
            except httpx.TransportError as exc:
                problem = f"cannot connect ({exc})"
                continue
            if response.status_code in missing:
                return None
            if response.status_code in RETRY_STATUS:
                problem = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After", "")
                continue
            if response.status_code >= 400:
                raise SourceError(f"{self.name}: HTTP {response.status_code} for {response.request.url}")
            try:
                return json.loads(response.content)
            except ValueError as exc:
                raise SourceError(f"{self.name}: malformed answer for {response.request.url} ({exc})") from exc
        raise SourceError(f"{self.name}: {problem} ({self.settings.retries + 1} tries)")

    def _delay(self, attempt: int, retry_after: str) -> float:
        """The server's Retry-After (seconds) after a 429/503, else exponential backoff."""
        if retry_after.strip().isdigit():
            return min(float(retry_after), MAX_RETRY_AFTER_S)
        return self.settings.backoff_s * 2 ** (attempt - 1)


def text(value: Any) -> str:
    """A string field of an answer, whitespace collapsed; '' for anything else (a partial answer)."""
    return " ".join(value.split()) if isinstance(value, str) else ""


def year_of(value: Any) -> int | None:
    return value if isinstance(value, int) and 1500 <= value <= 2100 else None
