"""Semantic Scholar Graph API: a paper by DOI or arXiv id (`/paper/DOI:…`, `/paper/ARXIV:…`), else a title match.

`/paper/search/match` answers the single best title match (`{"data": [paper]}`,
404 when there is none); `match.decide` still checks its title, first author
and year. Without an API key the service allows about one request a second.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from citerec.enrich.http import HttpSettings, JsonClient, SourceError, text, year_of
from citerec.enrich.lookup import entry_request, search_words
from citerec.papers import Paper, extract_arxiv_id, normalise_doi

BASE_URL = "https://api.semanticscholar.org/graph/v1"
FIELDS = "title,abstract,year,venue,authors,externalIds"
MIN_INTERVAL_S = 1.1  # the shared, unauthenticated pool: one request a second
API_KEY_ENV = "SEMANTIC_SCHOLAR_API_KEY"


class SemanticScholarSource:
    name = "semanticscholar"

    def __init__(self, settings: HttpSettings, *, api_key: str = "", transport: Any = None, sleep: Any = None) -> None:
        import os

        key = api_key or os.environ.get(API_KEY_ENV, "")
        self._client = JsonClient(
            self.name,
            BASE_URL,
            settings.spaced(MIN_INTERVAL_S),
            transport=transport,
            headers={"x-api-key": key} if key else None,
            sleep=sleep,
        )

    @property
    def client(self) -> JsonClient:
        """The service's client: other requests (citing contexts) share its key and its rate limit."""
        return self._client

    def request(self, entry: Paper) -> str | None:
        return entry_request(entry)

    def fetch(self, entry: Paper) -> list[Paper]:
        request = entry_request(entry) or ""
        if request.startswith(("doi:", "arxiv:")):
            kind, ident = request.split(":", 1)
            prefix = "DOI" if kind == "doi" else "ARXIV"
            answer = self._client.get(f"/paper/{prefix}:{quote(ident, safe='/')}", {"fields": FIELDS})
            papers = [answer] if answer is not None else []
        else:
            answer = self._client.get("/paper/search/match", {"query": search_words(entry), "fields": FIELDS})
            if answer is None:
                papers = []
            elif isinstance(answer, dict) and isinstance(answer.get("data"), list):
                papers = answer["data"]
            else:
                raise SourceError(f"{self.name}: malformed answer (no data list)")
        if any(not isinstance(p, dict) for p in papers):
            raise SourceError(f"{self.name}: malformed answer (a paper is not an object)")
        return [record for record in (paper_to_record(p) for p in papers) if record is not None]


def paper_to_record(paper: dict[str, Any]) -> Paper | None:
    """A record from one Semantic Scholar paper; None when it lacks an id or a title (a partial answer)."""
    ident, title = text(paper.get("paperId")), text(paper.get("title"))
    if not ident or not title:
        return None
    ids = paper.get("externalIds") if isinstance(paper.get("externalIds"), dict) else {}
    authors = [text(a.get("name")) for a in paper.get("authors") or [] if isinstance(a, dict) and text(a.get("name"))]
    return Paper(
        key=f"s2:{ident}",
        title=title,
        abstract=text(paper.get("abstract")),
        authors=tuple(authors),
        year=year_of(paper.get("year")),
        venue=text(paper.get("venue")),
        doi=normalise_doi(text(ids.get("DOI"))),
        arxiv_id=extract_arxiv_id(text(ids.get("ArXiv"))),
        source="semanticscholar",
    )
