"""Noticing .bib files change on disk, debounced, whether or not the editor reports it.

Editors that support `workspace/didChangeWatchedFiles` tell the server (`touched`);
others do not, so the watched files' size and mtime are also polled. Either way
a burst of writes (a reference manager saving a file in pieces) becomes one
re-import once the files have been quiet for `debounce` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class BibWatcher:
    """Calls `on_change(paths)` from its own thread when watched files changed and then stayed quiet."""

    def __init__(self, on_change: Callable[[list[Path]], None], *, poll: float = 2.0, debounce: float = 0.5) -> None:
        self.on_change = on_change
        self.poll = poll
        self.debounce = debounce
        self._stamps: dict[Path, tuple[int, int] | None] = {}
        self._pending: dict[Path, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="citerec-lsp-watch", daemon=True)

    def watch(self, paths: Iterable[Path]) -> None:
        """Start watching `paths` as they are now (what the library already holds)."""
        with self._lock:
            for path in paths:
                self._stamps.setdefault(Path(path), _stamp(Path(path)))
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def touched(self, paths: Iterable[Path]) -> None:
        """The editor says these files changed (or were created): re-import them once they are quiet."""
        now = time.monotonic()
        with self._lock:
            for path in paths:
                self._pending[Path(path)] = now
                self._stamps[Path(path)] = _stamp(Path(path))
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _scan(self, now: float) -> None:
        with self._lock:
            watched = list(self._stamps.items())
        for path, old in watched:
            new = _stamp(path)
            if new != old:
                with self._lock:
                    self._stamps[path] = new
                    self._pending[path] = now

    def _run(self) -> None:
        last_poll = 0.0
        tick = min(self.poll, self.debounce) / 2 if self.poll > 0 else self.debounce / 2
        while not self._stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            now = time.monotonic()
            if self.poll > 0 and now - last_poll >= self.poll:
                self._scan(now)
                last_poll = now
            with self._lock:
                due = bool(self._pending) and now - max(self._pending.values()) >= self.debounce
                paths = sorted(self._pending) if due else []
                if due:
                    self._pending.clear()
            if paths:
                try:
                    self.on_change(paths)
                except Exception:  # noqa: BLE001 - a failed re-import must not stop watching
                    log.exception("re-importing %s failed", ", ".join(map(str, paths)))
