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
            MacroTextSpec("textbraceleft", "{"),
            MacroTextSpec("textbraceright", "}"),
        ],
    )
    return LatexNodes2Text(latex_context=context, math_mode="text", strict_latex_spaces=False)


_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})


def latex_to_text(value: str) -> str:
    """Unicode text of a BibTeX field value; plain values pass through untouched."""
    if not value.isascii():
        value = value.translate(_LIGATURES)  # PDF-copied abstracts: 'deﬁnition' must match 'definition'
    if not _NEEDS_LATEX.search(value):
        return " ".join(value.split())
    value = _BARE_PERCENT.sub(r"\\%", value)  # in a .bib a bare % is text, not a LaTeX comment
    text = simple_latex_to_text(value)
    if text is None:
        try:
            text = _decoder().latex_to_text(value)
        except Exception:  # pylatexenc is tolerant, but a field must never break an import
            text = value.replace("{", "").replace("}", "")
    text = text.replace("\xa0", " ")
    return " ".join(text.split())


# The LaTeX that real bibliographies are made of (accents, escaped specials, dashes, quotes, case-protecting
# braces, emphasis) converted by a few regular expressions, as pylatexenc would convert it: an import of
# 100k entries spends its time here otherwise (pylatexenc takes ~20 ms for a long abstract with one `--`).
_COMBINING = {
    '"': "\u0308",
    "'": "\u0301",
    "^": "\u0302",
    "`": "\u0300",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
_SYMBOL_ACCENT = re.compile(r"""\\(["'^`~=.])\s*(?:\{\s*(\\[ij](?![A-Za-z])|[A-Za-z])\s*\}|([A-Za-z]))""")
_LETTER_ACCENT = re.compile(r"\\([uvHckr])(?:\s*\{\s*(\\[ij](?![A-Za-z])|[A-Za-z])\s*\}|\s+([A-Za-z]))")
_LETTERS = {
    "ss": "ß",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "o": "ø",
    "O": "Ø",
    "l": "ł",
    "L": "Ł",
}
_LETTER = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|o|O|l|L)(?![A-Za-z])(?:\{\}|\s*)")
_ESCAPE = re.compile(r"\\([%&_#$])")
_SPACE_MACRO = re.compile(r"\\[,;: ]")
_FORMAT_WITH_ARG = re.compile(r"\\(?:emph|textit|textbf|textsc|textrm|textsf|texttt|textup|textnormal)\s*(?=\{)")
_FORMAT_SWITCH = re.compile(r"\\(?:em|it|bf|sc|rm|sf|tt|bfseries|itshape|scshape|upshape)(?![A-Za-z])\s*")


def _accent(match: re.Match[str]) -> str:
    base = match.group(2) or match.group(3)
    base = {"\\i": "i", "\\j": "j"}.get(base, base)
    return unicodedata.normalize("NFC", base + _COMBINING[match.group(1)])


def simple_latex_to_text(value: str) -> str | None:
    """`value` as text when it holds only simple LaTeX; None when it needs the full converter."""
    text = _SYMBOL_ACCENT.sub(_accent, value)
    text = _LETTER_ACCENT.sub(_accent, text)
    text = _LETTER.sub(lambda m: _LETTERS[m.group(1)], text)
    text = _FORMAT_WITH_ARG.sub("", text)
    text = _FORMAT_SWITCH.sub("", text)
    text = _SPACE_MACRO.sub(" ", text)
    text = _ESCAPE.sub("\x00\\1", text)  # escaped specials are protected from the steps below
    if "\\" in text or "$" in text.replace("\x00$", ""):
        return None
    text = text.replace("---", "\u2014").replace("--", "\u2013").replace("``", "\u201c").replace("''", "\u201d")
    text = text.replace("~", " ").replace("{", "").replace("}", "")
    return text.replace("\x00", "")


@functools.lru_cache(maxsize=1)
def _encoder() -> Any:
    from pylatexenc.latexencode import UnicodeToLatexEncoder

    return UnicodeToLatexEncoder(
        non_ascii_only=True,
        replacement_latex_protection="braces-all",
        unknown_char_policy="keep",
        unknown_char_warning=False,
    )


# Character pairs TeX would turn into one (dashes, quotes): split with {} so they read back as written.
_LIGATURE_PAIRS = re.compile(r"-(?=-)|`(?=`)|'(?=')|[?!](?=`)")


def text_to_latex(value: str) -> str:
    """A BibTeX-safe field value for Unicode `value` (specials escaped, accents as macros).

    `latex_to_text` reads it back as `value` (whitespace aside): braces are balanced,
    `--` stays two hyphens, and a letter becomes a macro only when that macro reads back
    as the same letter (else it stays Unicode, as UTF-8 BibTeX allows).
    """
    escaped = _SPECIAL_RE.sub(lambda m: _SPECIALS[m.group(0)], value)
    if not _well_nested(value):  # BibTeX counts every brace, escaped or not: \{ alone ends the entry early
        escaped = escaped.replace("\\{", "\\textbraceleft{}").replace("\\}", "\\textbraceright{}")
    escaped = _LIGATURE_PAIRS.sub(lambda m: m.group(0) + "{}", escaped)
    if escaped.isascii():
        return escaped
    return "".join(_encode_char(c) for c in escaped)


def _well_nested(value: str) -> bool:
    depth = 0
    for char in value:
        if char in "{}":
            depth += 1 if char == "{" else -1
            if depth < 0:
                return False
    return depth == 0


@functools.lru_cache(maxsize=4096)
def _encode_char(char: str) -> str:
    """Letters become LaTeX accents/macros (ü → {\\"u}); other symbols stay Unicode, as UTF-8 BibTeX allows."""
    if char.isascii() or not unicodedata.category(char).startswith("L"):
        return char
    latex = _encoder().unicode_to_latex(char)
    if latex != char and latex_to_text(latex) != unicodedata.normalize("NFC", char):
        return char  # the macro is only an approximation (Ħ is not H with a macron)
    return latex
