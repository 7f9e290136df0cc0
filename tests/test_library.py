"""Library: dedup across sources, merge, remove, and atomic saves that survive a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from citerec.ingest import add_papers_with_keys, import_bibtex, import_bibtex_files
from citerec.library import Library
from citerec.papers import Paper

REPO = Path(__file__).parents[1]
REFS = REPO / "data" / "examples" / "refs.bib"


def test_dedup_by_doi_arxiv_and_title_and_merge(tmp_path):
    library = Library(tmp_path / "lib")
    _, report = import_bibtex(library, REFS)
    assert len(report.added) == len(library) >= 30
    incoming = [
        Paper(key="arxiv:1706.03762", title="Attention is all you need!", arxiv_id="1706.03762", doi="10.1/new"),
        Paper(key="other", title="Different title", doi="https://doi.org/10.1109/CVPR.2016.90"),
        Paper(key="t", title="Long Short-Term Memory", abstract="x", venue="v", authors=("S. H.",), url="http://lstm"),
    ]
    report = add_papers_with_keys(library, incoming)
    assert {existing for _, existing in report.duplicates} == {
        "vaswani2017attention",
        "he2016deep",
        "hochreiter1997long",
    }
    assert report.added == () and len(Library(tmp_path / "lib")) == len(library)
    reloaded = Library(tmp_path / "lib")
    assert reloaded.get("vaswani2017attention").doi == "10.1/new"  # missing field merged in
    assert reloaded.get("vaswani2017attention").title == "Attention Is All You Need"  # existing kept
    assert reloaded.get("hochreiter1997long").url == "http://lstm"
    assert reloaded.get("hochreiter1997long").abstract.startswith("Introduces the LSTM")


def test_new_arxiv_papers_get_unique_scholar_keys(tmp_path):
    library = Library(tmp_path)
    papers = [
        Paper(key=f"arxiv:{i}", title=f"Attention {w} paper", authors=("Ashish Vaswani",), year=2017, arxiv_id=i)
        for i, w in (("1111.00001", "one"), ("1111.00002", "two"))
    ]
    papers.append(Paper(key="arxiv:1111.00003", title="Attention two paper", authors=("A Vaswani",), year=2017))
    report = add_papers_with_keys(library, papers)
    assert report.added == ("vaswani2017attention", "vaswani2017attentiona")
    assert report.duplicates == (("vaswani2017attentionb", "vaswani2017attentiona"),)


def test_remove_and_case_insensitive_get(tmp_path):
    library = Library(tmp_path)
    import_bibtex(library, REFS)
    assert library.get("DEVLIN2019BERT") is not None
    assert library.remove(["Devlin2019BERT", "nope"]) == ["devlin2019bert"]
    assert "devlin2019bert" not in Library(tmp_path)


def test_strings_from_an_earlier_file(tmp_path):
    (tmp_path / "strings.bib").write_text('@string{tacl = "Transactions of the ACL"}\n')
    (tmp_path / "refs.bib").write_text("@article{k, title = {Some Title}, journal = tacl}\n")
    library = Library(tmp_path / "lib")
    results = import_bibtex_files(library, [tmp_path / "strings.bib", tmp_path / "refs.bib"])
    assert [len(r.papers) for r, _ in results] == [0, 1] and not results[1][0].problems
    assert Library(tmp_path / "lib").get("k").venue == "Transactions of the ACL"


def test_failed_write_leaves_previous_file(tmp_path, monkeypatch):
    library = Library(tmp_path)
    import_bibtex(library, REFS)
    before = library.papers_path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        library.add([Paper(key="new", title="A brand new paper title")])
    monkeypatch.undo()
    assert library.papers_path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert len(Library(tmp_path)) == len(before.splitlines())


_SLOW_IMPORT = """
import sys, time
from citerec.library import Library
from citerec.papers import Paper
import citerec.storage as storage
lib = Library(sys.argv[1])
real = storage.os.fsync
def slow_fsync(fd):
    print("writing", flush=True)
    time.sleep(30)
storage.os.fsync = slow_fsync
lib.add([Paper(key=f"k{i}", title=f"Paper number {i} about things") for i in range(20000)])
"""


def test_killed_import_leaves_library_loadable_and_unchanged(tmp_path):
    library = Library(tmp_path)
    import_bibtex(library, REFS)
    before = library.papers_path.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_IMPORT, str(tmp_path)], stdout=subprocess.PIPE, cwd=REPO, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "writing"  # the new file is written, not yet renamed
        time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert library.papers_path.read_bytes() == before
    assert len(Library(tmp_path)) == len(before.splitlines())
