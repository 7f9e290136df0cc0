"""`Paper`s → BibTeX text that plain BibTeX accepts and `read_bibtex` reads back equal.

Field order is fixed (who, what, where, when, ids, abstract, then the rest
alphabetically) so that exports diff cleanly. Text fields are escaped back to
LaTeX; identifiers and URLs are written as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

from citerec.ingest.bibtex import RAW_FIELDS, VENUE_FIELDS
from citerec.ingest.texconv import text_to_latex
from citerec.papers import Paper

_TYPE_VENUE = {
    "article": "journal",
    "inproceedings": "booktitle",
    "conference": "booktitle",
    "incollection": "booktitle",
    "inbook": "booktitle",
    "phdthesis": "school",
    "mastersthesis": "school",
    "thesis": "school",
    "techreport": "institution",
    "report": "institution",
    "book": "publisher",
    "booklet": "howpublished",
    "manual": "publisher",
}
_LEADING = ("author", "editor", "title")
_MIDDLE = ("year", "volume", "number", "pages", "month", "publisher", "address")
_IDS = ("doi", "eprint", "archiveprefix", "url")
_NAMES = {"archiveprefix": "archivePrefix"}


def papers_to_bibtex(papers: Iterable[Paper]) -> str:
    """One BibTeX entry per paper, separated by blank lines."""
    return "\n".join(paper_to_bibtex(p) for p in papers)


def paper_to_bibtex(paper: Paper) -> str:
    fields = _fields(paper)
    width = max((len(_NAMES.get(n, n)) for n in fields), default=0)
    lines = [f"@{paper.entry_type or 'misc'}{{{paper.key},"]
    for name, value in fields.items():
        lines.append(f"  {_NAMES.get(name, name):<{width}} = {{{value}}},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _fields(paper: Paper) -> dict[str, str]:
    """Field name → LaTeX value, in output order."""
    extra = dict(paper.extra)
    values: dict[str, str] = {}
    if paper.authors:
        values["author"] = " and ".join(_name(a) for a in paper.authors)
    values["title"] = "{" + text_to_latex(paper.title) + "}"  # double braces keep the capitalisation
    venue_field = _venue_field(paper, extra)
    if venue_field:
        values[venue_field] = text_to_latex(paper.venue)
    if paper.year is not None:
        values["year"] = str(paper.year)
    if paper.doi:
        values["doi"] = _raw(paper.doi)
    if paper.arxiv_id:
        values["eprint"] = paper.arxiv_id
        values["archiveprefix"] = "arXiv"
        if categories := extra.pop("primaryclass", ""):
            values["primaryclass"] = _raw(categories)
    if paper.url:
        values["url"] = _raw(paper.url)
    if paper.keywords:
        values["keywords"] = text_to_latex(", ".join(paper.keywords))
    if paper.abstract:
        values["abstract"] = text_to_latex(paper.abstract)
    for name, value in extra.items():
        if name in values or not value:
            continue
        if name == "editor":
            values[name] = " and ".join(_name(n) for n in value.split(" and "))
        else:
            values[name] = _raw(value) if name in RAW_FIELDS else text_to_latex(value)
    order = {
        n: i for i, n in enumerate((*_LEADING, *VENUE_FIELDS, *_MIDDLE, *_IDS, "primaryclass", "keywords", "abstract"))
    }
    return dict(sorted(values.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def _name(name: str) -> str:
    """'First Last' as BibTeX reads it back; a name with a comma is braced so it stays one name."""
    latex = text_to_latex(name)
    return "{" + latex + "}" if "," in name or " and " in f" {name} " else latex


def _venue_field(paper: Paper, extra: dict[str, str]) -> str:
    """Where the venue goes: the type's usual field, unless a field read first on import is taken."""
    if not paper.venue:
        return ""
    taken = [VENUE_FIELDS.index(f) for f in VENUE_FIELDS if extra.get(f)]
    limit = min(taken, default=len(VENUE_FIELDS))
    preferred = _TYPE_VENUE.get(paper.entry_type, "howpublished")
    if preferred not in extra and VENUE_FIELDS.index(preferred) < limit:
        return preferred
    return next((f for f in VENUE_FIELDS[:limit] if f not in extra), "")


def _raw(value: str) -> str:
    """Identifiers and URLs are written verbatim; only unbalanced braces are dropped."""
    if value.count("{") != value.count("}"):
        return value.replace("{", "").replace("}", "")
    return value
