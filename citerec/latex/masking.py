"""Masking what TeX would not typeset, reading verbatim arguments as TeX does, and recovering from damage.

The masked copy of a file has the same length as the file (see `reader`). Verbatim
arguments (`\\url`, `\\href`'s URL, `\\verb|…|`, `verbatim` bodies …) are masked
whole before comments are looked for, because inside them `%`, `#`, `_`, `{` and `}`
are text: a `%` in a URL must not hide the rest of the line. Damage that TeX
itself would stop at (a `{` never closed, a `verbatim` never ended, a runaway
argument) is recovered from with a `ReadWarning` naming the line and what was
done, so that one slip never costs the whole draft; `strict` refuses instead.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from citerec.errors import InputError
from citerec.latex.cites import matching

FILL = "\x01"
MAX_WARNINGS = 50  # per file: past this, one line says how many more
VERBATIM_ENVS = (
    "verbatim",
    "verbatim*",
    "Verbatim",
    "Verbatim*",
    "BVerbatim",
    "LVerbatim",
    "spverbatim",
    "lstlisting",
    "minted",
    "comment",
    "filecontents",
    "filecontents*",
    "alltt",
    "tcblisting",
    "VerbatimOut",
)
FLOAT_ENVS = ("figure", "figure*", "table", "table*", "wrapfigure", "wraptable", "algorithm", "subfigure", "SCfigure")
DROP_ENVS = ("tabular", "tabular*", "tabularx", "longtable", "tikzpicture", "thebibliography", "algorithmic")
# Commands whose (first) argument hyperref/url read verbatim; `\href`'s second argument is typeset text.
URL_COMMANDS = frozenset({"url", "nolinkurl", "path", "href"})
INLINE_VERBATIM = frozenset({"verb", "verb*", "lstinline", "mintinline"})
_URL_DELIMITERS = "|!+=\"'/@"  # `\url|…|`: the url package's \verb-like form
_NAME = re.compile(r"\\([A-Za-z@]+\*?)")
_ENV = re.compile(r"\s*\{([^{}]*)\}")
_PARAGRAPH_END = re.compile(r"\n[ \t\r]*\n")
_BRACES = re.compile(r"\\.|[{}]", re.S)
_STRUCTURE = re.compile(r"\\(begin|end)[ \t]*\{([^{}\n]*)\}|\\.|[{}]|\n[ \t\r]*\n", re.S)
_CONDITIONAL = re.compile(r"\\\\|\\%|%[^\n]*|\\(if[A-Za-z@]*|fi|else)(?![A-Za-z@])")
_CAPTION = re.compile(r"\\(?:sub)?caption(?:of)?\*?\s*(?:\{[^{}]*\}\s*)?(?:\[[^\]]*\]\s*)?(?=\{)")


@dataclass(frozen=True)
class ReadWarning:
    """Damage met while reading a draft, where it is, and what the reader did about it."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class _Notes:
    """Collects the warnings of one file; `strict` turns damage into today's refusal."""

    def __init__(self, text: str, name: str, strict: bool) -> None:
        self.name = name
        self.strict = strict
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self.found: list[tuple[int, ReadWarning]] = []

    def add(self, offset: int, problem: str, action: str, *, refuse: bool = True) -> None:
        line = bisect.bisect_right(self.starts, offset)
        if self.strict and refuse:
            raise InputError(problem, self.name, line)
        self.found.append((offset, ReadWarning(self.name, line, f"{problem}; {action}")))

    def warnings(self) -> tuple[ReadWarning, ...]:
        found = [w for _, w in sorted(self.found, key=lambda item: item[0])]
        if len(found) <= MAX_WARNINGS:
            return tuple(found)
        rest = found[MAX_WARNINGS:]
        more = ReadWarning(self.name, rest[0].line, f"{len(rest)} more damaged places recovered from, not listed")
        return (*found[:MAX_WARNINGS], more)


def _fill(chars: list[str], a: int, b: int, brk: bool = False) -> None:
    for k in range(a, b):
        if chars[k] != "\n":
            chars[k] = "\n" if brk else FILL
    if brk and b > a:
        chars[a] = "\n"


def _paragraph_end(text: str, i: int) -> int:
    m = _PARAGRAPH_END.search(text, i)
    return m.start() if m else len(text)


def _line_end(text: str, i: int) -> int:
    j = text.find("\n", i)
    return len(text) if j < 0 else j


