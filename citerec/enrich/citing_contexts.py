"""Semantic Scholar's citing contexts: the sentences other papers cite a paper with.

The paper is found as the metadata source finds it (`SemanticScholarSource`: by
DOI, else arXiv id, else the best title match, checked by `match.decide`), then
`/paper/{id}/citations` is read a page at a time until enough sentences are
kept. Many citing papers come without contexts (the service lacks their full
text), so a few pages may be read; `MAX_PAGES` bounds a much-cited paper's.
Empty, repeated and obviously broken sentences (a bare reference, a formula)
are dropped. Malformed answers are `SourceError`s; a paper the service does not
know is nothing found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from citerec.enrich.http import HttpSettings, SourceError, text, year_of
from citerec.enrich.match import MATCHED, Match, decide
from citerec.enrich.semanticscholar import SemanticScholarSource
from citerec.library_citing import CitingContext
from citerec.papers import Paper

CITATION_FIELDS = "contexts,intents,title,year,externalIds"
PAGE_SIZE = 100
MAX_PAGES = 5  # citations read per paper at most: 500 (most pages hold contexts enough on the first)
DEFAULT_CONTEXTS = 10
MIN_WORDS = 4  # words of letters a kept sentence has at least: "[12]" or "et al." describe nothing
MIN_LETTERS = 0.5  # share of letters among a kept sentence's characters: less is a formula or markup
_WORD = re.compile(r"[^\W\d_]{2,}")
_COMMAND = re.compile(r"\\[A-Za-z]+")
SOURCE = "semanticscholar"  # the name the contexts are kept under
RECORD_PREFIX = "s2:"  # how `semanticscholar.paper_to_record` names a paper's id


@dataclass(frozen=True)
class Found:
    """What the service gave for one entry: the verdict on its paper, and the contexts kept (none unless matched)."""

    match: Match
    contexts: tuple[CitingContext, ...] = ()

    @property
    def paper_id(self) -> str:
        record = self.match.record
        return record.key.removeprefix(RECORD_PREFIX) if record is not None and self.match.applied else ""


class CitingContextsSource:
    """Semantic Scholar asked for how others cite an entry's paper; requests share one client and its rate limit."""

    name = SOURCE

    def __init__(self, settings: HttpSettings, *, api_key: str = "", transport: Any = None, sleep: Any = None) -> None:
        self.papers = SemanticScholarSource(settings, api_key=api_key, transport=transport, sleep=sleep)

    def request(self, entry: Paper) -> str | None:
        """The cache key of the paper look-up (as the metadata source's): None when the entry has nothing to ask by."""
        return self.papers.request(entry)

    def resolve(self, entry: Paper, records: list[Paper] | None = None) -> Match:
        """The entry's paper at the service (`records`: its answer to the look-up, when already known)."""
        return decide(entry, self.papers.fetch(entry) if records is None else records)

    def find(self, entry: Paper, limit: int = DEFAULT_CONTEXTS, records: list[Paper] | None = None) -> Found:
        """The entry's paper and up to `limit` of the sentences others cite it with."""
        match = self.resolve(entry, records)
        found = Found(match)
        if match.status != MATCHED or not found.paper_id:
            return found
        return Found(match, tuple(self.contexts(entry.key, found.paper_id, match.matched_by, limit)))

    def contexts(self, key: str, paper_id: str, matched_by: str, limit: int = DEFAULT_CONTEXTS) -> list[CitingContext]:
        """Up to `limit` citing sentences of the paper `paper_id` (`key`: its library key), page by page."""
        kept: list[CitingContext] = []
        seen: set[str] = set()
        offset: int | None = 0
        path = f"/paper/{quote(paper_id, safe=':/')}/citations"
        for _ in range(MAX_PAGES):
            if offset is None or len(kept) >= limit:
                break
            params = {"fields": CITATION_FIELDS, "offset": offset, "limit": PAGE_SIZE}
            answer = self.papers.client.get(path, params)
            if answer is None:  # the service does not know the paper
                break
            items, offset = _page(answer, offset)
            for item in items:
                citing = item["citingPaper"]
                for sentence in _sentences(item.get("contexts")):
                    if len(kept) >= limit or sentence.casefold() in seen:
                        continue
                    seen.add(sentence.casefold())
                    kept.append(
                        CitingContext(
                            key,
                            sentence,
                            text(citing.get("paperId")),
                            text(citing.get("title")),
                            year_of(citing.get("year")),
                            matched_by,
                            paper_id,
                            self.name,
                        )
                    )
        return kept

    def close(self) -> None:
        self.papers.client.close()


def _page(answer: Any, offset: int) -> tuple[list[dict[str, Any]], int | None]:
    """The citations of one page and the next page's offset (None: the last page); checked for shape."""
    where = f"{SOURCE}: malformed citations answer (offset {offset})"
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
        raise SourceError(f"{where}: no data list")
    for item in answer["data"]:
        if not isinstance(item, dict) or not isinstance(item.get("citingPaper"), dict):
            raise SourceError(f"{where}: a citation without its citingPaper")
        contexts = item.get("contexts")
        if contexts is not None and (not isinstance(contexts, list) or any(not isinstance(c, str) for c in contexts)):
            raise SourceError(f"{where}: a context is not a string")
    following = answer.get("next")
    if following is not None and (not isinstance(following, int) or following <= offset):
        raise SourceError(f"{where}: next is not a later offset ({following!r})")
    return answer["data"], following if answer["data"] else None


def _sentences(contexts: list[str] | None) -> list[str]:
    """The contexts worth keeping, whitespace collapsed."""
    return [s for s in (" ".join(c.split()) for c in contexts or ()) if s and not is_junk(s)]


def is_junk(sentence: str) -> bool:
    """A context that describes nothing: too few words (LaTeX commands are no words), or mostly not letters
    (a formula, markup)."""
    plain = _COMMAND.sub(" ", sentence)
    if len(_WORD.findall(plain)) < MIN_WORDS:
        return True
    visible = [c for c in sentence if not c.isspace()]
    return sum(c.isalpha() for c in plain if not c.isspace()) < MIN_LETTERS * len(visible)
