"""arXiv import, offline: recorded Atom responses fed through `arxiv.Client` with its HTTP session replaced."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from citerec.errors import InputError
from citerec.ingest.arxiv import fetch_arxiv, parse_arxiv_id, search_arxiv
from citerec.ingest.keys import base_key, citation_key
from citerec.ingest.snapshot import iter_arxiv_snapshot
from citerec.papers import Paper

FIXTURES = Path(__file__).parent / "fixtures" / "arxiv"
LIVE = os.environ.get("CITEREC_LIVE_ARXIV") == "1"


class _Response:
    def __init__(self, content: bytes, status: int = 200) -> None:
        self.content = content
        self.status_code = status


class RecordedSession:
    """Stands in for `requests.Session`: answers arXiv API URLs from recorded feeds, like the server would."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def get(self, url: str, headers=None, **kwargs) -> _Response:
        from lxml import etree

        self.urls.append(url)
        query = parse_qs(urlparse(url).query)
        if query.get("search_query", [""])[0]:
            name = "search_" + query["search_query"][0].replace(" ", "_") + ".xml"
            path = FIXTURES / name
            return _Response(path.read_bytes()) if path.exists() else _Response((FIXTURES / "empty.xml").read_bytes())
        wanted = set(query.get("id_list", [""])[0].split(","))
        root = etree.fromstring((FIXTURES / "by_id.xml").read_bytes())
        ns = {"a": "http://www.w3.org/2005/Atom", "o": "http://a9.com/-/spec/opensearch/1.1/"}
        kept = 0
        for entry in root.findall("a:entry", ns):
            ident = entry.findtext("a:id", namespaces=ns).split("/abs/")[1].rsplit("v", 1)[0]
            if ident in wanted:
                kept += 1
            else:
                root.remove(entry)
        root.find("o:totalResults", ns).text = str(kept)
        return _Response(etree.tostring(root))


@pytest.fixture
def client():
    if LIVE:
        import arxiv

        return arxiv.Client(delay_seconds=3.0)
    import arxiv

    recorded = arxiv.Client(delay_seconds=0.0, num_retries=0)
    recorded._session = RecordedSession()
    return recorded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1706.03762", "1706.03762"),
        ("1706.03762v5", "1706.03762"),
        ("arXiv:1810.04805", "1810.04805"),
        ("https://arxiv.org/abs/1810.04805v2", "1810.04805"),
        ("https://arxiv.org/pdf/1810.04805v2.pdf", "1810.04805"),
        ("hep-th/9711200", "hep-th/9711200"),
        ("math.DG/0211159v1", "math/0211159"),
        ("http://arxiv.org/abs/math.GT/0309136v1", "math/0309136"),
    ],
)
def test_parse_arxiv_id(text, expected):
    assert parse_arxiv_id(text) == expected


def test_parse_arxiv_id_rejects_junk():
    with pytest.raises(InputError, match="not an arXiv id"):
        parse_arxiv_id("attention is all you need")


def test_fetch_every_id_form(client):
    papers = fetch_arxiv(
        ["1706.03762v5", "https://arxiv.org/pdf/1810.04805v2.pdf", "hep-th/9711200", "math.DG/0211159v1"], client=client
    )
    assert [p.arxiv_id for p in papers] == ["1706.03762", "1810.04805", "hep-th/9711200", "math/0211159"]
    vaswani, bert, maldacena, perelman = papers
    assert vaswani.title == "Attention Is All You Need" and vaswani.year == 2017
    assert vaswani.authors[0] == "Ashish Vaswani" and len(vaswani.authors) == 8
    assert vaswani.venue == "arXiv preprint arXiv:1706.03762" and vaswani.entry_type == "misc"
    assert bert.title == "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    assert "\n" not in bert.abstract and bert.abstract.startswith("We introduce a new language representation")
    assert maldacena.doi == "10.1023/a:1026654312961" and maldacena.venue.startswith("Adv.Theor.Math.Phys")
    assert maldacena.entry_type == "article" and maldacena.year == 1997
    assert perelman.keywords == ("math.DG",)
    if not LIVE:
        assert "id_list=1706.03762%2C1810.04805%2Chep-th%2F9711200%2Cmath%2F0211159" in client._session.urls[0]


def test_unknown_id_is_named(client):
    with pytest.raises(InputError, match=r"unknown arXiv id: 9912\.99999"):
        fetch_arxiv(["1706.03762", "9912.99999"], client=client)


def test_search(client):
    papers = search_arxiv("citation recommendation", max_results=2, client=client)
    assert [p.arxiv_id for p in papers] == ["1802.08301", "2004.04906"]
    assert papers[1].authors[1] == "Barlas Oğuz"


def test_snapshot_streams_and_reports_malformed_line():
    problems = []
    progress = []
    papers = list(
        iter_arxiv_snapshot(
            FIXTURES / "snapshot.jsonl",
            problems=problems,
            progress=lambda stage, done, total: progress.append((done, total)),
        )
    )
    assert [p.arxiv_id for p in papers] == ["1706.03762", "hep-th/9711200", "1810.04805", "math/0211159", "2004.04906"]
    assert [p.line for p in problems] == [3]
    assert papers[0].authors[0] == "Ashish Vaswani" and papers[0].year == 2017
    assert papers[1].abstract.startswith("We show that the large N limit")
    assert papers[1].venue == "Adv.Theor.Math.Phys.2:231-252,1998" and papers[1].year == 1997
    assert papers[2].title.endswith("for Language Understanding")
    assert papers[4].authors[1] == "Barlas Oğuz"
    size = (FIXTURES / "snapshot.jsonl").stat().st_size
    assert progress[-1] == (size, size)


def test_snapshot_category_filter_and_limit():
    path = FIXTURES / "snapshot.jsonl"
    assert [p.arxiv_id for p in iter_arxiv_snapshot(path, categories=["cs.CL"], limit=2)] == [
        "1706.03762",
        "1810.04805",
    ]
    assert [p.arxiv_id for p in iter_arxiv_snapshot(path, categories=["math"])] == ["math/0211159"]


def test_snapshot_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        next(iter_arxiv_snapshot(tmp_path / "none.jsonl"))


def test_citation_keys():
    paper = Paper(key="x", title="Attention Is All You Need", authors=("Ashish Vaswani",), year=2017)
    assert base_key(paper) == "vaswani2017attention"
    assert (
        base_key(Paper(key="x", title="The Role of Ä in Ökonomie", authors=("Bernhard Schölkopf",), year=2001))
        == "scholkopf2001role"
    )
    assert base_key(Paper(key="x", title="On the 3 Limits", authors=("Łukasz Kaiser",))) == "kaiserlimits"
    taken = {"vaswani2017attention", "vaswani2017attentiona"}
    assert citation_key(paper, taken.__contains__) == "vaswani2017attentionb"
    full = {"vaswani2017attention", "vaswani2017attention2"} | {
        f"vaswani2017attention{c}" for c in "abcdefghijklmnopqrstuvwxyz"
    }
    assert citation_key(paper, full.__contains__) == "vaswani2017attention3"