class _Conditionals:
    """Where each `\\iffalse` of a text ends, found in one pass over its `\\if…`/`\\else`/`\\fi` words
    (looking again from each one is quadratic when they are never closed)."""

    def __init__(self, text: str, start: int = 0) -> None:
        self.text = text
        self.spans: dict[int, tuple[int, int]] = {}
        self.seen: set[int] = set()
        self._pair(start)

    def _pair(self, start: int) -> None:
        stack: list[list[int]] = []  # just after the \if word, its \else (or -1), whether it is \iffalse
        for m in _CONDITIONAL.finditer(self.text, start):
            word = m.group(1)
            if not word:
                continue
            if word == "fi":
                if stack:
                    after, else_at, is_false = stack.pop()
                    if is_false:
                        self.spans[after] = ((else_at if else_at >= 0 else m.start()), m.end())
            elif word == "else":
                if stack and stack[-1][1] < 0:
                    stack[-1][1] = m.start()
            elif word not in ("ifx@", "iff"):
                stack.append([m.end(), -1, int(word == "iffalse")])
                self.seen.add(m.end())

    def end(self, after: int) -> tuple[int, int]:
        """(end of the dropped part, end of the whole conditional) for the `\\iffalse` ending at `after`,
        or (-1, -1) when no `\\fi` closes it."""
        if after not in self.seen:  # hidden from the one pass (by a `%` that was a URL's): pair from here
            self._pair(after - len("\\iffalse"))
        return self.spans.get(after, (-1, -1))


def _verbatim_group(text: str, i: int, stop: int) -> int:
    """Offset after the `}` closing the verbatim group opening at `i` (braces nest, `\\x` escapes), or -1."""
    depth = 0
    for m in _BRACES.finditer(text, i, stop):
        if m.group() == "{":
            depth += 1
        elif m.group() == "}":
            depth -= 1
            if depth == 0:
                return m.end()
    return -1


def _verbatim_argument(text: str, word: str, j: int, notes: _Notes, at: int) -> int:
    """End of the verbatim argument of `\\word` starting at `j` (the masked span is `at`..end).

    A braced argument must close within its paragraph, a delimited one (`\\verb|…|`)
    on its line, as in TeX; a runaway one is masked to where TeX would stop.
    """
    n = len(text)
    base = word.rstrip("*")
    if base in ("lstinline", "mintinline"):
        while j < n and text[j] in " \t":
            j += 1
        if j < n and text[j] in "[{" and (base == "mintinline" or text[j] == "["):
            close = matching(text, j, _line_end(text, j), text[j], "]" if text[j] == "[" else "}")
            j = close if close > 0 else j
    elif base != "verb":
        while j < n and text[j] in " \t":
            j += 1
        if base == "href" and j < n and text[j] == "[":
            close = matching(text, j, _line_end(text, j), "[", "]")
            j = close if close > 0 else j
    if j >= n:
        return j
    delim = text[j]
    if delim == "{" and base != "verb":
        stop = _paragraph_end(text, j)
        close = _verbatim_group(text, j, stop)
        if close < 0:
            notes.add(at, f"\\{word} argument is never closed", "skipped to the end of the paragraph")
            return stop
        return close
    if base in URL_COMMANDS and (base == "href" or delim not in _URL_DELIMITERS):
        return j  # not a verbatim argument (`\url` alone, a macro as the argument, TikZ's `\path[draw]`)
    stop = _line_end(text, j + 1)
    close = text.find(delim, j + 1, stop)
    if close < 0:
        notes.add(at, f"\\{word}{delim} is never closed on its line", "skipped to the end of the line")
        return stop
    return close + 1


def mask_source(text: str, name: str, *, strict: bool = False) -> tuple[str, tuple[ReadWarning, ...]]:
    """The masked copy of `text` and the warnings met; `strict` raises InputError for damage instead."""
    notes = _Notes(text, name, strict)
    chars = list(text)
    n = len(text)
    conditionals: _Conditionals | None = None
    never_ended: dict[str, int] = {}  # no `\\end{env}` after this offset: looking again for it is quadratic
    i = 0
    while i < n:
        c = text[i]
        if c == "%":
            j = _line_end(text, i)
            _fill(chars, i, j)
            i = j
        elif c == "\\":
            m = _NAME.match(text, i)
            if not m:
                i += 2
                continue
            word = m.group(1)
            if word in INLINE_VERBATIM or word in URL_COMMANDS:
                j = _verbatim_argument(text, word, m.end(), notes, i)
                _fill(chars, i, j)
                i = max(j, m.end())
            elif word == "iffalse":
                conditionals = conditionals or _Conditionals(text, i)
                i = _mask_conditional(conditionals, chars, m.end(), i, notes)
            elif word == "begin":
                env = _ENV.match(text, m.end())
                if env and env.group(1) in VERBATIM_ENVS:
                    close = (
                        -1
                        if never_ended.get(env.group(1), n) <= i
                        else text.find("\\end{" + env.group(1) + "}", env.end())
                    )
                    if close < 0:
                        never_ended[env.group(1)] = min(i, never_ended.get(env.group(1), n))
                        j = _paragraph_end(text, env.end())
                        notes.add(i, f"\\begin{{{env.group(1)}}} is never ended", "skipped to the end of the paragraph")
                    else:
                        j = close + len(env.group(1)) + 6
                    _fill(chars, i, j, brk=True)
                    i = j
                else:
                    i = m.end()
            else:
                i = m.end()
        else:
            i += 1
    masked = _mask_structure("".join(chars))
    masked = _recover_braces(masked, notes)
    return masked, notes.warnings()


