"""What every online source shares: the protocol the runner drives, and how an entry is asked for.

An entry is asked for by DOI when it has one, else by arXiv id, else by its
title (with the first author and year, which a search may use and the cache key
holds). The request names the answer in the library's cache, so the same entry
is never asked twice of one source.
"""

from __future__ import annotations

from typing import Protocol

from citerec.enrich.match import TitleForm, first_surname
from citerec.papers import Paper, extract_arxiv_id, normalise_doi


class OnlineSource(Protocol):
    """A metadata service asked one entry at a time; its answers are candidate records for `match.decide`."""

    name: str

    def request(self, entry: Paper) -> str | None:
        """The cache key of what `fetch` would ask for `entry`; None when this source cannot look it up."""
        ...

    def fetch(self, entry: Paper) -> list[Paper]:
        """The records the service gives for `entry` (raises `SourceError` when it cannot answer)."""
        ...


def entry_request(entry: Paper, *, by_doi: bool = True, by_arxiv: bool = True) -> str | None:
    """`doi:…`, `arxiv:…` or `title:<letters>|<surname>|<year>` for `entry`; None when it has none of them."""
    if by_doi and (doi := normalise_doi(entry.doi)):
        return f"doi:{doi}"
    if by_arxiv and (arxiv := extract_arxiv_id(entry.arxiv_id)):
        return f"arxiv:{arxiv}"
    form = TitleForm.of(entry.title)
    if not form.letters:
        return None
    return f"title:{form.letters}|{first_surname(entry)}|{entry.year or ''}"


def search_words(entry: Paper) -> str:
    """The entry's title as plain words, for a search box (no LaTeX, no punctuation a query language reads)."""
    return " ".join(TitleForm.of(entry.title).words)
