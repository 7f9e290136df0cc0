"""Citing contexts from Semantic Scholar on recorded answers (no network): the client, then what the library keeps.

The client finds the entry's paper as the metadata source does, reads the
citations page by page until it has enough sentences, drops empty, repeated and
broken ones, and says what is malformed. The library keeps each entry's
sentences with their provenance and records every ask, so a re-run asks nothing
twice; `refresh` asks again, a revert drops them, a removed paper loses its own,
`library learn` never touches them, and an older library file gains the tables.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from citerec.enrich.citing_contexts import CitingContextsSource
from citerec.enrich.citing_run import ASKED_BEFORE, FAILED, fetch_citing_contexts
from citerec.enrich.http import HttpSettings, SourceError
from citerec.enrich.match import MATCHED, NOT_FOUND, WEAK
from citerec.library import Library
from citerec.library_citing import FOUND
from citerec.library_db import SCHEMA_VERSION
from citerec.papers import Paper
from citerec.past_sentences import CitingSentence
from tests.helpers.libraries import made_older, schema_version

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"
SETTINGS = HttpSettings(timeout_s=5, retries=2, backoff_s=1.0)
VASWANI_ID = "204e3073870fae3d05bcbc2f6a8e263d9b72e776"
BERT_ID = "df2b0e26d0599ce3e70df8a9da02e51594e0e992"
VASWANI = Paper("vaswani2017", "Attention is {All} you Need", authors=("Vaswani, Ashish",), arxiv_id="1706.03762")
DEVLIN = Paper(
    "devlin2019",
    "{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding",
    authors=("Devlin, J.",),
)
NOBODY = Paper("nobody2020", "A paper nobody ever wrote at all", authors=("Nobody, Ann",), year=2020)
KEPT = [
    "The Transformer architecture relies entirely on self-attention to draw global dependencies between input "
    "and output [12].",
    "Multi-head attention lets the model attend jointly to information from different representation subspaces.",
    "Self-attention layers replace recurrence in sequence transduction models, as in the Transformer.",
]


def _answer(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=(FIXTURES / name).read_bytes(), headers={"Content-Type": "application/json"})


class Service:
    """Semantic Scholar as recorded: the papers of the fixtures, their citations in two pages; logs requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.citations: list[httpx.Response] = []  # answers to give /citations first, before the recorded ones

    def route(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/graph/v1")
        if path == "/paper/ARXIV:1706.03762":
            return _answer("s2_paper.json")
        if path == "/paper/search/match":
            query = request.url.params["query"]
            if query.startswith("attention is all you need"):
                return httpx.Response(200, json={"data": [json.loads((FIXTURES / "s2_paper.json").read_bytes())]})
            return _answer("s2_match.json") if "bert" in query else _answer("s2_match_missing.json", 404)
        if path.endswith("/citations"):
            if self.citations:
                return self.citations.pop(0)
            if path != f"/paper/{VASWANI_ID}/citations":
                return httpx.Response(200, json={"offset": 0, "data": []})
            return _answer(
                "s2_citations_page1.json" if request.url.params["offset"] == "0" else "s2_citations_page2.json"
            )
        return httpx.Response(404, json={"error": "Paper not found"})

    def source(self, slept: list[float] | None = None) -> CitingContextsSource:
        sleep = slept.append if slept is not None else (lambda seconds: None)
        return CitingContextsSource(SETTINGS, api_key="k3y", transport=httpx.MockTransport(self.route), sleep=sleep)

    def asked(self, part: str = "") -> list[str]:
        return [
            f"{r.url.path.removeprefix('/graph/v1')}?{r.url.params.get('offset', '')}"
            for r in self.requests
            if part in r.url.path
        ]


def test_contexts_are_read_page_by_page_cleaned_and_kept_with_provenance() -> None:
    service = Service()
    found = service.source().find(VASWANI, limit=10)
    assert found.match.matched_by == "arxiv" and found.paper_id == VASWANI_ID
    assert service.asked() == [
        "/paper/ARXIV:1706.03762?",
        f"/paper/{VASWANI_ID}/citations?0",
        f"/paper/{VASWANI_ID}/citations?100",
    ]
    first = service.requests[1]
    assert (
        first.url.params["fields"] == "contexts,intents,title,year,externalIds" and first.url.params["limit"] == "100"
    )
    assert first.headers["x-api-key"] == "k3y"
    # whitespace collapsed, the blank one and the repeat (from another citing paper) and the junk dropped
    assert [c.sentence for c in found.contexts] == KEPT
    context = found.contexts[0]
    assert (context.key, context.citing_id, context.citing_year) == ("vaswani2017", BERT_ID, 2019)
    assert context.citing_title.startswith("BERT: Pre-training")
    assert (context.record, context.matched_by, context.source) == (VASWANI_ID, "arxiv", "semanticscholar")
    assert found.contexts[2].citing_title == "Graph Attention Networks" and found.contexts[2].citing_year == 2018


def test_reading_stops_once_enough_sentences_are_kept() -> None:
    service = Service()
    found = service.source().find(VASWANI, limit=1)
    assert [c.sentence for c in found.contexts] == KEPT[:1]
    assert len(service.asked("/citations")) == 1  # the second page is never asked for


def test_a_title_match_is_checked_and_a_weak_one_asks_for_no_citations() -> None:
    service = Service()
    found = service.source().find(DEVLIN)
    assert found.match.status == MATCHED and found.match.matched_by == "title"
    assert found.paper_id == BERT_ID and service.asked("/citations") == [f"/paper/{BERT_ID}/citations?0"]
    impostor = Paper("x", DEVLIN.title, authors=("Smith, Jane",))  # same title, other first author
    weak = service.source().find(impostor)
    assert weak.match.status == WEAK and weak.contexts == () and weak.paper_id == ""
    assert len(service.asked("/citations")) == 1


def test_a_paper_the_service_does_not_know_is_nothing_found() -> None:
    service = Service()
    found = service.source().find(NOBODY)
    assert found.match.status == NOT_FOUND and found.contexts == () and not service.asked("/citations")
    service.citations = [httpx.Response(404, json={"error": "Paper with id x not found"})]
    assert service.source().find(VASWANI).contexts == ()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"offset": 0, "data": {"contexts": []}}, "no data list"),
        ({"offset": 0, "data": [{"contexts": ["A fine sentence about attention models."]}]}, "without its citingPaper"),
        ({"offset": 0, "data": [{"contexts": [["nested"]], "citingPaper": {}}]}, "a context is not a string"),
        ({"offset": 0, "data": [{"contexts": "one string", "citingPaper": {}}]}, "a context is not a string"),
        ([], "no data list"),
    ],
)
def test_malformed_answers_are_source_errors(answer: object, message: str) -> None:
    service = Service()
    service.citations = [httpx.Response(200, json=answer)]
    with pytest.raises(SourceError, match=f"semanticscholar: malformed citations answer .*{message}"):
        service.source().find(VASWANI)


