"""Library: dedup across sources, merge, remove, and atomic saves that survive a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from citerec.errors import LibraryError
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


def test_full_disk_during_an_import_changes_nothing(tmp_path):
    library = Library(tmp_path)
    import_bibtex(library, REFS)
    before = [p.to_dict() for p in library.papers()]
    conn = library._connection(create=True)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite answers SQLITE_FULL as a full disk does
    big = [Paper(key=f"k{i}", title=f"Paper number {i} about things", abstract="x" * 2000) for i in range(200)]
    with pytest.raises(
        LibraryError, match=r"library\.sqlite: could not write \(database or disk is full\); the library is unchanged"
    ):
        library.add(big)
    assert [p.to_dict() for p in Library(tmp_path).papers()] == before


_SLOW_IMPORT = """
import sys
from citerec.errors import LibraryError
from citerec.library import Library
from citerec.papers import Paper
lib = Library(sys.argv[1])
def papers():
    for i in range(20000):
        if i == 500:
            print("writing", flush=True)
            sys.stdin.readline()  # wait to be killed, mid-transaction
        yield Paper(key=f"k{i}", title=f"Paper number {i} about things")
lib.add(papers())
"""


def test_killed_import_leaves_library_loadable_and_unchanged(tmp_path):
    library = Library(tmp_path)
    import_bibtex(library, REFS)
    before = [p.to_dict() for p in library.papers()]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_IMPORT, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "writing"  # 500 papers written, not committed
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    reopened = Library(tmp_path)
    assert [p.to_dict() for p in reopened.papers()] == before
    report = reopened.add([Paper(key="after", title="Written after the crash")])  # the lock was released
    assert report.added == ("after",)


_IMPORT_ONE = """
import sys
from citerec.ingest import import_bibtex
from citerec.errors import LibraryError
from citerec.library import Library
sys.stdin.readline()  # start together
import_bibtex(Library(sys.argv[1]), sys.argv[2])
"""


def _bib(path: Path, prefix: str, count: int) -> Path:
    entries = [
        f"@article{{{prefix}{i},\n  title = {{{prefix.title()} study number {i} of concurrent imports}},\n"
        f"  author = {{Writer, {prefix.title()}}},\n  year = {{2020}}\n}}\n"
        for i in range(count)
    ]
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def test_concurrent_imports_from_several_processes_lose_nothing(tmp_path):
    """The reported bug: two imports at once left 52 or 55 of 108 entries. Now each waits its turn."""
    library_dir = tmp_path / "lib"
    counts = {"alpha": 55, "beta": 53, "gamma": 40, "delta": 47}
    bibs = {name: _bib(tmp_path / f"{name}.bib", name, n) for name, n in counts.items()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _IMPORT_ONE, str(library_dir), str(bib)],
            stdin=subprocess.PIPE,
            cwd=REPO,
            text=True,
        )
        for bib in bibs.values()
    ]
    time.sleep(1.0)  # let every process start and import citerec
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        proc.stdin.close()
        assert proc.wait(timeout=120) == 0
    keys = set(Library(library_dir).keys())
    assert len(keys) == sum(counts.values())
    assert {f"{name}{i}" for name, n in counts.items() for i in range(n)} == keys


def test_old_papers_jsonl_is_migrated_once(tmp_path):
    papers = [
        Paper(key="b2", title="Second paper title here", doi="10.1000/b"),
        Paper(key="a1", title="First paper title"),
    ]
    (tmp_path / "papers.jsonl").write_text("".join(json.dumps(p.to_dict()) + "\n" for p in papers), encoding="utf-8")
    library = Library(tmp_path)
    assert library.keys() == ["b2", "a1"]  # order kept
    assert library.get("B2") == papers[0]
    assert not (tmp_path / "papers.jsonl").exists() and (tmp_path / "papers.jsonl.migrated").exists()
    assert library.add([Paper(key="other", title="Another", doi="https://doi.org/10.1000/B")]).duplicates == (
        ("other", "b2"),
    )
    assert Library(tmp_path).keys() == ["b2", "a1"]


def test_corrupt_old_papers_jsonl_is_reported_and_kept(tmp_path):
    (tmp_path / "papers.jsonl").write_text('{"key": "a", "title": "T"}\n{not json\n', encoding="utf-8")
    with pytest.raises(LibraryError, match=r"papers\.jsonl:2: corrupt library entry"):
        Library(tmp_path)
    assert (tmp_path / "papers.jsonl").exists() and not (tmp_path / "library.sqlite").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["papers.jsonl"] or ".migrate.lock" in {
        p.name for p in tmp_path.iterdir()
    }


def test_a_file_that_is_not_a_library_is_a_clear_error(tmp_path):
    (tmp_path / "library.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LibraryError, match=r"library\.sqlite: not a usable citerec library"):
        len(Library(tmp_path))


def test_unchanged_files_are_skipped_and_problems_still_reported(tmp_path):
    library = Library(tmp_path / "lib")
    bib = tmp_path / "refs.bib"
    bib.write_text(REFS.read_text(encoding="utf-8") + "\n@article{broken,\n title = {never closed\n", encoding="utf-8")
    first, _ = import_bibtex(library, bib)
    assert not first.unchanged and first.papers and first.problems
    again, report = import_bibtex(library, bib)
    assert again.unchanged and again.papers == () and not report.changed
    assert [str(p) for p in again.problems] == [str(p) for p in first.problems]
    bib.write_text(bib.read_text(encoding="utf-8") + "\n@misc{new1, title = {A new entry}}\n", encoding="utf-8")
    edited, report = import_bibtex(library, bib)
    assert not edited.unchanged and report.added == ("new1",)
    library.remove(["new1"])  # a removal makes every file count as new again
    assert import_bibtex(library, bib)[1].added == ("new1",)


def test_a_changed_string_in_an_earlier_file_rereads_the_later_one(tmp_path):
    strings = tmp_path / "strings.bib"
    refs = tmp_path / "refs.bib"
    strings.write_text('@string{tacl = "Transactions of the ACL"}\n')
    refs.write_text("@article{k, title = {Some Title}, journal = tacl}\n")
    library = Library(tmp_path / "lib")
    import_bibtex_files(library, [strings, refs])
    assert [r.unchanged for r, _ in import_bibtex_files(library, [strings, refs])] == [True, True]
    strings.write_text('@string{tacl = "Trans. ACL"}\n')
    results = import_bibtex_files(library, [strings, refs])
    assert [r.unchanged for r, _ in results] == [False, False]
    assert library.get("k").venue == "Trans. ACL"


def test_many_files_are_parsed_by_workers_with_strings_carried(tmp_path, monkeypatch):
    import citerec.ingest.files as files

    monkeypatch.setattr(files, "PARALLEL_MIN_BYTES", 0)
    paths = [tmp_path / "strings.bib"]
    paths[0].write_text('@string{jx = "Journal of X"}\n@article{s0, title = {Defining file entry}, journal = jx}\n')
    for n in range(1, 6):
        path = tmp_path / f"part{n}.bib"
        path.write_text(f"@article{{p{n}, title = {{Part {n} of a long series}}, journal = jx}}\n")
        paths.append(path)
    library = Library(tmp_path / "lib")
    results = import_bibtex_files(library, paths, jobs=2)
    assert [len(r.papers) for r, _ in results] == [1, 1, 1, 1, 1, 1]
    assert all(not r.problems for r, _ in results)  # jx came from the first file, even in a worker
    assert {p.venue for p in library.papers()} == {"Journal of X"}
    assert library.keys() == ["s0", "p1", "p2", "p3", "p4", "p5"]


def test_imports_killed_at_random_points_leave_all_or_nothing(tmp_path):
    """SIGKILL during `citerec library import` (start-up, parsing, writing, committing), many times."""
    import random

    library_dir = tmp_path / "lib"
    import_bibtex(Library(library_dir), REFS)
    before = len(Library(library_dir))
    big = _bib(tmp_path / "big.bib", "kill", 3000)
    command = [sys.executable, "-c", "from citerec.cli import main; main()", "library", "import", str(big)]
    started = time.monotonic()
    subprocess.run([*command, "-L", str(tmp_path / "timing")], cwd=REPO, capture_output=True, check=True)
    duration = time.monotonic() - started  # kills are spread over a whole run
    rng = random.Random(12)
    sizes = []
    for _ in range(12):
        proc = subprocess.Popen(
            [*command, "-L", str(library_dir)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.05, 1.1) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        library = Library(library_dir)  # opens and reads: never corrupt
        sizes.append(len(library))
        assert sizes[-1] in (before, before + 3000)
        if sizes[-1] != before:  # it finished before the kill: take it out, try again
            library.remove([f"kill{i}" for i in range(3000)])
        library.close()
    assert sizes.count(before) >= 3 and len(Library(library_dir)) == before
    final = subprocess.run([*command, "-L", str(library_dir)], cwd=REPO, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert len(Library(library_dir)) == before + 3000
