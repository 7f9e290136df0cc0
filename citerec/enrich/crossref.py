"""Crossref (api.crossref.org): a work by DOI (`/works/{doi}`), else a bibliographic query.

A DOI answer is `{"status": "ok", "message": work}`, a query answer
`{"message": {"items": [work, …]}}`. Titles and subtitles come as lists, dates
as `date-parts`, abstracts (when a publisher deposited one) as JATS XML, whose
tags are dropped. `mailto` puts requests in Crossref's polite pool.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from citerec.enrich.http import HttpSettings, JsonClient, SourceError, text, year_of
from citerec.enrich.lookup import entry_request, search_words
from citerec.enrich.match import first_surname
from citerec.papers import Paper, extract_arxiv_id, normalise_doi

BASE_URL = "https://api.crossref.org"
MIN_INTERVAL_S = 0.1
SEARCH_ROWS = 5
_TAG = re.compile(r"<[^>]+>")
_JATS_TITLE = re.compile(r"<jats:title>.*?</jats:title>", re.IGNORECASE | re.DOTALL)


class CrossrefSource:
    name = "crossref"

    def __init__(self, settings: HttpSettings, *, transport: Any = None, sleep: Any = None) -> None:
        self._client = JsonClient(
            self.name, BASE_URL, settings.spaced(MIN_INTERVAL_S), transport=transport, sleep=sleep
        )
        self._mailto = settings.mailto

    def request(self, entry: Paper) -> str | None:
        return entry_request(entry, by_arxiv=False)  # arXiv DOIs are DataCite's, not Crossref's

    def fetch(self, entry: Paper) -> list[Paper]:
        params: dict[str, Any] = {"mailto": self._mailto} if self._mailto else {}
        request = self.request(entry) or ""
        if request.startswith("doi:"):
            answer = self._client.get(f"/works/{quote(request[4:], safe='/')}", params)
            if answer is None:
                return []
            work = answer.get("message") if isinstance(answer, dict) else None
            if not isinstance(work, dict):
                raise SourceError(f"{self.name}: malformed answer (no message)")
            paper = work_to_paper(work)
            return [paper] if paper is not None else []
        query = " ".join(part for part in (search_words(entry), first_surname(entry), str(entry.year or "")) if part)
        answer = self._client.get("/works", {**params, "query.bibliographic": query, "rows": SEARCH_ROWS})
        message = answer.get("message") if isinstance(answer, dict) else None
        items = message.get("items") if isinstance(message, dict) else None
        if answer is not None and not isinstance(items, list):
            raise SourceError(f"{self.name}: malformed answer (no items list)")
        return [paper for paper in (work_to_paper(w) for w in items or [] if isinstance(w, dict)) if paper is not None]


def work_to_paper(work: dict[str, Any]) -> Paper | None:
    """A record from one Crossref work; None when it lacks a DOI or a title (a partial answer)."""
    doi = normalise_doi(text(work.get("DOI")))
    title = _first(work.get("title"))
    if not doi or not title:
        return None
    if subtitle := _first(work.get("subtitle")):
        title = f"{title}: {subtitle}"
    authors = []
    for author in work.get("author") or []:
        if isinstance(author, dict):
            name = " ".join(p for p in (text(author.get("given")), text(author.get("family"))) if p)
            if name := name or text(author.get("name")):
                authors.append(name)
    return Paper(
        key=f"crossref:{doi}",
        title=title,
        abstract=jats_to_text(work.get("abstract")),
        authors=tuple(authors),
        year=_year(work),
        venue=_first(work.get("container-title")),
        doi=doi,
        arxiv_id=extract_arxiv_id(doi.split("arxiv.", 1)[1]) if doi.startswith("10.48550/arxiv.") else "",
        source="crossref",
    )


def jats_to_text(value: Any) -> str:
    """An abstract's text from Crossref's JATS XML (its 'Abstract' heading dropped)."""
    if not isinstance(value, str):
        return ""
    import html

    return " ".join(html.unescape(_TAG.sub(" ", _JATS_TITLE.sub(" ", value))).split())


def _first(value: Any) -> str:
    if isinstance(value, list):
        return next((text(v) for v in value if text(v)), "")
    return text(value)


def _year(work: dict[str, Any]) -> int | None:
    for field in ("issued", "published", "published-print", "published-online", "created"):
        date = work.get(field)
        parts = date.get("date-parts") if isinstance(date, dict) else None
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            if (year := year_of(parts[0][0])) is not None:
                return year
    return None
