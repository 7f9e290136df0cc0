"""Where the cursor is in a LaTeX buffer: inside a cite argument, on a cited key, in which sentence.

An editor asks on every keystroke, so nothing here reads the whole document:
each question looks at a window around the cursor (its paragraph at most).
Offsets are character offsets into the buffer's text.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

from citerec.errors import InputError
from citerec.latex.cites import CITE_COMMANDS, MULTI_CITE_COMMANDS, PLACEHOLDER_KEYS, Citation, find_citations

LOOKBACK = 400  # characters before the cursor searched for an open cite command
PARAGRAPH_LIMIT = 4000  # characters either side of the cursor a paragraph may span
_COMMAND = re.compile(r"\\([A-Za-z]+)\*?")
# From a cite command's name to the `{` the cursor is typing in: biblatex (pre)(post) notes, [opt] arguments,
# and (for \cites) earlier closed key groups.
_OPEN_ARGUMENT = re.compile(
    r"\\[A-Za-z]+\*?(?:\s*\([^()]*\)){0,2}(?:\s*(?:\[[^\[\]]*\]){0,2}\s*\{[^{}]*\})*\s*(?:\[[^\[\]]*\]){0,2}\s*\{"
    r"[^{}\n]*(?:\n[^{}\n]*)?"
)
_COMMENT = re.compile(r"(?<!\\)((?:\\\\)*)(%[^\n]*)")
_INCLUDE = re.compile(r"\\(?=(?:input|include|subfile|import|subimport|inputfrom|subinputfrom)\b)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_KEY_END = ",}{ \t\r\n%"


@dataclass(frozen=True)
class CiteSite:
    """The cite argument the cursor is in: the key being typed and the keys around it."""

    command: str
    start: int  # the command's backslash
    arg_start: int  # just after the `{` of the group the cursor is in
    key_start: int  # start of the key under the cursor (after the comma and spaces)
    key_end: int  # end of that key (the cursor may sit inside it)
    prefix: str  # the part of the key before the cursor
    current: str  # the whole key under the cursor
    closed_at: int  # offset of the group's `}`, or -1 when it is not closed yet
    keys: tuple[str, ...]  # every key of the group, the one under the cursor included


@dataclass(frozen=True)
class KeySpan:
    """One key written in a cite command."""

    key: str
    start: int
    end: int
    citation: Citation


def mask_comments(text: str) -> str:
    """`text` with `%` comments blanked by spaces: same length, so offsets still match."""
    return _COMMENT.sub(lambda m: m.group(1) + " " * len(m.group(2)), text)


def cite_at(text: str, offset: int) -> CiteSite | None:
    """The cite argument holding `offset`, closed or still being typed; None elsewhere."""
    head_start = max(0, offset - LOOKBACK)
    head = text[head_start:offset]
    line_start = head.rfind("\n") + 1
    if "%" in head[line_start:] and mask_comments(head[line_start:]) != head[line_start:]:
        return None  # in a comment
    brace = head.rfind("{")
    if brace < 0 or head.rfind("}") > brace:
        return None
    for m in reversed(list(_COMMAND.finditer(head, 0, brace))):
        name = m.group(1)
        if name not in CITE_COMMANDS:
            continue
        if not _OPEN_ARGUMENT.fullmatch(head, m.start()):
            return None  # the nearest cite command does not reach the cursor
        return _site(text, offset, name, head_start + m.start(), head_start + brace + 1)
    return None


def _site(text: str, offset: int, name: str, start: int, arg_start: int) -> CiteSite:
    comma = text.rfind(",", arg_start, offset)
    key_start = comma + 1 if comma >= 0 else arg_start
    while key_start < offset and text[key_start] in " \t\r\n":
        key_start += 1
    key_end = offset
    limit = min(len(text), offset + 200)
    while key_end < limit and text[key_end] not in _KEY_END:
        key_end += 1
    close = offset
    while close < limit and text[close] not in "{}\n":
        close += 1
    closed_at = close if close < len(text) and text[close] == "}" else -1
    raw = text[arg_start : closed_at if closed_at >= 0 else key_end]
    keys = tuple(k for k in (part.strip() for part in raw.split(",")) if k)
    return CiteSite(
        name, start, arg_start, key_start, key_end, text[key_start:offset], text[key_start:key_end], closed_at, keys
    )


def paragraph_bounds(text: str, offset: int) -> tuple[int, int]:
    """The paragraph around `offset` (blank lines end it), at most `PARAGRAPH_LIMIT` characters either side."""
    lo = max(0, offset - PARAGRAPH_LIMIT)
    hi = min(len(text), offset + PARAGRAPH_LIMIT)
    start = lo
    for m in _BLANK_LINE.finditer(text, lo, offset):
        start = m.end()
    m = _BLANK_LINE.search(text, offset, hi)
    end = m.start() if m else hi
    return start, end


def key_spans(text: str, start: int = 0, end: int | None = None) -> list[KeySpan]:
    """Every key cited in `text[start:end]` with its offsets; placeholders and comments left out."""
    masked = mask_comments(text[start:end])
    spans: list[KeySpan] = []
    for cit in find_citations(masked):
        if not cit.command:
            continue
        groups = [(cit.arg_start, cit.arg_end)]
        if cit.command in MULTI_CITE_COMMANDS:
            groups = [(m.start(1), m.end(1)) for m in re.finditer(r"\{([^{}]*)\}", masked[cit.start : cit.end])]
            groups = [(cit.start + a, cit.start + b) for a, b in groups]
        shifted = Citation(
            cit.start + start,
            cit.end + start,
            cit.command,
            cit.keys,
            cit.placeholder,
            cit.arg_start + start,
            cit.arg_end + start,
        )
        for a, b in groups:
            pos = a
            for part in masked[a:b].split(","):
                key = part.strip()
                lead = len(part) - len(part.lstrip())
                if key and key.lower() not in PLACEHOLDER_KEYS and not key.startswith("?") and key != "*":
                    spans.append(KeySpan(key, start + pos + lead, start + pos + lead + len(key), shifted))
                pos += len(part) + 1
    return spans


_SPANS_CACHE: OrderedDict[str, tuple[KeySpan, ...]] = OrderedDict()
_SPANS_CACHE_SIZE = 4096  # paragraphs
_SPANS_LOCK = threading.Lock()


def _shift(span: KeySpan, by: int) -> KeySpan:
    cit = span.citation
    moved = replace(cit, start=cit.start + by, end=cit.end + by, arg_start=cit.arg_start + by, arg_end=cit.arg_end + by)
    return KeySpan(span.key, span.start + by, span.end + by, moved)


def document_key_spans(text: str) -> list[KeySpan]:
    """`key_spans` of a whole document, paragraph by paragraph, remembering paragraphs already read.

    An edit changes one paragraph, so checking the document again after a
    keystroke reads that paragraph only (a cite command never spans a blank line).
    """
    spans: list[KeySpan] = []
    starts = [0, *(m.end() for m in _BLANK_LINE.finditer(text))]
    ends = [m.start() for m in _BLANK_LINE.finditer(text)] + [len(text)]
    for start, end in zip(starts, ends, strict=True):
        paragraph = text[start:end]
        if "\\" not in paragraph and "[" not in paragraph:
            continue
        with _SPANS_LOCK:
            found = _SPANS_CACHE.get(paragraph)
            if found is not None:
                _SPANS_CACHE.move_to_end(paragraph)
        if found is None:
            found = tuple(key_spans(paragraph))
            with _SPANS_LOCK:
                _SPANS_CACHE[paragraph] = found
                while len(_SPANS_CACHE) > _SPANS_CACHE_SIZE:
                    _SPANS_CACHE.popitem(last=False)
        spans.extend(_shift(span, start) for span in found)
    return spans


def key_at(text: str, offset: int) -> KeySpan | None:
    """The cited key under the cursor, if any."""
    a, b = paragraph_bounds(text, offset)
    return next((span for span in key_spans(text, a, b) if span.start <= offset <= span.end), None)


def citation_at(text: str, offset: int) -> Citation | None:
    """The citation command or placeholder (`\\cite{?}`, `[cite]`, `\\cn`) under the cursor, if any."""
    a, b = paragraph_bounds(text, offset)
    for cit in find_citations(mask_comments(text[a:b])):
        if cit.start <= offset - a <= cit.end:
            return Citation(
                cit.start + a, cit.end + a, cit.command, cit.keys, cit.placeholder, cit.arg_start + a, cit.arg_end + a
            )
    return None


@dataclass(frozen=True)
class Passage:
    """The sentence around the cursor, as retrieval sees it, and where it lies in the buffer."""

    query: str  # the sentence with its neighbours, citations removed: what recall is asked
    sentence: str
    start: int
    end: int
    cited_keys: tuple[str, ...]
    wide: str = ""  # the sentence with a wider window ("" when the paragraph has no more)


def passage_source(text: str, offset: int) -> tuple[str, int, int]:
    """(the paragraph around `offset` made safe to parse, its offset in `text`, the cursor in it).

    The cite argument being typed becomes a `\\cite{?}` placeholder (an unclosed
    brace would stop the LaTeX reader, and the keys typed so far are not part of
    the passage); include commands are disarmed, so no file is ever read. Two
    keystrokes inside one cite argument give the same source.
    """
    a, b = paragraph_bounds(text, offset)
    site = cite_at(text, offset)
    if site is not None and site.start >= a:
        stop = site.closed_at + 1 if site.closed_at >= 0 else site.key_end
        source, cursor = text[a : site.start] + "\\cite{?}" + text[max(stop, site.start) : b], site.start - a
    else:
        source, cursor = text[a:b], offset - a
    return _INCLUDE.sub(" ", source), a, cursor


def passage_at(source: str, cursor: int, *, neighbours: int = 1) -> Passage | None:
    """The sentence of `source` (from `passage_source`) holding `cursor`; offsets relative to `source`."""
    from citerec.latex import extract_contexts

    try:
        contexts = extract_contexts(
            Path("<buffer>.tex"), text=source, is_tex=True, all_sentences=True, neighbours=neighbours
        )
    except InputError:  # unbalanced braces while typing: read it as plain text instead
        plain = re.sub(r"\\[A-Za-z@]+\*?|[{}]", " ", source)
        contexts = extract_contexts(
            Path("<buffer>.txt"), text=plain, is_tex=False, all_sentences=True, neighbours=neighbours
        )
    if not contexts:
        return None
    best = contexts[0]
    for context in contexts:
        if context.start <= cursor:
            best = context
        if context.start <= cursor <= context.end:
            break
    if not best.text.strip():
        return None
    return Passage(best.text, best.sentence, best.start, best.end, best.cited_keys, best.wide)
