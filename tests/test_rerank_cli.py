"""`citerec rerank` through typer's CliRunner on the tiny model."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from citerec.cli.rerank import rerank
from citerec.rerank import load_reranker

app = typer.Typer()
app.command()(rerank)
runner = CliRunner()

QUERY = "Residual connections ease the training of very deep networks."
DOCS = ["Deep residual learning for image recognition", "Attention Is All You Need", "BM25"]


@pytest.fixture(scope="module")
def model_dir(tiny_reranker_dir):
    return tiny_reranker_dir


def test_json_output_is_sorted_and_matches_the_library(model_dir):
    args = [QUERY, "--reranker", str(model_dir), "--device", "cpu", "--format", "json"]
    for d in DOCS:
        args += ["--doc", d]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = load_reranker(str(model_dir), device="cpu").score(QUERY, DOCS)
    assert [r["index"] for r in data["results"]] == sorted(range(3), key=lambda i: -expected[i])
    assert [r["score"] for r in data["results"]] == pytest.approx(sorted(expected, reverse=True), abs=1e-6)
    assert data["results"][0]["rank"] == 1 and data["model"] == str(model_dir)


def test_table_from_docs_file_and_cache(model_dir, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(DOCS) + "\n\n", encoding="utf-8")
    cache = tmp_path / "scores.sqlite"
    args = [QUERY, "--docs-file", str(docs), "--reranker", str(model_dir), "--device", "cpu", "--cache", str(cache)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "Attention Is All You Need" in first.stdout and "P(yes)" in first.stdout
    assert "0 hits, 3 misses" in first.stderr
    second = runner.invoke(app, args)
    assert "3 hits, 0 misses" in second.stderr


def test_jsonl_paper_records(model_dir, tmp_path):
    docs = tmp_path / "papers.jsonl"
    docs.write_text(json.dumps({"key": "he2016", "title": "Deep Residual Learning", "year": 2016}) + "\n")
    result = runner.invoke(app, [QUERY, "--docs-file", str(docs), "--reranker", str(model_dir), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["document"] == "Deep Residual Learning\n(2016)"
    docs.write_text("{not json\n")
    bad = runner.invoke(app, [QUERY, "--docs-file", str(docs), "--reranker", str(model_dir)])
    assert bad.exit_code == 1 and "papers.jsonl:1" in bad.stderr


def test_errors_are_one_line_and_exit_1(model_dir, tmp_path):
    no_docs = runner.invoke(app, [QUERY, "--reranker", str(model_dir)])
    assert no_docs.exit_code == 1 and "no candidates" in no_docs.stderr
    missing = runner.invoke(app, [QUERY, "--doc", "x", "--reranker", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "not found" in missing.stderr
    fmt = runner.invoke(app, [QUERY, "--doc", "x", "--format", "xml"])
    assert fmt.exit_code == 1 and "unknown format" in fmt.stderr
