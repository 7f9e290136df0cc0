"""`citerec suggest` through the CLI: every output format, on the example draft."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.ingest import read_bibtex
from citerec.latex import cite_keys_in
from citerec.library import Library
from citerec.suggest import SCHEMA

runner = CliRunner()


def _suggest(library_dir: Path, draft: Path, *args: str):
    return runner.invoke(app, ["suggest", str(draft), "-L", str(library_dir), "--rerank", "off", *args])


def test_table_lists_passages_with_scores(example_library_dir, examples_dir) -> None:
    result = _suggest(example_library_dir, examples_dir / "draft.tex")
    assert result.exit_code == 0, result.output
    assert "recall only" in result.output
    assert "draft.tex:" in result.output
    library = Library(example_library_dir)
    assert any(key in result.output for key in library.keys())


def test_json_goes_to_stdout_alone(example_library_dir, examples_dir) -> None:
    result = _suggest(example_library_dir, examples_dir / "draft.tex", "--format", "json", "--top", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == SCHEMA
    assert all(len(c["suggestions"]) <= 2 for c in data["contexts"])
    assert {c["file"] for c in data["contexts"]} >= {"draft.tex"}


def test_tex_output_keeps_input_keys_and_adds_the_suggestions(example_library_dir, examples_dir, tmp_path) -> None:
    draft_dir = tmp_path / "draft"
    shutil.copytree(examples_dir, draft_dir)
    before = {p: p.read_text(encoding="utf-8") for p in draft_dir.rglob("*.tex")}
    out = tmp_path / "annotated"
    result = _suggest(example_library_dir, draft_dir / "draft.tex", "--format", "tex", "--output", str(out))
    assert result.exit_code == 0, result.output
    as_json = _suggest(example_library_dir, draft_dir / "draft.tex", "--format", "json")
    suggested = {s["key"] for c in json.loads(as_json.stdout)["contexts"] for s in c["suggestions"]}
    original_keys = {k for text in before.values() for k in cite_keys_in(text)}
    annotated_keys = {k for p in out.rglob("*.tex") for k in cite_keys_in(p.read_text(encoding="utf-8"))}
    assert annotated_keys == original_keys | suggested
    placeholders_left = sum(p.read_text(encoding="utf-8").count("\\cite{?}") for p in out.rglob("*.tex"))
    assert placeholders_left < sum(text.count("\\cite{?}") for text in before.values())
    assert {p: p.read_text(encoding="utf-8") for p in draft_dir.rglob("*.tex")} == before  # input untouched


def test_tex_in_place_rewrites_the_draft(example_library_dir, examples_dir, tmp_path) -> None:
    draft_dir = tmp_path / "draft"
    shutil.copytree(examples_dir, draft_dir)
    result = _suggest(example_library_dir, draft_dir / "draft.tex", "--format", "tex", "--in-place")
    assert result.exit_code == 0, result.output
    original = (examples_dir / "draft.tex").read_text(encoding="utf-8")
    rewritten = (draft_dir / "draft.tex").read_text(encoding="utf-8")
    assert rewritten.count("\\cite{?}") < original.count("\\cite{?}")
    assert not list(draft_dir.glob(".*.tmp"))  # the atomic write left no temporary file behind


def test_bib_output_holds_only_papers_missing_from_the_users_bib(example_library_dir, examples_dir, tmp_path) -> None:
    small_bib = tmp_path / "small.bib"
    small_bib.write_text(
        "@article{vaswani2017attention, title={Attention Is All You Need}, year={2017}}\n", encoding="utf-8"
    )
    out = tmp_path / "new.bib"
    result = _suggest(
        example_library_dir,
        examples_dir / "draft.tex",
        "--bib",
        str(small_bib),
        "--format",
        "bib",
        "-o",
        str(out),
        "--include-cited",
    )
    assert result.exit_code == 0, result.output
    exported = read_bibtex(out)
    assert not exported.problems
    keys = {p.key for p in exported.papers}
    assert keys and "vaswani2017attention" not in keys
    assert keys <= set(Library(example_library_dir).keys())


def test_one_liner_from_nothing_and_second_run_reuses_index(examples_dir, tmp_path) -> None:
    library_dir = tmp_path / "fresh"
    args = ["--bib", str(examples_dir / "refs.bib"), "--format", "json"]
    first = _suggest(library_dir, examples_dir / "draft.tex", *args)
    assert first.exit_code == 0, first.output
    manifest = library_dir / "index" / "manifest.json"
    assert manifest.exists()
    stamp = manifest.stat().st_mtime_ns
    second = _suggest(library_dir, examples_dir / "draft.tex", *args)
    assert second.exit_code == 0
    assert manifest.stat().st_mtime_ns == stamp  # nothing changed: the index was not rewritten
    assert json.loads(first.stdout)["contexts"] == json.loads(second.stdout)["contexts"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.tex"], "missing.tex: no such file"),
        (["DRAFT", "--format", "pdf"], "--format must be one of"),
        (["DRAFT", "--rerank", "maybe"], "--rerank must be one of"),
    ],
)
def test_bad_input_is_a_one_line_error(example_library_dir, examples_dir, args, message) -> None:
    args = [str(examples_dir / "draft.tex") if a == "DRAFT" else a for a in args]
    result = runner.invoke(app, ["suggest", *args, "-L", str(example_library_dir)])
    assert result.exit_code != 0
    assert message in result.output


def test_empty_library_says_so(examples_dir, tmp_path) -> None:
    result = runner.invoke(app, ["suggest", str(examples_dir / "draft.tex"), "-L", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "empty" in result.output
