"""LaTeX ⇄ Unicode for bibliography fields (pylatexenc, imported lazily).

Import turns `{\\"u}`, `\\'e`, `{\\ss}`, `--`, `\\emph{x}` and case-protecting
braces into plain Unicode so that retrieval and display see real text.
Export escapes the characters BibTeX/LaTeX would misread and writes
non-ASCII letters as LaTeX accents, so the .bib works with plain BibTeX.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

_NEEDS_LATEX = re.compile(r"[\\{}$~]|--|``|''")
_SPECIALS = {
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "\\": r"\textbackslash{}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile(r"[&%#_${}\\~^]")
_BARE_PERCENT = re.compile(r"(?<!\\)%")


@functools.lru_cache(maxsize=1)
def _decoder() -> Any:
    from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

    context = get_default_latex_context_db().filter_context(keep_categories=None)
    context.add_context_category(
        "citerec",
        prepend=True,
        macros=[
            MacroTextSpec("url", "%(1)s"),
            MacroTextSpec("href", "%(2)s"),
            MacroTextSpec("cite", ""),
            MacroTextSpec("citep", ""),
            MacroTextSpec("citet", ""),
            MacroTextSpec("ensuremath", "%(1)s"),
            MacroTextSpec("textasciitilde", "~"),
            MacroTextSpec("textbackslash", "\\"),
            MacroTextSpec("textasciicircum", "^"),
        ],
    )
    return LatexNodes2Text(latex_context=context, math_mode="text", strict_latex_spaces=False)


_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})


def latex_to_text(value: str) -> str:
    """Unicode text of a BibTeX field value; plain values pass through untouched."""
    value = value.translate(_LIGATURES)  # PDF-copied abstracts: 'deﬁnition' must match 'definition'
    if not _NEEDS_LATEX.search(value):
        return " ".join(value.split())
    value = _BARE_PERCENT.sub(r"\\%", value)  # in a .bib a bare % is text, not a LaTeX comment
    try:
        text = _decoder().latex_to_text(value)
    except Exception:  # pylatexenc is tolerant, but a field must never break an import
        text = value.replace("{", "").replace("}", "")
    text = text.replace("\xa0", " ")
    return " ".join(text.split())


@functools.lru_cache(maxsize=1)
def _encoder() -> Any:
    from pylatexenc.latexencode import UnicodeToLatexEncoder

    return UnicodeToLatexEncoder(
        non_ascii_only=True,
        replacement_latex_protection="braces-all",
        unknown_char_policy="keep",
        unknown_char_warning=False,
    )


def text_to_latex(value: str) -> str:
    """A BibTeX-safe field value for Unicode `value` (specials escaped, accents as macros)."""
    escaped = _SPECIAL_RE.sub(lambda m: _SPECIALS[m.group(0)], value)
    if escaped.isascii():
        return escaped
    return "".join(_encode_char(c) for c in escaped)


def _encode_char(char: str) -> str:
    """Letters become LaTeX accents/macros (ü → {\\"u}); other symbols stay Unicode, as UTF-8 BibTeX allows."""
    if char.isascii() or not unicodedata.category(char).startswith("L"):
        return char
    return _encoder().unicode_to_latex(char)