def test_a_429_is_retried_after_the_wait_the_server_asks() -> None:
    service = Service()
    service.citations = [httpx.Response(429, headers={"Retry-After": "7"})]
    slept: list[float] = []
    found = service.source(slept).find(VASWANI)
    assert [c.sentence for c in found.contexts] == KEPT
    assert 7.0 in slept and service.asked("/citations")[:2] == [f"/paper/{VASWANI_ID}/citations?0"] * 2


def test_timeouts_are_retried_then_a_source_error() -> None:
    service = Service()

    def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/citations"):
            service.requests.append(request)
            raise httpx.ReadTimeout("slow", request=request)
        return service.route(request)

    source = CitingContextsSource(SETTINGS, transport=httpx.MockTransport(slow), sleep=lambda seconds: None)
    with pytest.raises(SourceError, match="timed out after 5s"):
        source.find(VASWANI)
    assert len(service.asked("/citations")) == 3  # the first try and two retries


def test_the_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMANTIC_SCHOLAR_API_KEY", "from-env")
    service = Service()
    source = CitingContextsSource(SETTINGS, transport=httpx.MockTransport(service.route), sleep=lambda s: None)
    source.find(VASWANI, limit=1)
    assert {r.headers["x-api-key"] for r in service.requests} == {"from-env"}


# -- what the library keeps --------------------------------------------------


def _library(tmp_path: Path) -> Library:
    library = Library(tmp_path / "lib")
    library.add([VASWANI, DEVLIN, NOBODY])
    return library


