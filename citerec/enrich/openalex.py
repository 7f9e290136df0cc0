"""OpenAlex (api.openalex.org): works by DOI (an arXiv preprint by its 10.48550 DOI), else a title search.

Answers are `/works` lists (`{"meta": …, "results": [work, …]}`); a work's abstract
comes as an inverted index (word → positions) and is put back in order. The
`mailto` parameter puts requests in OpenAlex's polite pool.
"""

from __future__ import annotations

from typing import Any

from citerec.enrich.http import HttpSettings, JsonClient, SourceError, text, year_of
from citerec.enrich.lookup import entry_request, search_words
from citerec.papers import Paper, extract_arxiv_id, normalise_doi

BASE_URL = "https://api.openalex.org"
MIN_INTERVAL_S = 0.1  # OpenAlex allows 10 requests a second
SEARCH_RESULTS = 10


class OpenAlexSource:
    name = "openalex"

    def __init__(self, settings: HttpSettings, *, transport: Any = None, sleep: Any = None) -> None:
        self._client = JsonClient(
            self.name, BASE_URL, settings.spaced(MIN_INTERVAL_S), transport=transport, sleep=sleep
        )
        self._mailto = settings.mailto

    def request(self, entry: Paper) -> str | None:
        return entry_request(entry)

    def fetch(self, entry: Paper) -> list[Paper]:
        params: dict[str, Any] = {"mailto": self._mailto} if self._mailto else {}
        request = entry_request(entry) or ""
        if request.startswith("doi:"):
            params["filter"] = f"doi:{request[4:]}"
        elif request.startswith("arxiv:"):
            params["filter"] = f"doi:10.48550/arxiv.{request[6:]}"
        else:
            params["search"] = search_words(entry)
            params["per-page"] = SEARCH_RESULTS
            if entry.year:
                params["filter"] = f"publication_year:{entry.year - 1}-{entry.year + 1}"
        answer = self._client.get("/works", params)
        if answer is None:
            return []
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise SourceError(f"{self.name}: malformed answer (no results list)")
        return [paper for paper in (work_to_paper(w) for w in results if isinstance(w, dict)) if paper is not None]


def work_to_paper(work: dict[str, Any]) -> Paper | None:
    """A record from one OpenAlex work; None when it lacks an id or a title (a partial answer)."""
    ident, title = text(work.get("id")), text(work.get("title")) or text(work.get("display_name"))
    if not ident or not title:
        return None
    authors = []
    for authorship in work.get("authorships") or []:
        author = authorship.get("author") if isinstance(authorship, dict) else None
        name = text(author.get("display_name")) if isinstance(author, dict) else ""
        if name:
            authors.append(name)
    doi = normalise_doi(text(work.get("doi")))
    return Paper(
        key=f"openalex:{ident.rsplit('/', 1)[-1]}",
        title=title,
        abstract=abstract_from_index(work.get("abstract_inverted_index")),
        authors=tuple(authors),
        year=year_of(work.get("publication_year")),
        venue=_venue(work),
        doi="" if doi.startswith("10.48550/") else doi,
        arxiv_id=_arxiv_id(work, doi),
        source="openalex",
    )


def abstract_from_index(index: Any) -> str:
    """The abstract from OpenAlex's inverted index ({word: [positions]}); '' when missing or malformed."""
    if not isinstance(index, dict):
        return ""
    placed: dict[int, str] = {}
    for word, positions in index.items():
        for position in positions if isinstance(positions, list) else []:
            if isinstance(position, int):
                placed[position] = str(word)
    return " ".join(placed[p] for p in sorted(placed))


def _venue(work: dict[str, Any]) -> str:
    location = work.get("primary_location")
    source = location.get("source") if isinstance(location, dict) else None
    return text(source.get("display_name")) if isinstance(source, dict) else ""


def _arxiv_id(work: dict[str, Any], doi: str) -> str:
    if doi.startswith("10.48550/arxiv."):
        return extract_arxiv_id(doi.split("arxiv.", 1)[1])
    for location in work.get("locations") or []:
        if isinstance(location, dict):
            for field in ("landing_page_url", "pdf_url"):
                url = text(location.get(field))
                if "arxiv.org" in url and (found := extract_arxiv_id(url)):
                    return found
    return ""
