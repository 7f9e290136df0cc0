"""`citerec library …` through typer's CliRunner: outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from citerec.ingest.bibtex import read_bibtex

REPO = Path(__file__).parents[1]
REFS = REPO / "data" / "examples" / "refs.bib"
BROKEN = Path(__file__).parent / "fixtures" / "bib" / "broken.bib"
SNAPSHOT = Path(__file__).parent / "fixtures" / "arxiv" / "snapshot.jsonl"


def test_import_list_export_remove(run, tmp_path):
    result = run("import", str(REFS))
    assert result.exit_code == 0, result.output
    listed = run("list", "--format", "json")
    assert listed.exit_code == 0
    papers = json.loads(listed.stdout)
    assert len(papers) == len(read_bibtex(REFS).papers)
    only = json.loads(run("list", "--format", "json", "--query", "colbert").stdout)
    assert [p["key"] for p in only] == ["khattab2020colbert"]

    exported = run("export", "vaswani2017attention")
    assert exported.exit_code == 0 and exported.stdout.startswith("@inproceedings{vaswani2017attention,")
    out = tmp_path / "out.bib"
    assert run("export", "--output", str(out)).exit_code == 0
    assert len(read_bibtex(out).papers) == len(papers)

    assert run("remove", "vaswani2017attention").exit_code == 0
    assert "vaswani2017attention" not in {p["key"] for p in json.loads(run("list", "--format", "json").stdout)}
    gone = run("remove", "vaswani2017attention")
    assert gone.exit_code == 1 and "not in the library: vaswani2017attention" in gone.output


def test_problems_are_printed_with_file_and_line(run):
    result = run("import", str(BROKEN))
    assert result.exit_code == 0
    assert f"{BROKEN}:26: duplicate key 'good1'" in result.output
    strict = run("import", "--strict", str(BROKEN))
    assert strict.exit_code == 1 and "(--strict)" in strict.output


def test_missing_and_all_bad_files_exit_non_zero(run, tmp_path):
    missing = run("import", str(tmp_path / "nope.bib"))
    assert missing.exit_code == 1 and "nope.bib: no such file" in missing.output
    bad = tmp_path / "bad.bib"
    bad.write_text("@article{a,\n title = {never closed\n")
    result = run("import", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:1: entry 'a': missing closing" in result.output
    assert "no entries could be imported" in result.output


def test_import_snapshot_and_unknown_export_key(run):
    result = run("import-arxiv-snapshot", str(SNAPSHOT), "--category", "cs.CL")
    assert result.exit_code == 0, result.output
    assert "snapshot.jsonl:3: malformed record skipped" in result.output
    keys = [p["key"] for p in json.loads(run("list", "--format", "json").stdout)]
    assert keys == ["vaswani2017attention", "devlin2018bert", "karpukhin2020dense"]
    missing = run("export", "nokey")
    assert missing.exit_code == 1 and "not in the library: nokey" in missing.output


def test_list_rejects_unknown_format(run):
    result = run("list", "--format", "xml")
    assert result.exit_code == 1 and "unknown format" in result.output
