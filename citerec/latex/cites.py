"""Finding citation commands and citation placeholders in LaTeX source.

Everything here works on raw strings and returns offsets into them, so callers
can remove the commands from the text retrieval sees and still point back at
the source (to fill a placeholder in place, or to report a line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# natbib, biblatex, apacite and plain LaTeX citation commands (starred forms are accepted too).
SINGLE_CITE_COMMANDS = frozenset(
    {
        "cite",
        "Cite",
        "citep",
        "Citep",
        "citet",
        "Citet",
        "citealp",
        "Citealp",
        "citealt",
        "Citealt",
        "citeauthor",
        "Citeauthor",
        "citeyear",
        "citeyearpar",
        "citetitle",
        "citenum",
        "citeA",
        "citeNP",
        "shortcite",
        "shortciteA",
        "shortciteNP",
        "citeurl",
        "fullcite",
        "footfullcite",
        "autocite",
        "Autocite",
        "parencite",
        "Parencite",
        "textcite",
        "Textcite",
        "footcite",
        "footcitetext",
        "smartcite",
        "Smartcite",
        "supercite",
        "nocite",
        "newcite",
        "citeposs",
    }
)
MULTI_CITE_COMMANDS = frozenset(
    {
        "cites",
        "Cites",
        "parencites",
        "Parencites",
        "textcites",
        "Textcites",
        "autocites",
        "Autocites",
        "footcites",
        "footcitetexts",
        "smartcites",
        "Smartcites",
        "supercites",
    }
)
CITE_COMMANDS: frozenset[str] = SINGLE_CITE_COMMANDS | MULTI_CITE_COMMANDS

# Keys that mean "a citation goes here" rather than naming an entry.
PLACEHOLDER_KEYS = frozenset(
    {"", "?", "??", "???", "todo", "xxx", "xx", "tbd", "tba", "fixme", "cite", "citation", "ref", "refs", "key"}
)
# Commands whose mere presence is a placeholder, with no argument.
PLACEHOLDER_COMMANDS = frozenset({"cn", "citeneeded", "citationneeded", "needcite", "needscitation"})
TODO_COMMANDS = frozenset({"todo", "TODO", "fxnote", "fixme"})

_NAME = re.compile(r"\\([A-Za-z@]+)(\*?)")
_BRACKET_PLACEHOLDER = re.compile(
    r"\[\s*(?:cite|citation|citations|citation needed|cite needed|needs? citation|ref|refs|reference|"
    r"references|ref needed|reference needed|refs? needed)\s*\??\s*\]",
    re.IGNORECASE,
)
_TODO_CITE = re.compile(r"\s*(?:add\s+|need\s+|needs\s+(?:a\s+)?)?(?:cite|citation|ref\b|reference)", re.IGNORECASE)
_SPACE = " \t\r\n\x01"


@dataclass(frozen=True)
class Citation:
    """One citation command or placeholder found in a string.

    `start`/`end` span the whole command; `arg_start`/`arg_end` span the inside of
    its first keys argument (equal to `start`/`end` for argument-less placeholders).
    """

    start: int
    end: int
    command: str
    keys: tuple[str, ...]
    placeholder: bool
    arg_start: int
    arg_end: int

    @property
    def is_nocite(self) -> bool:
        return self.command == "nocite"


def _skip_space(s: str, i: int, end: int) -> int:
    """Skip spaces and at most one line break (a blank line ends an argument list)."""
    newlines = 0
    while i < end and s[i] in _SPACE:
        if s[i] == "\n":
            newlines += 1
            if newlines > 1:
                break
        i += 1
    return i


_DELIMITERS = {
    "{}": re.compile(r"\\.|[{}]", re.S),
    "[]": re.compile(r"\\.|[\[\]]", re.S),
    "()": re.compile(r"\\.|[()]", re.S),
}
MAX_OPTIONAL_CHARS = 2000  # a `[...]` or `(...)` note longer than this is text, not an optional argument


def matching(s: str, i: int, end: int, open_: str = "{", close: str = "}") -> int:
    """Offset just after the delimiter matching the one at `i`, or -1 when it is not closed.

    Brackets and parentheses are looked for within `MAX_OPTIONAL_CHARS`: a stray `[`
    is common in prose, and scanning to the end of the file for each one is quadratic.
    """
    if open_ != "{":
        end = min(end, i + MAX_OPTIONAL_CHARS)
    if s.find(close, i, end) < 0:
        return -1  # the common unclosed case, found at C speed
    pattern = _DELIMITERS.get(open_ + close) or re.compile(r"\\.|" + re.escape(open_) + "|" + re.escape(close), re.S)
    depth = 0
    for m in pattern.finditer(s, i, end):  # jump from one delimiter (or escaped character) to the next
        token = m.group()
        if token == open_:
            depth += 1
        elif token == close:
            depth -= 1
            if depth == 0:
                return m.end()
    return -1


def _split_keys(raw: str) -> tuple[tuple[str, ...], bool]:
    """Keys of one argument, and whether it holds a placeholder instead of (or besides) keys."""
    keys: list[str] = []
    placeholder = False
    parts = raw.replace("\x01", "").split(",")
    for part in parts:
        key = " ".join(part.split())
        if key.lower() in PLACEHOLDER_KEYS or key.startswith("?"):
            placeholder = True
        else:
            keys.append(key)
    return tuple(keys), placeholder


def parse_command_at(s: str, i: int, end: int | None = None) -> Citation | None:
    """Parse a citation command or placeholder starting at `s[i]`; None if there is none."""
    end = len(s) if end is None else end
    if s.startswith("[", i):
        m = _BRACKET_PLACEHOLDER.match(s, i, end)
        return Citation(i, m.end(), "", (), True, i, m.end()) if m else None
    m = _NAME.match(s, i, end)
    if not m:
        return None
    name = m.group(1)
    j = m.end()
    if name in PLACEHOLDER_COMMANDS:
        if j < end and s[j] == "{" and s.startswith("}", j + 1):
            j += 2
        return Citation(i, j, "", (), True, i, j)
    if name in TODO_COMMANDS:
        return _parse_todo(s, i, j, end)
    if name not in CITE_COMMANDS:
        return None
    multi = name in MULTI_CITE_COMMANDS
    keys: list[str] = []
    placeholder = False
    arg_span: tuple[int, int] | None = None
    if multi:  # biblatex global (pre)(post) notes
        for _ in range(2):
            k = _skip_space(s, j, end)
            if k < end and s[k] == "(":
                close = matching(s, k, end, "(", ")")
                if close < 0:
                    break
                j = close
    while True:
        k = _skip_space(s, j, end)
        optionals = 0
        while k < end and s[k] == "[" and optionals < 2:
            close = matching(s, k, end, "[", "]")
            if close < 0:
                return None
            k = _skip_space(s, close, end)
            optionals += 1
        if k >= end or s[k] != "{":
            break
        close = matching(s, k, end)
        if close < 0:
            return None
        group_keys, group_placeholder = _split_keys(s[k + 1 : close - 1])
        keys.extend(key for key in group_keys if key not in keys)
        placeholder = placeholder or group_placeholder
        if arg_span is None:
            arg_span = (k + 1, close - 1)
        j = close
        if not multi:
            break
    if arg_span is None:  # a bare \cite with no argument is not a citation
        return None
    if name == "nocite":
        keys = [key for key in keys if key != "*"]
    return Citation(i, j, name, tuple(keys), placeholder, arg_span[0], arg_span[1])


def _parse_todo(s: str, i: int, j: int, end: int) -> Citation | None:
    """`\\todo[...]{cite ...}`: a placeholder when its note asks for a citation."""
    k = _skip_space(s, j, end)
    if k < end and s[k] == "[":
        close = matching(s, k, end, "[", "]")
        if close < 0:
            return None
        k = _skip_space(s, close, end)
    if k >= end or s[k] != "{":
        return None
    close = matching(s, k, end)
    if close < 0:
        return None
    if not _TODO_CITE.match(s, k + 1, close - 1):
        return None
    return Citation(i, close, "", (), True, i, close)


def find_citations(s: str, start: int = 0, end: int | None = None) -> list[Citation]:
    """Every citation command and placeholder in `s[start:end]`, in order (comments are not special)."""
    end = len(s) if end is None else end
    found: list[Citation] = []
    i = start
    while i < end:
        c = s[i]
        if c == "\\" and i + 1 < end and not s[i + 1].isalpha():
            i += 2  # an escaped character such as \% or \\
            continue
        cit = parse_command_at(s, i, end) if c in "\\[" else None
        if cit is not None:
            found.append(cit)
            i = cit.end
        else:
            i += 1
    return found


def strip_comments(tex: str) -> str:
    """`tex` without `%` comments (an escaped `\\%` stays)."""
    return re.sub(r"(?<!\\)((?:\\\\)*)%[^\n]*", r"\1", tex)


def cite_keys_in(tex: str, *, comments: bool = True) -> list[str]:
    """Every key cited in a LaTeX string, in order of first appearance (including `\\nocite`).

    With `comments=False`, keys in `%` comments are left out.
    """
    if not comments:
        tex = strip_comments(tex)
    keys: list[str] = []
    for cit in find_citations(tex):
        keys.extend(k for k in cit.keys if k not in keys)
    return keys
