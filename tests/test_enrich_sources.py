"""The online sources on recorded answers (no network): requests, parsing, partial and malformed answers, errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from citerec.enrich.crossref import CrossrefSource
from citerec.enrich.http import HttpSettings, JsonClient, SourceError
from citerec.enrich.match import MATCHED, decide
from citerec.enrich.openalex import OpenAlexSource, abstract_from_index
from citerec.enrich.semanticscholar import SemanticScholarSource
from citerec.enrich.sources import DEFAULT_ONLINE, SnapshotSource, make_sources
from citerec.errors import InputError
from citerec.papers import Paper

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"
ARXIV_FIXTURES = Path(__file__).parent / "fixtures" / "arxiv"
SETTINGS = HttpSettings(mailto="someone@example.org", timeout_s=5, retries=2, backoff_s=1.0)


def _answer(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=(FIXTURES / name).read_bytes(), headers={"Content-Type": "application/json"})


class Recorded:
    """A transport answering from `routes` ((path, a query parameter's value) → response), logging requests."""

    def __init__(self, route) -> None:
        self.route = route
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.route(request)

        return httpx.MockTransport(handle)


def test_openalex_by_doi_rebuilds_the_abstract_and_finds_the_arxiv_copy() -> None:
    recorded = Recorded(lambda request: _answer("openalex_doi.json"))
    source = OpenAlexSource(SETTINGS, transport=recorded.transport(), sleep=lambda s: None)
    entry = Paper("karpukhin2020", "Dense passage retrieval", doi="10.18653/V1/2020.emnlp-main.550")
    assert source.request(entry) == "doi:10.18653/v1/2020.emnlp-main.550"
    [record] = source.fetch(entry)
    sent = recorded.requests[0]
    assert sent.url.path == "/works" and sent.url.params["filter"] == "doi:10.18653/v1/2020.emnlp-main.550"
    assert (
        sent.url.params["mailto"] == "someone@example.org"
        and "mailto:someone@example.org" in sent.headers["User-Agent"]
    )
    assert (
        record.abstract
        == "Open-domain question answering relies on efficient passage retrieval to select candidate contexts."
    )
    assert record.arxiv_id == "2004.04906" and record.year == 2020 and record.authors[1] == "Barlas Oğuz"
    assert record.venue.startswith("Proceedings of the 2020 Conference") and record.key == "openalex:W2963403868"
    assert decide(entry, [record]).matched_by == "doi"


def test_openalex_title_search_skips_partial_works_and_the_impostor_does_not_match() -> None:
    recorded = Recorded(lambda request: _answer("openalex_search.json"))
    source = OpenAlexSource(SETTINGS, transport=recorded.transport(), sleep=lambda s: None)
    entry = Paper("vaswani", "Attention is {All} you need", authors=("Vaswani, A.",), year=2017)
    records = source.fetch(entry)
    params = recorded.requests[0].url.params
    assert params["search"] == "attention is all you need" and params["filter"] == "publication_year:2016-2018"
    assert [r.key for r in records] == ["openalex:W4385245566", "openalex:W9999999999"]
    verdict = decide(entry, records)
    assert verdict.status == MATCHED and verdict.record.arxiv_id == "1706.03762"


def test_crossref_by_doi_joins_the_subtitle_and_reads_the_jats_abstract() -> None:
    recorded = Recorded(lambda request: _answer("crossref_work.json"))
    source = CrossrefSource(SETTINGS, transport=recorded.transport(), sleep=lambda s: None)
    entry = Paper(
        "devlin2019",
        "{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        authors=("Jacob Devlin",),
        doi="10.18653/v1/N19-1423",
    )
    [record] = source.fetch(entry)
    assert recorded.requests[0].url.path == "/works/10.18653/v1/n19-1423"
    assert record.title == "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    assert record.abstract == "We introduce a new language representation model called BERT & show it works."
    assert record.authors == ("Jacob Devlin", "Ming-Wei Chang", "Google AI Language") and record.year == 2019
    assert source.request(Paper("x", "T", arxiv_id="1810.04805")).startswith("title:")  # arXiv DOIs are not Crossref's


def test_crossref_query_sends_title_author_and_year_and_drops_records_without_a_title() -> None:
    recorded = Recorded(lambda request: _answer("crossref_query.json"))
    source = CrossrefSource(SETTINGS, transport=recorded.transport(), sleep=lambda s: None)
    entry = Paper("lstm", "Long short-term memory", authors=("S. Hochreiter",), year=1997)
    records = source.fetch(entry)
    assert recorded.requests[0].url.params["query.bibliographic"] == "long short term memory hochreiter 1997"
    assert [r.doi for r in records] == ["10.1162/neco.1997.9.8.1735"] and records[0].venue == "Neural Computation"
    assert decide(entry, records).status == MATCHED


def test_semantic_scholar_by_id_and_by_title_match() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/paper/search/match"):
            return _answer("s2_match.json")
        return _answer("s2_paper.json")

    recorded = Recorded(route)
    source = SemanticScholarSource(SETTINGS, api_key="k3y", transport=recorded.transport(), sleep=lambda s: None)
    [by_id] = source.fetch(Paper("v", "Attention is all you need", arxiv_id="1706.03762"))
    assert recorded.requests[0].url.path == "/graph/v1/paper/ARXIV:1706.03762"
    assert recorded.requests[0].headers["x-api-key"] == "k3y"
    assert by_id.doi == "10.5555/3295222.3295349" and by_id.abstract.startswith("The dominant")
    [match] = source.fetch(Paper("d", "BERT: pre-training of deep bidirectional transformers", authors=("Devlin, J.",)))
    assert recorded.requests[1].url.params["query"] == "bert pre training of deep bidirectional transformers"
    assert match.arxiv_id == "1810.04805" and match.abstract == ""


def test_a_title_semantic_scholar_cannot_match_is_no_record() -> None:
    recorded = Recorded(lambda request: _answer("s2_match_missing.json", 404))
    source = SemanticScholarSource(SETTINGS, transport=recorded.transport(), sleep=lambda s: None)
    assert source.fetch(Paper("x", "A title nobody wrote", authors=("Nobody",))) == []


def test_429_and_5xx_are_retried_with_backoff_and_retry_after() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(503), _answer("s2_paper.json")]
    recorded = Recorded(lambda request: answers.pop(0))
    slept: list[float] = []
    client = JsonClient("s2", "https://api.example", SETTINGS, transport=recorded.transport(), sleep=slept.append)
    assert client.get("/paper/x")["year"] == 2017
    assert slept == [7.0, 2.0] and len(recorded.requests) == 3


def test_a_service_that_stays_down_raises_one_source_error() -> None:
    recorded = Recorded(lambda request: httpx.Response(500))
    client = JsonClient("openalex", "https://api.example", SETTINGS, transport=recorded.transport(), sleep=lambda s: 0)
    with pytest.raises(SourceError, match=r"openalex: HTTP 500 \(3 tries\)"):
        client.get("/works")


def test_timeouts_are_retried_then_reported() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    recorded = Recorded(route)
    client = JsonClient("crossref", "https://api.example", SETTINGS, transport=recorded.transport(), sleep=lambda s: 0)
    with pytest.raises(SourceError, match="timed out after 5s"):
        client.get("/works")
    assert len(recorded.requests) == 3


def test_malformed_answers_and_client_errors_are_source_errors() -> None:
    routes = {
        "/bad-json": httpx.Response(200, content=b"{not json"),
        "/forbidden": httpx.Response(403, content=b"{}"),
    }
    recorded = Recorded(lambda request: routes[request.url.path])
    client = JsonClient("openalex", "https://api.example", SETTINGS, transport=recorded.transport(), sleep=lambda s: 0)
    with pytest.raises(SourceError, match="malformed answer"):
        client.get("/bad-json")
    with pytest.raises(SourceError, match="HTTP 403"):
        client.get("/forbidden")
    wrong_shape = Recorded(lambda request: httpx.Response(200, json={"results": "nope"}))
    source = OpenAlexSource(SETTINGS, transport=wrong_shape.transport(), sleep=lambda s: None)
    with pytest.raises(SourceError, match="no results list"):
        source.fetch(Paper("x", "Some title here", doi="10.1/x"))
    wrong_crossref = Recorded(lambda request: httpx.Response(200, json={"message": {"items": None}}))
    with pytest.raises(SourceError, match="no items list"):
        CrossrefSource(SETTINGS, transport=wrong_crossref.transport(), sleep=lambda s: None).fetch(Paper("x", "T"))


def test_requests_are_spaced_by_the_rate_limit() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    recorded = Recorded(lambda request: httpx.Response(200, json={}))
    client = JsonClient(
        "s2",
        "https://api.example",
        SETTINGS.spaced(1.1),
        transport=recorded.transport(),
        sleep=sleep,
        clock=lambda: now[0],
    )
    client.get("/a")
    now[0] += 0.5
    client.get("/b")
    assert slept == [0.6]


def test_abstract_from_a_malformed_inverted_index() -> None:
    assert abstract_from_index({"b": [1], "a": [0], "x": "bad", "y": [None]}) == "a b"
    assert abstract_from_index(None) == ""


def test_arxiv_by_id_and_by_title_through_the_arxiv_package() -> None:
    import arxiv

    from citerec.enrich.arxiv_api import ArxivSource
    from tests.test_arxiv import RecordedSession

    client = arxiv.Client(delay_seconds=0.0, num_retries=0)
    client._session = RecordedSession()
    source = ArxivSource(SETTINGS, client=client)
    [record] = source.fetch(Paper("v", "Attention", arxiv_id="arXiv:1706.03762v2"))
    assert record.key == "arxiv:1706.03762" and record.abstract
    entry = Paper("c", "{Citation} recommendation: approaches and datasets", authors=("Färber, Michael",))
    source.fetch(entry)
    assert "ti%3Acitation+AND+ti%3Arecommendation" in client._session.urls[-1].replace("%20", "+")
    assert "au%3Afarber" in client._session.urls[-1]


def test_source_names_and_a_missing_snapshot(tmp_path: Path) -> None:
    assert [s.name for s in make_sources([], SETTINGS, transport=httpx.MockTransport(lambda r: None))] == list(
        DEFAULT_ONLINE
    )
    snapshot = ARXIV_FIXTURES / "snapshot.jsonl"
    [source] = make_sources([f"snapshot:{snapshot}"], SETTINGS)
    assert source == SnapshotSource(snapshot)
    with pytest.raises(InputError, match="no such file"):
        make_sources([f"snapshot:{tmp_path / 'none.jsonl'}"], SETTINGS)
    with pytest.raises(InputError, match="unknown source 'scholar'"):
        make_sources(["scholar"], SETTINGS)
    with pytest.raises(InputError, match="needs a file"):
        make_sources(["snapshot"], SETTINGS)


def test_fixtures_are_valid_json() -> None:
    for path in FIXTURES.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


def test_arxiv_requests_time_out_and_a_timeout_is_a_source_error() -> None:
    import requests

    from citerec.enrich.arxiv_api import ArxivSource

    source = ArxivSource(SETTINGS)
    client = source._arxiv_client()
    sent: list[float] = []
    agents: list[str] = []

    def refuse(request, **kwargs):
        sent.append(kwargs["timeout"])
        agents.append(request.headers["User-Agent"])
        raise requests.exceptions.ConnectTimeout("slow")

    client._session.send = refuse
    client.delay_seconds = 0.0
    client.num_retries = 0
    with pytest.raises(SourceError, match="cannot reach arXiv"):
        source.fetch(Paper("x", "Attention is all you need", authors=("Vaswani, A.",)))
    assert sent == [5]
    assert agents[0].startswith("citerec/") and "(mailto:someone@example.org) arxiv.py/" in agents[0]  # the contact
