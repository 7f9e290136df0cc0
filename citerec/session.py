"""A library kept in step: library, index and suggester, brought up to date when any process changes the library.

Long-running users (the HTTP service, the language server) answer many requests
from one loaded index while other processes may import papers. Each request
asks `check()`: one SQLite look-up; when the library changed, the index is
updated in the background (one update at a time) and requests keep being
answered from the current index until the new one replaces it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.library import Library
    from citerec.suggest import Suggester

log = logging.getLogger(__name__)

Submit = Callable[[Callable[[], bool]], "Future[bool]"]


def on_own_thread(work: Callable[[], bool]) -> Future[bool]:
    """Run `work` on a new daemon thread; its result (or error) in a future."""
    future: Future[bool] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the future's reader
            future.set_exception(exc)

    threading.Thread(target=run, name="citerec-index-refresh", daemon=True).start()
    return future


class LibrarySession:
    """A suggester whose index follows its library; `submit` says where updates run (default: a thread)."""

    def __init__(self, suggester: Suggester, *, submit: Submit = on_own_thread) -> None:
        self.suggester = suggester
        self._submit = submit
        self._updating: Future[bool] | None = None
        self._lock = threading.Lock()

    @property
    def library(self) -> Library:
        return self.suggester.library

    @property
    def index(self) -> Index:
        return self.suggester.index

    @property
    def refreshing(self) -> bool:
        """Whether an index update is running now."""
        return self._updating is not None and not self._updating.done()

    def check(self) -> None:
        """When the library changed since the index was built (any process), update it in the background."""
        with self._lock:
            if self.refreshing or not self.suggester.stale:
                return
            self._updating = self._submit(self.refresh)

    def refresh(self) -> bool:
        """Update the index now, in this thread; True when it changed. A failure is logged: the old index
        keeps answering and a later check tries again."""
        try:
            return self.suggester.refresh()
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("updating the index of %s failed", self.library.root)
            return False
