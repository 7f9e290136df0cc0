"""`citerec library enrich --citing-contexts` through typer's CliRunner, on recorded Semantic Scholar answers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from citerec.enrich import citing_contexts
from tests.test_enrich_citing_contexts import BERT_ID, KEPT, SETTINGS, VASWANI_ID, Service

REFS = Path(__file__).parent / "fixtures" / "enrich" / "refs.bib"


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Service:
    """The recorded service behind the command: no request leaves the machine."""
    recorded = Service()
    real = citing_contexts.CitingContextsSource

    def recorded_source(settings, **_: object):
        assert settings.timeout_s == 20.0
        return real(SETTINGS, transport=httpx.MockTransport(recorded.route), sleep=lambda seconds: None)

    monkeypatch.setattr(citing_contexts, "CitingContextsSource", recorded_source)
    monkeypatch.setenv("SEMANTIC_SCHOLAR_API_KEY", "k3y")
    return recorded


def test_dry_run_then_keep_then_ask_nothing_twice(run, service: Service) -> None:
    assert run("import", str(REFS)).exit_code == 0
    dry = run("enrich", "--citing-contexts", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)  # the JSON alone on stdout
    assert report["dry_run"] is True and report["counts"]["contexts"] == 3
    outcomes = {o["key"]: (o["status"], o["contexts"]) for o in report["outcomes"]}
    assert outcomes["vaswani2017"] == ("found", 3) and outcomes["devlin2019"] == ("found", 0)
    assert outcomes["nobody2020"] == ("not found", 0)
    assert report["contexts"][0]["citing_id"] == BERT_ID and report["contexts"][0]["record"] == VASWANI_ID
    assert "would be kept" in dry.stderr
    assert json.loads(run("get", "vaswani2017", "--format", "json").stdout)["cited_by_others"] == []

    kept = run("enrich", "--citing-contexts")
    assert kept.exit_code == 0, kept.output
    assert (
        "semanticscholar citing contexts: 5 entries asked, 1 with contexts, 3 contexts kept, 3 not found, 0 failed"
        in kept.stderr
    )
    assert "Citing contexts" in kept.stdout and "vaswani2017" in kept.stdout
    shown = json.loads(run("get", "vaswani2017", "--format", "json").stdout)
    assert [c["sentence"] for c in shown["cited_by_others"]] == KEPT and shown["learned"] == []
    assert shown["cited_by_others"][0]["citing_year"] == 2019 and shown["cited_by_others"][0]["matched_by"] == "title"
    table = run("get", "vaswani2017")
    assert 'cited by "BERT: Pre-training' in table.stdout and "3 sentences others cite it with" in table.stderr

    asked = len(service.requests)
    again = run("enrich", "--citing-contexts")
    assert again.exit_code == 0 and len(service.requests) == asked
    assert "0 entries asked" in again.stderr and "5 asked before" in again.stderr
    one = run("enrich", "--citing-contexts", "--refresh", "--key", "vaswani2017", "--max-contexts", "2")
    assert one.exit_code == 0, one.output
    assert "1 entry asked, 1 with contexts, 2 contexts kept" in one.stderr
    assert len(json.loads(run("get", "vaswani2017", "--format", "json").stdout)["cited_by_others"]) == 2

    reverted = run("enrich", "--revert", "citing-contexts")
    assert reverted.exit_code == 0 and "citing contexts: 2 sentences about 1 papers dropped" in reverted.stderr
    assert json.loads(run("get", "vaswani2017", "--format", "json").stdout)["cited_by_others"] == []


def test_options_that_go_with_citing_contexts_alone_and_unknown_keys_are_one_line_errors(run, service) -> None:
    run("import", str(REFS))
    refresh = run("enrich", "--refresh")
    assert refresh.exit_code == 1 and "--refresh and --max-contexts go with --citing-contexts" in refresh.stderr
    other = run("enrich", "--citing-contexts", "--source", "openalex")
    assert other.exit_code == 1 and "asks Semantic Scholar alone" in other.stderr
    missing = run("enrich", "--citing-contexts", "--key", "nokey")
    assert missing.exit_code == 1 and "not in the library: nokey" in missing.stderr
    assert service.requests == []


def test_a_failing_service_is_counted_not_fatal(run, service: Service) -> None:
    run("import", str(REFS))
    service.citations = [httpx.Response(500)] * 3
    result = run("enrich", "--citing-contexts", "--key", "vaswani2017", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["failed"] == 1 and "HTTP 500" in report["outcomes"][0]["reason"]