def _mask_conditional(conditionals: _Conditionals, chars: list[str], after: int, i: int, notes: _Notes) -> int:
    """Mask the dropped branch of an `\\iffalse` at `i`; returns where reading goes on."""
    drop_end, whole_end = conditionals.end(after)
    if drop_end < 0:
        j = _paragraph_end(conditionals.text, after)
        notes.add(i, "\\iffalse is never closed by \\fi", "skipped to the end of the paragraph")
        _fill(chars, i, j)
        return j
    _fill(chars, i, drop_end)
    fi = whole_end - 3
    _fill(chars, fi, whole_end)
    if drop_end != fi:  # \else branch is kept; drop the \else word itself
        _fill(chars, drop_end, drop_end + 5)
    return drop_end + (5 if drop_end != fi else 3)


def _mask_structure(masked: str) -> str:
    """Drop the preamble, tables/pictures, and float bodies except their captions."""
    chars = list(masked)
    begin = masked.find("\\begin{document}")
    if begin >= 0:
        _fill(chars, 0, begin + len("\\begin{document}"))
        end = masked.find("\\end{document}")
        if end >= 0:
            _fill(chars, end, len(masked))
    for env in FLOAT_ENVS + DROP_ENVS:
        pat = re.compile(r"\\begin\s*\{" + re.escape(env) + r"\}")
        done = 0
        for m in pat.finditer(masked):
            if m.start() < done:
                continue  # nested in the float just dropped
            close = masked.find("\\end{" + env + "}", m.end())
            if close < 0:
                break  # no later \begin can be closed either: looking again for each is quadratic
            stop = close + len(env) + 6
            done = stop
            keep: list[tuple[int, int]] = []
            if env in FLOAT_ENVS:
                for cap in _CAPTION.finditer(masked, m.end(), close):
                    arg_end = matching(masked, cap.end(), close)
                    if arg_end > 0:
                        keep.append((cap.end() + 1, arg_end - 1))
            pos = m.start()
            for a, b in keep:
                _fill(chars, pos, a, brk=True)
                pos = b
            _fill(chars, pos, stop, brk=True)
    return "".join(chars)


def _balanced(masked: str) -> bool:
    depth = 0
    for m in _BRACES.finditer(masked):
        token = m.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _is_argument(s: str, i: int) -> bool:
    """Whether the `{` at `i` opens a command's argument (which, unlike a bare group, ends with its paragraph)."""
    j = i - 1
    while j >= 0 and s[j] in " \t\x01":
        j -= 1
    if j < 0:
        return False
    if s[j] in "}]*^_":
        return True
    k = j
    while k >= 0 and (s[k].isalpha() or s[k] == "@"):
        k -= 1
    return k < j and k >= 0 and s[k] == "\\"


def _recover_braces(masked: str, notes: _Notes) -> str:
    """A balanced file is returned as it is. Otherwise each `{` that never closes is closed where TeX
    would have complained: an argument at the end of its paragraph, any group at the `\\end` of the
    environment it opened in, or at the end of the file; a `}` that closes nothing is ignored.
    Closing a group means reading its `{` as a space, so the parsers never run past the damage."""
    if _balanced(masked):
        return masked
    chars = list(masked)
    stack: list[tuple[int, int, bool, int]] = []  # offset, environments open at it, is an argument, paragraph
    envs: list[str] = []
    open_envs: dict[str, int] = {}  # how many of each name `envs` holds: `\\end` of a name never begun is O(1)
    paragraph = 0

    def close(entry: tuple[int, int, bool, int], where: str) -> None:
        chars[entry[0]] = " "
        notes.add(entry[0], "'{' is never closed", f"closed at {where}")

    for m in _STRUCTURE.finditer(masked):
        token = m.group()
        if m.group(1) == "begin":
            envs.append(m.group(2))
            open_envs[m.group(2)] = open_envs.get(m.group(2), 0) + 1
        elif m.group(1) == "end":
            if open_envs.get(m.group(2)):
                depth = len(envs) - 1
                while envs[depth] != m.group(2):
                    depth -= 1
                while stack and stack[-1][1] > depth:
                    close(stack.pop(), f"\\end{{{m.group(2)}}}")
                for name in envs[depth:]:
                    open_envs[name] -= 1
                del envs[depth:]
        elif token == "{":
            stack.append((m.start(), len(envs), _is_argument(masked, m.start()), paragraph))
        elif token == "}":
            if stack:
                stack.pop()
            else:
                chars[m.start()] = " "
                notes.add(m.start(), "'}' closes nothing", "ignored", refuse=False)
        elif token[0] == "\n":
            lowest = -1
            k = len(stack) - 1
            while k >= 0 and stack[k][3] == paragraph:
                if stack[k][2]:
                    lowest = k
                k -= 1
            while lowest >= 0 and len(stack) > lowest:
                close(stack.pop(), "the end of the paragraph")
            paragraph += 1
    while stack:
        close(stack.pop(), "the end of the file")
    return "".join(chars)
