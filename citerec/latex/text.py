"""LaTeX → readable text for retrieval, with citation commands and placeholders removed.

The conversion (pylatexenc) is most of the time a re-run spends reading a thesis (about 1.3 s for 800
fragments), and a re-run after an edit converts the same fragments again. A caller may lend a memo
(`remembered`) that keeps each fragment's text between runs; `converter_version` names the code that
made a text, so a changed converter never reads an old one back.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

from citerec.latex.cites import Citation

_DROP_MACROS = (
    "label",
    "ref",
    "eqref",
    "cref",
    "Cref",
    "autoref",
    "pageref",
    "nameref",
    "url",
    "index",
    "includegraphics",
    "vspace",
    "hspace",
    "footnotemark",
    "protect",
    "centering",
    "noindent",
    "newpage",
    "clearpage",
    "bibliography",
    "bibliographystyle",
    "printbibliography",
    "maketitle",
)
_DISPLAY_MATH = (
    "equation",
    "equation*",
    "align",
    "align*",
    "gather",
    "gather*",
    "multline",
    "multline*",
    "eqnarray",
    "eqnarray*",
    "displaymath",
    "flalign",
    "flalign*",
    "alignat",
    "alignat*",
)


@functools.lru_cache(maxsize=1)
def _converter() -> Any:
    """One configured pylatexenc converter (built lazily: the import is not free)."""
    from pylatexenc.latex2text import EnvironmentTextSpec, LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

    db = get_default_latex_context_db()
    db.add_context_category(
        "citerec",
        prepend=True,
        macros=[MacroTextSpec(name, simplify_repl="") for name in _DROP_MACROS]
        + [MacroTextSpec("footnote", simplify_repl=" (%(1)s)")],
        environments=[EnvironmentTextSpec(name, simplify_repl=" ") for name in _DISPLAY_MATH],
    )
    return LatexNodes2Text(latex_context=db, math_mode="text", strict_latex_spaces=False)


def remove_citations(latex: str, citations: Sequence[Citation], offset: int = 0) -> str:
    """`latex` (starting at source offset `offset`) without the given citation spans and a "~" before them."""
    parts: list[str] = []
    pos = 0
    for cit in citations:
        a, b = cit.start - offset, cit.end - offset
        if a < pos or b > len(latex):
            continue
        head = latex[pos:a].rstrip(" \t\x01")
        if head.endswith("~"):
            head = head[:-1]
        parts.append(head + " ")
        pos = b
    parts.append(latex[pos:])
    return "".join(parts)


def tidy(text: str) -> str:
    """Collapse whitespace and the gaps left by removed citations."""
    text = text.replace("\x01", "").replace("\xa0", " ")
    text = " ".join(text.split())
    text = re.sub(r"\(\s*(?:[,;]\s*)*\)|\[\s*(?:[,;]\s*)*\]", "", text)
    text = re.sub(r"\s+([.,;:!?)\]])", r"\1", text)
    text = re.sub(r"([(\[])\s+", r"\1", text)
    text = re.sub(r"([,;])(?:\s*[,;])+", r"\1", text)
    return " ".join(text.split())


@functools.lru_cache(maxsize=1)
def _walker_context() -> Any:
    """The parser's macro table, built once: pylatexenc builds it anew for every fragment otherwise
    (about 0.4 ms each, most of the time spent on a draft's sentences)."""
    from pylatexenc.latexwalker import get_default_latex_context_db

    return get_default_latex_context_db()


class TextMemo(Protocol):
    """Texts kept by fragment (`citerec.suggest.reading.KeptTexts` keeps them in the recall cache)."""

    def get(self, latex: str) -> str | None: ...

    def put(self, latex: str, text: str) -> None: ...


_memo: ContextVar[TextMemo | None] = ContextVar("citerec_latex_text_memo", default=None)


@contextmanager
def remembered(memo: TextMemo) -> Iterator[None]:
    """Within the block (this thread or task), `latex_to_text` looks each fragment up in `memo` first."""
    token = _memo.set(memo)
    try:
        yield
    finally:
        _memo.reset(token)


@functools.lru_cache(maxsize=1)
def converter_version() -> str:
    """What made a text: this module's code and pylatexenc's version (a kept text of other code is not read)."""
    from importlib.metadata import version

    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"{digest}:pylatexenc-{version('pylatexenc')}"


def latex_to_text(latex: str) -> str:
    """Readable text of a LaTeX fragment; never raises on malformed input."""
    memo = _memo.get()
    if memo is None:
        return _converted(latex)
    known = memo.get(latex)
    if known is None:
        known = _converted(latex)
        memo.put(latex, known)
    return known


def _converted(latex: str) -> str:
    latex = latex.replace("\x01", "")
    try:
        text = _converter().latex_to_text(latex, latex_context=_walker_context())
    except Exception:  # pylatexenc is tolerant, but a fragment may still trip it
        text = re.sub(r"\\[A-Za-z@]+\*?|[{}$]", " ", latex)
    return tidy(text)
