"""arXiv → `Paper`: fetch by id, search, through the `arxiv` package (imported lazily).

Ids come in every form people paste: `1706.03762`, `1706.03762v5`,
`hep-th/9901001`, `math.GT/0309136v1`, `arXiv:…`, abs/pdf URLs. Keys are
provisional (`arxiv:<id>`) until `add_papers_with_keys` gives each a
Google-Scholar-style key unique in the library.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from citerec.errors import InputError
from citerec.ingest.snapshot import SnapshotProblem, iter_arxiv_snapshot
from citerec.papers import Paper, normalise_doi

log = logging.getLogger(__name__)

__all__ = ["SnapshotProblem", "fetch_arxiv", "iter_arxiv_snapshot", "parse_arxiv_id", "search_arxiv"]

_ID = re.compile(
    r"^(?:arxiv:)?\s*(?:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)?"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Za-z]{2})?/\d{7})(?P<version>v\d+)?(?:\.pdf)?/?$",
    re.IGNORECASE,
)


def parse_arxiv_id(text: str) -> str:
    """The versionless arXiv id in an id or URL; `InputError` when it is not one."""
    match = _ID.match(text.strip())
    if match is None:
        raise InputError(f"not an arXiv id or arXiv URL: {text!r} (expected e.g. 1706.03762 or hep-th/9901001)")
    ident = match.group("id")
    if "/" in ident:  # old style: the subject class (math.GT/…) is not part of the canonical id
        archive, number = ident.split("/")
        ident = archive.split(".")[0].lower() + "/" + number
    return ident


def _client(client: Any) -> Any:
    if client is not None:
        return client
    import arxiv

    return arxiv.Client(page_size=100, delay_seconds=3.0, num_retries=3)


def result_to_paper(result: Any) -> Paper:
    """A `Paper` from an `arxiv.Result`; the key is provisional (`arxiv:<id>`)."""
    short = result.get_short_id()
    ident = re.sub(r"v\d+$", "", short)
    year = result.published.year if getattr(result, "published", None) else None
    journal = (result.journal_ref or "").strip()
    return Paper(
        key=f"arxiv:{ident}",
        title=" ".join(result.title.split()),
        abstract=" ".join((result.summary or "").split()),
        authors=tuple(a.name for a in result.authors),
        year=year,
        venue=journal or f"arXiv preprint arXiv:{ident}",
        doi=normalise_doi(result.doi or ""),
        arxiv_id=ident,
        keywords=tuple(result.categories),
        entry_type="article" if journal else "misc",
        url=f"https://arxiv.org/abs/{ident}",
        source="arxiv",
        extra=(("primaryclass", result.primary_category),) if result.primary_category else (),
    )


def fetch_arxiv(ids: Sequence[str], *, client: Any = None) -> list[Paper]:
    """Papers for arXiv ids/URLs, in the order given; unknown ids raise one `InputError` naming them."""
    import arxiv

    wanted = [parse_arxiv_id(i) for i in ids]
    if not wanted:
        return []
    search = arxiv.Search(id_list=wanted, max_results=len(wanted))
    try:
        results = list(_client(client).results(search))
    except arxiv.ArxivError as exc:
        raise InputError(f"arXiv request failed: {exc}") from exc
    except OSError as exc:
        raise InputError(f"cannot reach arXiv: {exc}") from exc
    found = {}
    for result in results:
        if not result.title or result.title.strip().lower() == "error":
            continue
        paper = result_to_paper(result)
        found[paper.arxiv_id.lower()] = paper
    missing = [i for i in wanted if i.lower() not in found]
    if missing:
        raise InputError(f"unknown arXiv id{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    return [found[i.lower()] for i in wanted]


def search_arxiv(query: str, max_results: int = 10, *, client: Any = None) -> list[Paper]:
    """The first `max_results` papers arXiv's search ranks best for `query`."""
    import arxiv

    if not query.strip():
        raise InputError("empty arXiv query")
    search = arxiv.Search(query=query, max_results=max_results)
    try:
        return [result_to_paper(r) for r in _client(client).results(search)]
    except arxiv.ArxivError as exc:
        raise InputError(f"arXiv request failed: {exc}") from exc
    except OSError as exc:
        raise InputError(f"cannot reach arXiv: {exc}") from exc
