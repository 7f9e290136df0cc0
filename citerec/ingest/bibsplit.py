"""Split a .bib file into one chunk per `@command`, with line numbers.

pybtex stops at the first syntax error, so the importer cuts the file into
entries itself and hands pybtex one entry at a time: a bad entry then costs
that entry only. The scanner follows BibTeX's own rules (text outside
entries is ignored, `{…}` or `(…)` delimit an entry, braces must balance) and
adds two recoveries: a `%` line outside entries is a comment, and an entry
whose closing brace is missing ends where the next `@type{` starts a line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_COMMAND = re.compile(r"@[ \t]*([A-Za-z][\w\-:.]*)[ \t\r\n]*([{(])")
_NEXT_ENTRY = re.compile(r"\n[ \t]*@[ \t]*[A-Za-z][\w\-:.]*[ \t]*[{(]")
_KEY = re.compile(r"\s*([^\s,{}()]*)")
_STRUCTURE = re.compile(r'[{}"()\n]')
_COMMENT_LINE = re.compile(r"[ \t\r\f\v]*%")


@dataclass(frozen=True)
class Chunk:
    """The text of one `@command`; `error` says why it could not be delimited."""

    kind: str  # lower-cased: article, string, preamble, comment, …
    key: str  # entry key as written ('' for string/preamble/comment)
    line: int  # 1-based line of the '@'
    text: str
    error: str = ""


@dataclass(frozen=True)
class Stray:
    """Text outside any entry that looks like a lost field (a sign of unbalanced braces)."""

    line: int
    text: str


def split_bibtex(text: str) -> Iterator[Chunk | Stray]:
    """Yield the file's commands in order, plus suspicious text between them."""
    pos = 0
    line = 1
    length = len(text)
    seen = [0, 0]  # (offset looked at last, start of its line): line starts are found in one pass
    while pos < length:
        at = _find_command_start(text, pos, seen)
        if at < 0:
            yield from _stray(text[pos:], line)
            return
        yield from _stray(text[pos:at], line)
        line += text.count("\n", pos, at)
        match = _COMMAND.match(text, at)
        if match is None:  # a lone '@' (e.g. in an e-mail address between entries)
            pos = at + 1
            continue
        kind = match.group(1).lower()
        body_start = match.end()
        key = "" if kind in ("string", "preamble", "comment") else _KEY.match(text, body_start).group(1)
        if kind == "comment":
            end, error = _comment_end(text, body_start, match.group(2))
        else:
            end, error = _entry_end(text, body_start, match.group(2))
        yield Chunk(kind, key, line, text[at:end], error)
        line += text.count("\n", at, end)
        pos = end


def _find_command_start(text: str, pos: int, seen: list[int]) -> int:
    """Index of the next '@' outside a `%` comment line, or -1.

    `seen` remembers the last offset looked at and the start of its line, so a
    file of many '@' on one line is not rescanned back to the line start each time.
    """
    while True:
        at = text.find("@", pos)
        if at < 0:
            return -1
        newline = text.rfind("\n", seen[0], at)
        line_start = newline + 1 if newline >= 0 else seen[1]
        seen[0], seen[1] = at, line_start
        comment = _COMMENT_LINE.match(text, line_start)
        if comment is not None and comment.end() <= at:
            pos = text.find("\n", at)
            if pos < 0:
                return -1
            continue
        return at


def _comment_end(text: str, start: int, opener: str) -> tuple[int, str]:
    """@comment{…} ends at its matching delimiter; never report it as broken."""
    end, error = _entry_end(text, start, opener)
    if error:  # BibTeX treats an unclosed @comment as a one-line comment
        newline = text.find("\n", start)
        return (len(text) if newline < 0 else newline), ""
    return end, ""


def _entry_end(text: str, start: int, opener: str) -> tuple[int, str]:
    """End index (exclusive) of the entry whose body starts at `start`, and an error if unclosed."""
    closer = "}" if opener == "{" else ")"
    depth = 0
    in_quote = False
    for match in _STRUCTURE.finditer(text, start):  # jump from one structural character to the next
        char = match.group()
        pos = match.start()
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                if closer == "}":
                    return pos + 1, ""
                return pos + 1, "unbalanced braces: '}' without '{'"
            depth -= 1
        elif char == '"':
            if depth == 0 and closer == ")":
                in_quote = not in_quote
        elif char == ")":
            if depth == 0 and not in_quote and closer == ")":
                return pos + 1, ""
        elif char == "\n":
            nxt = _NEXT_ENTRY.match(text, pos)
            if nxt is not None and _looks_like_entry_start(text, pos + 1):
                return pos + 1, f"missing closing '{closer}': the entry runs into the next entry"
    return len(text), f"missing closing '{closer}': the entry runs to the end of the file"


def _looks_like_entry_start(text: str, pos: int) -> bool:
    """A line `@type{key,` (or `@string{`…) is a new entry, not a stray '@' in a field."""
    match = _COMMAND.match(text, text.index("@", pos))
    if match is None:
        return False
    kind = match.group(1).lower()
    if kind in ("string", "preamble", "comment"):
        return True
    rest = text[match.end() : match.end() + 200]
    return re.match(r"\s*[^\s,{}()=\"]+\s*,", rest) is not None or rest.strip().startswith(("}", ")"))


def _stray(text: str, line: int) -> Iterator[Stray]:
    """Text between entries is ignored by BibTeX; report it only when it looks like a lost field."""
    for offset, raw in enumerate(text.split("\n")):
        stripped = raw.strip()
        if stripped and not stripped.startswith("%") and re.match(r"[A-Za-z][\w\-]*\s*=", stripped):
            yield Stray(line + offset, stripped[:60])
            return
