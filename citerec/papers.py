"""The `Paper` record shared by every module, and key/title/id normalisation.

A paper is immutable: modules pass `Paper`s to each other and build new ones
with `dataclasses.replace` instead of mutating shared state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?", re.IGNORECASE)
_DOI = re.compile(r"10\.\d{4,9}/\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Paper:
    """One bibliography entry, whatever it was imported from."""

    key: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str = ""
    doi: str = ""
    arxiv_id: str = ""
    keywords: tuple[str, ...] = ()
    entry_type: str = "article"
    url: str = ""
    source: str = ""
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def document_text(self, with_abstract: bool = True) -> str:
        """Text that represents the paper for retrieval: title, then abstract."""
        if with_abstract and self.abstract:
            return f"{self.title}. {self.abstract}"
        return self.title

    def content_hash(self) -> str:
        """Hash of what retrieval sees, so an index can tell changed papers."""
        payload = json.dumps(
            [self.title, self.abstract, list(self.authors), self.year, self.venue, list(self.keywords)],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (no `dataclasses.asdict`: its deep copies dominate a bulk import)."""
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["authors"] = list(self.authors)
        data["keywords"] = list(self.keywords)
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Paper:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["authors"] = tuple(values.get("authors") or ())
        values["keywords"] = tuple(values.get("keywords") or ())
        values["extra"] = tuple(sorted((values.get("extra") or {}).items()))
        return cls(**values)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Paper))


def normalise_title(title: str) -> str:
    """Lower-case, accent-free, punctuation-free title for duplicate detection."""
    text = title
    if not text.isascii():
        text = unicodedata.normalize("NFKD", title)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(text.split())


def first_free_key(base: str, taken: Callable[[str], bool]) -> str:
    """`base`, else `base` + a, b, …, z, then `base` + 2, 3, … — the first that is not `taken`."""
    if not taken(base):
        return base
    for suffix in "abcdefghijklmnopqrstuvwxyz":
        if not taken(base + suffix):
            return base + suffix
    number = 2
    while taken(f"{base}{number}"):
        number += 1
    return f"{base}{number}"


def normalise_key(key: str) -> str:
    """Citation keys compare case-insensitively, as BibTeX does."""
    return key.strip().lower()


def normalise_doi(doi: str) -> str:
    """Bare lower-case DOI (`10.x/y`) from a DOI, a doi: or an https://doi.org URL."""
    match = _DOI.search(doi.strip())
    return match.group(0).rstrip(".,;").lower() if match else ""


def extract_arxiv_id(text: str) -> str:
    """arXiv id without version from an id, an abs/pdf URL or a 10.48550 DOI; '' if none."""
    text = text.strip()
    if not text:
        return ""
    match = _ARXIV_NEW.search(text)
    if match:
        return match.group(1)
    match = _ARXIV_OLD.search(text)
    if match and ("arxiv" in text.lower() or re.fullmatch(r"\s*" + re.escape(match.group(0)) + r"\s*", text)):
        archive, number = match.group(1).split("/")
        return f"{archive.split('.')[0].lower()}/{number}"  # math.GT/0309136 is math/0309136
    return ""
