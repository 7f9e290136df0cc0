"""Faults: damaged index, manifest and cache files; processes killed (SIGKILL) at random points.

A damaged file is detected and rebuilt (the index, the caches) or reported in
one line; a killed index build, rerank-cache write or `suggest --format tex
--in-place` leaves the previous state usable. Kill points are spread over the
measured duration of the operation (10%..95% of it), several per test.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # garbage of the same size
        path.write_bytes(random.Random(len(data)).randbytes(max(len(data), 64)))


def _suggest(library_dir: Path, draft: Path, *extra: str):
    args = ["suggest", str(draft), "-L", str(library_dir), "--format", "json", "--top", "2", *extra]
    return runner.invoke(app, args)


def _assert_answered(result) -> dict:
    """The run answered (exit 0, JSON on stdout) and raised nothing."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["contexts"] and any(c["suggestions"] for c in data["contexts"])
    return data


def _target(library_dir: Path, name: str) -> Path:
    index = library_dir / "index"
    if name == "manifest":
        return index / "manifest.json"
    if name == "recall-cache":
        _checkpoint(library_dir / "recall-cache.sqlite")
        return library_dir / "recall-cache.sqlite"
    (generation,) = [p for p in index.iterdir() if p.is_dir()]
    return generation / name


def _checkpoint(path: Path) -> None:
    """Fold a SQLite file's WAL into it, so that damaging the file damages its content."""
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("manifest", "truncated"),
        ("manifest", "garbage"),
        ("vectors.npy", "truncated"),
        ("bm25_vocab.json", "truncated"),
        ("bm25_data.npy", "empty"),  # numpy raised EOFError, which the CLI showed as "Aborted."
        ("recall-cache", "garbage"),
    ],
)
def test_a_damaged_index_file_is_rebuilt(example_library_dir: Path, examples_dir: Path, name: str, how: str) -> None:
    draft = examples_dir / "draft.tex"
    before = _assert_answered(_suggest(example_library_dir, draft, "--rerank", "off"))
    _damage(_target(example_library_dir, name), how)
    if name not in ("manifest", "recall-cache"):  # the recall cache would answer without reading the index
        for cache in example_library_dir.glob("recall-cache.sqlite*"):
            cache.unlink()
    after = _assert_answered(_suggest(example_library_dir, draft, "--rerank", "off"))
    assert [c["suggestions"][:1] for c in after["contexts"]] == [c["suggestions"][:1] for c in before["contexts"]]
    again = _assert_answered(_suggest(example_library_dir, draft, "--rerank", "off"))  # and it stays repaired
    assert again["contexts"] == after["contexts"]
    if name == "recall-cache" and how == "garbage":
        assert list(example_library_dir.glob("recall-cache.sqlite.damaged-*"))  # set aside, a new one in use


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_rerank_cache_is_set_aside(example_library_dir, examples_dir, tiny_reranker_dir, how) -> None:
    draft = examples_dir / "draft.tex"
    args = ("--rerank", "on", "--reranker", str(tiny_reranker_dir), "--recall-k", "4")
    before = _assert_answered(_suggest(example_library_dir, draft, *args))
    cache = example_library_dir / "rerank-cache.sqlite"
    _checkpoint(cache)
    _damage(cache, how)
    after = _assert_answered(_suggest(example_library_dir, draft, *args))
    assert after["contexts"] == before["contexts"]
    assert list(example_library_dir.glob("rerank-cache.sqlite.damaged-*"))


# -- SIGKILL at random points --------------------------------------------------------------
def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from citerec.cli import main; main()", *args]


def _kill_points(command: list[str], repeats: int, seed: int, runs: int = 1) -> list[float]:
    """Run `command` to time it (the last of `runs`, when caches matter); kill points spread over 10%..95%."""
    for _ in range(runs):
        started = time.monotonic()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=_env())
        assert done.returncode == 0, done.stderr
        duration = time.monotonic() - started
    rng = random.Random(seed)
    return sorted(rng.uniform(0.1, 0.95) * duration for _ in range(repeats))


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run_and_kill(command: list[str], after: float) -> bool:
    """Start `command`, SIGKILL it after `after` seconds; True when it had already finished."""
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    try:
        proc.wait(after)
        return True
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return False


