"""Faults: damaged index, manifest and cache files; processes killed (SIGKILL) at random points.

A damaged file is detected and rebuilt (the index, the caches) or reported in
one line; a killed index build, rerank-cache write or `suggest --format tex
--in-place` leaves the previous state usable. Kill points are spread over the
measured duration of the operation (10%..95% of it), several per test.
"""

from __future__ import annotations

import json
import random
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
