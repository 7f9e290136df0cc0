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


def _entry(key: str, title: str) -> str:
    fields = f"title = {{{title}}}, author = {{Doe, Jane}}, year = {{2020}}, abstract = {{{title}.}}"
    return f"@article{{{key}, {fields}}}\n"


def _two_bibs(folder: Path) -> tuple[Path, Path]:
    first, second = folder / "first.bib", folder / "second.bib"
    shared = _entry("shared2020", "Dense retrieval for citation recommendation")
    first.write_text(_entry("kept2020", "Sparse retrieval with BM25") + _entry("gone2020", "Graph networks") + shared)
    second.write_text(shared + _entry("other2020", "Reranking with language models"))
    return first, second


def test_entries_deleted_from_a_watched_bib_leave_the_library(tmp_path: Path, monkeypatch) -> None:
    """The workspace's own library mirrors the watched files: an entry deleted from one (and held by no other)
    goes too."""
    from citerec.lsp.editor import EditorSession
    from citerec.lsp.settings import EditorSettings

    monkeypatch.delenv("CITEREC_LIBRARY_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # the default library: .citerec/ in the workspace folder
    first, second = _two_bibs(tmp_path)
    engine = EditorSession(EditorSettings(bib=(first, second), workspace_bibs=False))
    engine.start([tmp_path]).result(timeout=300)
    assert engine.library is not None and engine.library.root == tmp_path / ".citerec"
    assert engine.missing(["kept2020", "gone2020", "shared2020", "other2020"]) == set()

    first.write_text(_entry("kept2020", "Sparse retrieval with BM25"))  # gone2020 and shared2020 deleted
    summary = engine.reimport([first]).result(timeout=300)
    assert summary.removed == 1 and summary.refreshed
    assert engine.missing(["kept2020", "gone2020", "shared2020", "other2020"]) == {"gone2020"}  # second holds shared
    from citerec.recall import recall_text

    assert "gone2020" not in {c.key for c in recall_text(engine.suggester.index, "graph networks", k=10)}

    second.unlink()  # a watched file deleted from disk: its entries go unless another file holds them
    summary = engine.reimport([second]).result(timeout=300)
    assert summary.removed == 2
    assert engine.missing(["kept2020", "shared2020", "other2020"]) == {"shared2020", "other2020"}
    assert second.resolve() not in engine.bibs


def test_a_library_named_explicitly_is_never_pruned(tmp_path: Path) -> None:
    """--library-dir may name a library shared with other sources: deletions in a .bib leave it as it is."""
    from citerec.lsp.editor import EditorSession
    from citerec.lsp.settings import EditorSettings

    first, second = _two_bibs(tmp_path)
    engine = EditorSession(EditorSettings(library_dir=tmp_path / "shared", bib=(first, second), workspace_bibs=False))
    engine.start([]).result(timeout=300)
    first.write_text(_entry("kept2020", "Sparse retrieval with BM25"))
    summary = engine.reimport([first]).result(timeout=300)
    assert summary.removed == 0 and engine.missing(["gone2020", "shared2020"]) == set()