def _worker(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.helpers.fault_worker", *args]


@pytest.fixture
def big_library(tmp_path: Path) -> Path:
    """3,000 papers indexed with the hashing embedder: a build that takes long enough to be cut."""
    from citerec.index import update_index
    from citerec.ingest import import_bibtex
    from citerec.library import Library
    from tests.helpers.fault_worker import HashEmbedder

    bib = tmp_path / "big.bib"
    bib.write_text(
        "".join(
            f"@article{{p{i}, title = {{Paper {i} on topic {i % 97} and method {i % 13}}}, year = {{2020}},\n"
            f"  abstract = {{We study problem {i % 31} with approach {i % 17} and report results {i}.}}}}\n"
            for i in range(3000)
        )
    )
    library = Library(tmp_path / "lib")
    import_bibtex(library, bib)
    update_index(library, embedder=HashEmbedder())
    library.close()
    return tmp_path / "lib"


def test_index_builds_killed_at_random_points_leave_a_usable_index(big_library: Path) -> None:
    from citerec.index import Index
    from citerec.library import Library

    command = _worker("index", str(big_library))
    killed = 0
    generations = set()
    for point in _kill_points(command, repeats=12, seed=3, runs=2):
        killed += not _run_and_kill(command, point)
        library = Library(big_library)
        index = Index.open(library)  # the manifest names a complete generation ...
        from citerec.recall import recall_text

        hits = recall_text(index, "paper on topic 5 and method 3", k=5, method="bm25")
        assert len(hits) == 5 and index.size == len(library) == index.dense.size  # ... whose files all load
        generations.add(index.manifest.generation)
        library.close()
    assert killed >= 6
    # A build that runs to the end after all those kills replaces the index (its leftovers do not block it).
    assert _run_and_kill(command, after=600)
    library = Library(big_library)
    index = Index.open(library)
    assert index.manifest.generation not in generations and index.size == len(library)
    library.close()


def test_rerank_cache_writes_killed_at_random_points_keep_a_valid_cache(tmp_path: Path) -> None:
    import sqlite3

    from citerec.rerank.cache import ScoreCache, pair_key
    from tests.helpers.fault_worker import BATCH, HashJudge, hash_score, rerank_pairs

    rounds = 400
    expected = {
        pair_key(HashJudge.model_name, "judge", q, d): hash_score(q, d)
        for batch in rerank_pairs(rounds)
        for q, d in batch
    }
    cache = tmp_path / "cache.sqlite"
    command = _worker("rerank-cache", str(cache), str(rounds))
    points = _kill_points(_worker("rerank-cache", str(tmp_path / "timing.sqlite"), str(rounds)), repeats=12, seed=5)
    killed, sizes = 0, []
    for point in points:
        for path in tmp_path.glob("cache.sqlite*"):
            path.unlink()
        killed += not _run_and_kill(command, point)
        ScoreCache(cache).close()  # opens whatever the kill left (creating the table if it never was)
        db = sqlite3.connect(cache)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = dict(db.execute("SELECT key, score FROM scores"))
        db.close()
        assert rows.items() <= expected.items()  # never a wrong score
        assert len(rows) % BATCH == 0  # whole batches (transactions) or nothing
        sizes.append(len(rows))
    assert killed >= 6
    assert len(set(sizes)) >= 3  # the kills landed at different points of the writing


def test_in_place_annotation_killed_at_random_points_leaves_each_file_whole(
    example_library_dir: Path, examples_dir: Path, tmp_path: Path
) -> None:
    import shutil

    def fresh_copy(name: str) -> Path:
        folder = tmp_path / name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(examples_dir, folder)
        return folder / "draft.tex"

    def files(main: Path) -> dict[str, str]:
        return {p.relative_to(main.parent).as_posix(): p.read_text() for p in sorted(main.parent.rglob("*.tex"))}

    reference = fresh_copy("reference")
    original = files(reference)
    args = ("--rerank", "off", "--format", "tex", "--in-place", "-L", str(example_library_dir))
    command = _cli("suggest", str(reference), *args)
    _kill_points(command, repeats=0, seed=7)  # annotates the reference copy: the state after
    annotated = files(reference)
    fresh_copy("reference")
    points = _kill_points(command, repeats=5, seed=7)  # timed again, warm (the recall cache is filled)
    assert annotated != original
    killed = 0
    for point in points:
        draft = fresh_copy("work")
        killed += not _run_and_kill(_cli("suggest", str(draft), *args), point)
        now = files(draft)
        for name, text in now.items():
            assert text in (original[name], annotated[name]), name  # each file whole: before or after
    assert killed >= 3