def _rows(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite") as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_contexts_are_kept_with_provenance_and_a_rerun_asks_nothing_twice(tmp_path: Path) -> None:
    library, service = _library(tmp_path), Service()
    report = fetch_citing_contexts(library, service.source())
    statuses = {o.key: (o.status, o.contexts) for o in report.outcomes}
    assert statuses == {"vaswani2017": (FOUND, 3), "devlin2019": (FOUND, 0), "nobody2020": (NOT_FOUND, 0)}
    assert report.counts() == {
        "asked": 3,
        "with contexts": 1,
        "contexts": 3,
        "not found": 1,
        "not matched": 0,
        "failed": 0,
        "asked before": 0,
    }
    kept = library.citing_contexts(["VASWANI2017"])
    assert [c.sentence for c in kept] == KEPT and all(c.fetched_at for c in kept)
    assert (kept[0].citing_id, kept[0].citing_year, kept[0].record, kept[0].matched_by) == (
        BERT_ID,
        2019,
        VASWANI_ID,
        "arxiv",
    )
    assert set(library.citing_asked("semanticscholar")) == {"vaswani2017", "devlin2019", "nobody2020"}
    asked = len(service.requests)
    again = fetch_citing_contexts(library, service.source())
    assert len(service.requests) == asked and {o.status for o in again.outcomes} == {ASKED_BEFORE}
    assert again.counts()["asked"] == 0 and again.counts()["asked before"] == 3
    fewer = fetch_citing_contexts(library, service.source(), limit=20)  # 3 of 10 kept: there are no more
    assert len(service.requests) == asked and {o.status for o in fewer.outcomes} == {ASKED_BEFORE}
    refreshed = fetch_citing_contexts(library, service.source(), refresh=True)
    assert len(service.requests) > asked and refreshed.counts()["asked"] == 3
    assert [c.sentence for c in library.citing_contexts()] == KEPT  # replaced, not added again


def test_more_contexts_wanted_than_were_kept_asks_again(tmp_path: Path) -> None:
    library, service = _library(tmp_path), Service()
    fetch_citing_contexts(library, service.source(), keys=["vaswani2017"], limit=1)
    assert [c.sentence for c in library.citing_contexts()] == KEPT[:1]
    report = fetch_citing_contexts(library, service.source(), keys=["vaswani2017"], limit=5)
    assert report.outcomes[0].status == FOUND and [c.sentence for c in library.citing_contexts()] == KEPT


def test_a_dry_run_keeps_no_context(tmp_path: Path) -> None:
    library = _library(tmp_path)
    report = fetch_citing_contexts(library, Service().source(), dry_run=True)
    assert len(report.contexts) == 3 and report.dry_run
    assert library.citing_contexts() == [] and library.citing_asked("semanticscholar") == {}


def test_failures_are_reported_and_not_recorded(tmp_path: Path) -> None:
    library, service = _library(tmp_path), Service()
    service.citations = [httpx.Response(500)] * 3
    report = fetch_citing_contexts(library, service.source(), keys=["vaswani2017"])
    assert report.outcomes[0].status == FAILED and "HTTP 500 (3 tries)" in report.outcomes[0].reason
    assert report.counts()["failed"] == 1 and "vaswani2017" not in library.citing_asked("semanticscholar")
    assert fetch_citing_contexts(library, service.source(), keys=["vaswani2017"]).outcomes[0].status == FOUND


def test_revert_drops_them_all_and_a_removed_paper_loses_its_own(tmp_path: Path) -> None:
    library = _library(tmp_path)
    fetch_citing_contexts(library, Service().source())
    assert library.revert_citing_contexts("semanticscholar") == (3, 1)
    assert library.citing_contexts() == [] and library.citing_asked("semanticscholar") == {}
    fetch_citing_contexts(library, Service().source())
    library.remove(["vaswani2017"])
    assert _rows(tmp_path, "citing_contexts") == 0
    assert set(library.citing_asked("semanticscholar")) == {"devlin2019", "nobody2020"}
    library.clear()
    assert _rows(tmp_path, "citing_asked") == 0


def test_recall_reads_them_as_past_sentences_by_others_and_learn_leaves_them_alone(tmp_path: Path) -> None:
    library = _library(tmp_path)
    fetch_citing_contexts(library, Service().source())
    library.learn("/d/old.tex", [CitingSentence("old.tex", 3, "My own words about attention.", ("vaswani2017",))])
    past = library.past_sentences(["vaswani2017"])
    assert [(s.sentence, s.by_others) for s in past] == [("My own words about attention.", False)] + [
        (s, True) for s in KEPT
    ]
    other = past[1]
    assert other.source == f"semanticscholar:{BERT_ID}" and other.year == 2019 and other.line == 0
    assert other.file.startswith("BERT: Pre-training") and other.where.startswith('"BERT: Pre-training')
    assert other.where.endswith('…", 2019')  # a long title is cut
    assert [s.by_others for s in library.past_sentences(others=False)] == [False]
    assert library.past_sources() == [("/d/old.tex", 1)]
    assert library.forget("/d/old.tex") == 1 and len(library.citing_contexts()) == 3
    library.learn("/d/old.tex", [])
    assert len(library.past_sentences()) == 3


def test_an_older_library_gains_the_tables(tmp_path: Path) -> None:
    library = _library(tmp_path)
    library.close()
    made_older(tmp_path / "lib", "DROP TABLE citing_contexts; DROP TABLE citing_asked; PRAGMA user_version=3;")
    library = Library(tmp_path / "lib")
    assert len(library) == 3 and library.citing_contexts() == [] and library.past_sentences() == []
    assert fetch_citing_contexts(library, Service().source()).contexts
    assert schema_version(tmp_path / "lib") == SCHEMA_VERSION


def test_the_recorded_answers_are_valid_json() -> None:
    for name in ("s2_citations_page1.json", "s2_citations_page2.json"):
        assert isinstance(json.loads((FIXTURES / name).read_text(encoding="utf-8"))["data"], list)
