"""Completions go first: background work (plan fits, a project's citations, checks) waits for a quiet moment.

Keystrokes come in bursts, and background work can come a moment later where a
completion cannot: each step of such work calls `after_rankings`, which waits
until no completion has been ranked for `QUIET` seconds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

QUIET = 0.3  # seconds without a completion before background work goes on


class CompletionsFirst:
    """The bookkeeping of completions in flight, which background work waits on."""

    def __init__(self) -> None:
        self._ranking = 0  # rankings in progress: background work waits for them
        self._last_ranked = 0.0  # time.monotonic() when the last one ended
        self._idle = threading.Condition(threading.Lock())

    @contextlib.contextmanager
    def ranking(self) -> Iterator[None]:
        """Around a completion's ranking: background work waits while it runs, and for QUIET after."""
        with self._idle:
            self._ranking += 1
        try:
            yield
        finally:
            with self._idle:
                self._ranking -= 1
                self._last_ranked = time.monotonic()
                self._idle.notify_all()

    def after_rankings(self) -> None:
        """Wait until no completion has been ranked for QUIET seconds."""
        with self._idle:
            while True:
                quiet_for = time.monotonic() - self._last_ranked
                if not self._ranking and quiet_for >= QUIET:
                    return
                self._idle.wait(timeout=QUIET if self._ranking else QUIET - quiet_for)
