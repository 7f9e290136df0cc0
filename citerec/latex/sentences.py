"""Splitting masked LaTeX (or plain text) into paragraphs and sentences, keeping source offsets.

The splitter runs on the source itself, so a sentence is just a (start, end)
span: no offset map is needed. Math, citation commands and reference-like
arguments are stepped over whole, so periods inside them never end a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citerec.latex.cites import Citation, find_citations, matching, parse_command_at

ABBREVIATIONS = frozenset(
    "e.g i.e et al cf vs etc fig figs eq eqs eqn sec secs tab ch chap app ref refs thm def lem prop cor no nos "
    "vol pp p dr mr mrs ms prof approx resp ca viz jr st alg resp w.r.t i.i.d a.k.a sect para n.b ibid op cit "
    "e.q incl".split()
)
SECTION_COMMANDS = frozenset({"part", "chapter", "section", "subsection", "subsubsection"})
LIST_ENVS = frozenset({"itemize", "enumerate", "description", "compactitem", "compactenum", "inparaenum"})
MATH_ENVS = frozenset(
    "equation equation* align align* gather gather* multline multline* eqnarray eqnarray* flalign flalign* "
    "displaymath math alignat alignat* dmath dmath* split cases subequations".split()
)
ATOMIC_ARGS = frozenset(
    {
        "label",
        "ref",
        "eqref",
        "cref",
        "Cref",
        "autoref",
        "pageref",
        "url",
        "href",
        "nameref",
        "footnotemark",
        "includegraphics",
        "hyperref",
        "SI",
        "si",
        "num",
        "path",
    }
)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_BLANK = re.compile(r"[ \t\r]*\n")
_NAME = re.compile(r"\\([A-Za-z@]+)\*?|\\.", re.S)
_SPACE = " \t\r\n\x01~"


@dataclass(frozen=True)
class Sentence:
    """A sentence as a span of one file, with the citations found in it."""

    file: int
    start: int
    end: int
    paragraph: int
    section: str
    citations: tuple[Citation, ...]


def _section_title(s: str, i: int, end: int) -> tuple[str, int]:
    j = i
    while j < end and s[j] in _SPACE:
        j += 1
    if j < end and s[j] == "[":
        close = matching(s, j, end, "[", "]")
        j = close if close > 0 else j + 1
        while j < end and s[j] in _SPACE:
            j += 1
    if j < end and s[j] == "{":
        close = matching(s, j, end)
        if close > 0:
            return s[j + 1 : close - 1], close
    return "", j


def _ends_sentence(s: str, i: int, end: int) -> int:
    """If the terminator at `i` ends a sentence, the offset where that sentence ends, else -1."""
    j = i + 1
    while j < end and s[j] in ".?!":
        j += 1
    while j < end and s[j] in ")'\"}]":
        j += 1
    if j < end and s[j] not in " \t\r\n\x01":
        return -1
    k = j
    while k < end and s[k] in " \t\r\n\x01":
        k += 1
    if k < end:
        nxt = s[k]
        if nxt.islower() or nxt in ",;:" or nxt.isdigit():
            return -1
    if s[i] == ".":
        word = _WORD_BEFORE.search(s, max(0, i - 20), i)
        if word:
            w = word.group(1).lower().rstrip(".")
            if w in ABBREVIATIONS or (len(w) == 1 and word.group(1).isupper()):
                return -1
    return j


class Splitter:
    """Cuts one segment of masked text into sentences; `latex=False` for plain text/Markdown."""

    def __init__(self, latex: bool = True) -> None:
        self.latex = latex
        self.section = ""
        self.paragraph = 0
        self.sentences: list[Sentence] = []

    def _emit(self, file: int, s: str, a: int, b: int) -> None:
        while a < b and s[a] in _SPACE:
            a += 1
        while b > a and s[b - 1] in _SPACE:
            b -= 1
        if b <= a:
            return
        cites = tuple(find_citations(s, a, b))
        self.sentences.append(Sentence(file, a, b, self.paragraph, self.section, cites))

    def _new_paragraph(self) -> None:
        if self.sentences and self.sentences[-1].paragraph == self.paragraph:
            self.paragraph += 1

    def split(self, file: int, s: str, start: int, end: int) -> None:
        self._new_paragraph()
        i = start
        begin = start
        while i < end:
            c = s[i]
            if c == "\n" and _BLANK.match(s, i + 1, end):
                self._emit(file, s, begin, i)
                self._new_paragraph()
                begin = i = _BLANK.match(s, i + 1, end).end()
                continue
            if not self.latex:
                if c == "#" and (i == start or s[i - 1] == "\n"):
                    line_end = s.find("\n", i, end)
                    line_end = end if line_end < 0 else line_end
                    self._emit(file, s, begin, i)
                    self._new_paragraph()
                    self.section = s[i:line_end].lstrip("#").strip()
                    begin = i = line_end
                    continue
                if c in ".?!":
                    stop = _ends_sentence(s, i, end)
                    if stop > 0:
                        self._emit(file, s, begin, stop)
                        begin = i = stop
                        continue
                i += 1
                continue
            if c == "\\":
                i, begin = self._command(file, s, i, end, begin)
                continue
            if c == "[":
                cit = parse_command_at(s, i, end)
                i = cit.end if cit else i + 1
                continue
            if c == "$":
                delim = "$$" if s.startswith("$$", i) else "$"
                close = s.find(delim, i + len(delim), end)
                i = end if close < 0 else close + len(delim)
                continue
            if c in ".?!":
                stop = _ends_sentence(s, i, end)
                if stop > 0:
                    stop = self._trailing_cites(s, stop, end)
                    self._emit(file, s, begin, stop)
                    begin = i = stop
                    continue
            i += 1
        self._emit(file, s, begin, end)

    def _trailing_cites(self, s: str, stop: int, end: int) -> int:
        """A citation right after the full stop belongs to the sentence before it."""
        k = stop
        while k < end and s[k] in " \t\r\x01~":
            k += 1
        cit = parse_command_at(s, k, end) if k < end and s[k] in "\\[" else None
        if cit is None or cit.is_nocite:
            return stop
        k = cit.end
        while k < end and s[k] in ".,;":
            k += 1
        return k

    def _command(self, file: int, s: str, i: int, end: int, begin: int) -> tuple[int, int]:
        """Handle the command at `i`; returns the next scan offset and sentence start."""
        m = _NAME.match(s, i, end)
        if not m or not m.group(1):
            if s.startswith(("\\(", "\\["), i):
                close = s.find("\\)" if s[i + 1] == "(" else "\\]", i + 2, end)
                return (end if close < 0 else close + 2), begin
            return i + 2, begin
        name = m.group(1)
        j = m.end()
        cit = parse_command_at(s, i, end)
        if cit is not None:
            return cit.end, begin
        if name in SECTION_COMMANDS or name == "paragraph":
            self._emit(file, s, begin, i)
            title, j = _section_title(s, j, end)
            if name != "paragraph":
                self._new_paragraph()
                self.section = title
            return j, j
        if name in ("begin", "end"):
            env_m = re.compile(r"\s*\{([^{}]*)\}").match(s, j, end)
            env = env_m.group(1) if env_m else ""
            j = env_m.end() if env_m else j
            if env in MATH_ENVS and name == "begin":
                close = s.find("\\end{" + env + "}", j, end)
                return (end if close < 0 else close + len(env) + 6), begin
            if env in MATH_ENVS:
                return j, begin
            self._emit(file, s, begin, i)
            if env not in LIST_ENVS:
                self._new_paragraph()
            return j, j
        if name == "item":
            self._emit(file, s, begin, i)
            k = j
            while k < end and s[k] in " \t\x01":
                k += 1
            if k < end and s[k] == "[":
                close = matching(s, k, end, "[", "]")
                k = close if close > 0 else k
            return k, k
        if name == "par":
            self._emit(file, s, begin, i)
            self._new_paragraph()
            return j, j
        if name in ATOMIC_ARGS:
            k = j
            while k < end and s[k] in " \t\x01*":
                k += 1
            while k < end and s[k] in "{[":
                close = matching(s, k, end, s[k], "}" if s[k] == "{" else "]")
                if close < 0:
                    break
                k = close
            return k, begin
        return j, begin


def split_segments(segments: list[tuple[int, str, int, int]], latex: bool = True) -> list[Sentence]:
    """Sentences of all segments (file index, masked text, start, end) in reading order."""
    splitter = Splitter(latex)
    for file, s, start, end in segments:
        splitter.split(file, s, start, end)
    return splitter.sentences
