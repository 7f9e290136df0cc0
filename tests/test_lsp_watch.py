"""The language server's .bib watcher: changes on disk or reported by the editor, debounced into one call."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from citerec.lsp.watch import BibWatcher


class Calls:
    def __init__(self) -> None:
        self.batches: list[list[Path]] = []
        self.event = threading.Event()

    def __call__(self, paths: list[Path]) -> None:
        self.batches.append(paths)
        self.event.set()


def test_a_burst_of_writes_is_one_reimport_once_quiet(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text("@misc{a, title={A}}\n")
    calls = Calls()
    watcher = BibWatcher(calls, poll=0.05, debounce=0.4)
    watcher.watch([bib])
    try:
        time.sleep(0.2)
        assert calls.batches == []  # nothing changed yet
        for n in range(5):  # a reference manager saving in pieces
            with bib.open("a") as handle:
                handle.write(f"@misc{{k{n}, title={{T{n}}}}}\n")
            time.sleep(0.02)
        assert calls.event.wait(10)
        time.sleep(0.6)
        assert calls.batches == [[bib]]
    finally:
        watcher.stop()


def test_files_reported_by_the_editor_are_reimported_without_polling(tmp_path: Path) -> None:
    new = tmp_path / "new.bib"
    new.write_text("@misc{b, title={B}}\n")
    calls = Calls()
    watcher = BibWatcher(calls, poll=0, debounce=0.1)
    watcher.watch([])
    try:
        watcher.touched([new])
        assert calls.event.wait(10)
        assert calls.batches == [[new]]
    finally:
        watcher.stop()


def test_a_failing_reimport_does_not_stop_the_watcher(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text("x")
    seen: list[list[Path]] = []
    done = threading.Event()

    def flaky(paths: list[Path]) -> None:
        seen.append(paths)
        if len(seen) == 1:
            raise RuntimeError("disk full")
        done.set()

    watcher = BibWatcher(flaky, poll=0.05, debounce=0.05)
    watcher.watch([bib])
    try:
        watcher.touched([bib])
        time.sleep(0.3)
        bib.write_text("xy")
        assert done.wait(10)
        assert len(seen) == 2
    finally:
        watcher.stop()
