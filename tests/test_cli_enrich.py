"""`citerec library enrich` and `library import --enrich` through typer's CliRunner, on a fixture snapshot."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from citerec.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"
SNAPSHOT = FIXTURES / "snapshot.jsonl"
REFS = FIXTURES / "refs.bib"


def _paper(run, key: str) -> dict:
    result = run("get", key, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_dry_run_reports_as_json_on_stdout_and_changes_nothing(run) -> None:
    assert run("import", str(REFS)).exit_code == 0
    result = run("enrich", "--source", f"snapshot:{SNAPSHOT}", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    assert report["counts"]["snapshot"] == {
        "filled": 3,
        "nothing new": 0,
        "ambiguous": 1,
        "weak": 0,
        "not found": 1,
        "failed": 0,
    }
    filled = {(f["key"], f["field"]) for f in report["filled"]}
    assert ("velickovic2018", "arxiv_id") in filled and ("velickovic2018", "abstract") not in filled
    assert "snapshot.jsonl:4: malformed record skipped" in result.stderr
    assert "snapshot: 3 to fill, 1 ambiguous, 1 not found" in result.stderr
    assert _paper(run, "vaswani2017")["abstract"] == ""


def test_enrich_fills_reports_and_reverts(run) -> None:
    run("import", str(REFS))
    result = run("enrich", "--source", f"snapshot:{SNAPSHOT}")
    assert result.exit_code == 0, result.output
    assert "snapshot: 3 filled, 1 ambiguous, 1 not found" in result.stderr
    assert "Not applied" in result.stdout and "lovelace2020" in result.stdout
    vaswani = _paper(run, "vaswani2017")
    assert vaswani["abstract"].startswith("The dominant") and vaswani["arxiv_id"] == "1706.03762"
    assert vaswani["venue"] == "Advances in Neural Information Processing Systems"
    provenance = {f["field"]: f for f in vaswani["filled"]}
    assert set(provenance) == {"abstract", "arxiv_id"} and provenance["abstract"]["record"] == "arxiv:1706.03762"
    assert provenance["abstract"]["source"] == "snapshot" and provenance["abstract"]["matched_by"] == "title"
    shown = run("get", "vaswani2017")
    assert "abstract from" in shown.stdout and "snapshot (arxiv:1706.03762, by title" in shown.stdout
    assert _paper(run, "devlin2019")["year"] == 2019  # the user's year, one off the first version's, stays
    velickovic = _paper(run, "velickovic2018")
    assert velickovic["abstract"] == "My own words about GATs." and velickovic["arxiv_id"] == "1710.10903"

    again = run("enrich", "--source", f"snapshot:{SNAPSHOT}", "--format", "json")
    assert json.loads(again.stdout)["filled"] == []

    reverted = run("enrich", "--revert", "snapshot")
    assert reverted.exit_code == 0 and "snapshot: 7 filled fields of 3 papers emptied" in reverted.stderr
    assert _paper(run, "vaswani2017")["abstract"] == "" and _paper(run, "velickovic2018")["arxiv_id"] == ""


def test_import_with_enrich_is_one_command(run) -> None:
    result = run("import", str(REFS), "--enrich", "--source", f"snapshot:{SNAPSHOT}")
    assert result.exit_code == 0, result.output
    assert "snapshot: 3 filled" in result.stderr
    assert _paper(run, "devlin2019")["abstract"].startswith("We introduce BERT")


def test_bad_snapshots_and_sources_are_one_line_errors(run, tmp_path) -> None:
    run("import", str(REFS))
    missing = run("enrich", "--source", f"snapshot:{tmp_path / 'none.jsonl'}")
    assert missing.exit_code == 1 and "none.jsonl: no such file" in missing.stderr
    not_json = run("enrich", "--source", f"snapshot:{REFS}")
    assert not_json.exit_code == 1 and f"{REFS}:1: not an arXiv metadata snapshot" in not_json.stderr
    assert len(not_json.stderr.strip().splitlines()) == 1
    unknown = run("enrich", "--source", "scholar")
    assert unknown.exit_code == 1 and "unknown source 'scholar'" in unknown.stderr
    assert run("enrich", "--format", "xml").exit_code == 1


def test_an_empty_library_says_so(run) -> None:
    result = run("enrich", "--source", f"snapshot:{SNAPSHOT}")
    assert result.exit_code == 1 and "is empty" in result.stderr


def test_suggest_with_bib_and_enrich_is_one_command(tmp_path) -> None:
    draft = tmp_path / "draft.tex"
    draft.write_text("Transformers rely on attention alone \\cite{?}. Pre-trained encoders help \\cite{?}.\n")
    args = ["suggest", str(draft), "--bib", str(REFS), "--enrich", "--source", f"snapshot:{SNAPSHOT}"]
    result = CliRunner().invoke(app, [*args, "--rerank", "off", "--format", "json", "-L", str(tmp_path / "lib")])
    assert result.exit_code == 0, result.output
    assert "snapshot: 3 filled" in result.stderr and json.loads(result.stdout)["contexts"]
    from citerec.library import Library

    assert Library(tmp_path / "lib").get("vaswani2017").abstract.startswith("The dominant")


def test_the_contact_address_comes_from_the_option_or_the_environment(run, monkeypatch) -> None:
    from citerec.enrich import sources

    seen: list[str] = []
    monkeypatch.setattr(sources, "make_sources", lambda specs, settings: seen.append(settings.mailto) or [])
    run("import", str(REFS))
    monkeypatch.setenv("CITEREC_MAILTO", "env@example.org")
    assert run("enrich", "--source", "openalex", "--dry-run").exit_code == 0
    assert run("enrich", "--source", "openalex", "--dry-run", "--mailto", "me@example.org").exit_code == 0
    monkeypatch.delenv("CITEREC_MAILTO")
    assert run("enrich", "--source", "openalex", "--dry-run").exit_code == 0
    assert seen == ["env@example.org", "me@example.org", ""]
