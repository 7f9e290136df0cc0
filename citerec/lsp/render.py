"""How a library entry reads in the editor: one-line detail, Markdown for hovers and documentation."""

from __future__ import annotations

from citerec.papers import Paper

MAX_ABSTRACT = 1200  # characters of abstract shown (a popup, not a reader)


def authors_short(paper: Paper, most: int = 3) -> str:
    names = [a.strip() for a in paper.authors if a.strip()]
    shown = ", ".join(names[:most])
    return f"{shown} et al." if len(names) > most else shown


def byline(paper: Paper) -> str:
    """`Authors (year), venue`: what identifies a paper after its title."""
    text = " ".join(x for x in (authors_short(paper), f"({paper.year})" if paper.year else "") if x)
    if paper.venue.strip():
        text = f"{text}, {paper.venue.strip()}" if text else paper.venue.strip()
    return text


def detail(paper: Paper) -> str:
    """Completion detail: title, authors and year on one line."""
    return " — ".join(x for x in (paper.title.strip(), byline(paper)) if x)


def escape(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_{}[]<>#|" else c for c in text)


def abstract_markdown(paper: Paper) -> str:
    abstract = " ".join(paper.abstract.split())
    if len(abstract) > MAX_ABSTRACT:
        abstract = abstract[:MAX_ABSTRACT].rsplit(" ", 1)[0] + " …"
    return escape(abstract)


def why_markdown(why: tuple[str, ...]) -> str:
    """What supported a suggestion (the draft evidence, the readings), one line each."""
    return "\n".join(["**Why**"] + [f"- {escape(line)}" for line in why])


def entry_markdown(paper: Paper) -> str:
    """Hover text for a cited key: title, byline, identifiers, abstract."""
    lines = [f"**{escape(paper.title.strip() or paper.key)}**"]
    if byline(paper):
        lines.append(escape(byline(paper)))
    ids = []
    if paper.doi:
        ids.append(f"DOI [{escape(paper.doi)}](https://doi.org/{paper.doi})")
    if paper.arxiv_id:
        ids.append(f"arXiv [{escape(paper.arxiv_id)}](https://arxiv.org/abs/{paper.arxiv_id})")
    if ids:
        lines.append(" · ".join(ids))
    if paper.abstract.strip():
        lines.append("")
        lines.append(abstract_markdown(paper))
    lines.append("")
    lines.append(f"`{paper.key}`")
    return "\n".join(lines).replace("\n", "  \n").replace("  \n  \n", "\n\n")
