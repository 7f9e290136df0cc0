"""Citation contexts: the sentences (or paragraphs) retrieval works on, with their place in the source."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from citerec.latex.cites import Citation, find_citations, strip_comments
from citerec.latex.clauses import MIN_WORDS, split_clauses
from citerec.latex.macros import MacroExpander
from citerec.latex.reader import Draft, read_draft
from citerec.latex.sentences import Sentence, split_segments
from citerec.latex.text import latex_to_text, remove_citations, tidy

MODES = ("sentence", "paragraph")
_MD_CITE = re.compile(r"\[(?:[^\[\]]*?@[\w:.#$%&+?<>~/-]+[^\[\]]*)\]")
_MD_KEY = re.compile(r"@([\w:.#$%&+?<>~/-]*\w)")
_BIBLIOGRAPHY = re.compile(r"\\(?:bibliography|addbibresource|printbibliography|addglobalbib)(?![A-Za-z@])")


@dataclass(frozen=True)
class Placeholder:
    """Where a citation is wanted: a whole span, and the keys argument to fill when it is a cite command."""

    start: int
    end: int
    command: str  # "" for free-standing placeholders such as [cite] or \todo{cite}
    arg_start: int
    arg_end: int
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    """One passage to find citations for. `id` is the sentence's (paragraph's) index in the whole draft,
    so ids are the same whatever `all_sentences` is; `start`/`end` are source offsets in `file`."""

    id: int
    text: str
    sentence: str
    file: str
    line_start: int
    line_end: int
    cited_keys: tuple[str, ...]
    placeholder: bool
    section: str = ""
    start: int = 0
    end: int = 0
    placeholders: tuple[Placeholder, ...] = ()
    wide: str = ""  # the sentence with twice as many neighbours ("" when that adds nothing to `text`)
    draft: str = ""  # the draft it comes from: passages of one draft share its topic
    paragraph: int = -1  # the paragraph's index in the whole draft (the draft evidence measures by it)
    # (key, its own words) where the sentence lists several papers with a phrase each (`citerec.latex.clauses`);
    # empty when the whole sentence is said of every key it cites, and always in paragraph mode
    clauses: tuple[tuple[str, str], ...] = ()


def draft_sentences(draft: Draft) -> list[Sentence]:
    """Every sentence of the draft as a span (file, offsets, paragraph, section), in reading order: what
    `Context.id` counts. Splitting only, no text read: cheap enough to place an editor's cursor among them."""
    segments = [(seg.file, draft.files[seg.file].masked, seg.start, seg.end) for seg in draft.segments]
    return split_segments(segments, latex=draft.kind == "latex")


def _markdown_citations(s: str, a: int, b: int) -> list[Citation]:
    """Pandoc citations `[@key; @other]` in Markdown/plain text."""
    return [
        Citation(
            m.start(), m.end(), "pandoc", tuple(dict.fromkeys(_MD_KEY.findall(m.group(0)))), False, m.start(), m.end()
        )
        for m in _MD_CITE.finditer(s, a, b)
    ]


def _readable(draft: Draft, sent: Sentence, cites: tuple[Citation, ...], macros: MacroExpander) -> str:
    return _read_span(draft, sent.file, sent.start, sent.end, cites, macros)


def _read_span(
    draft: Draft, file: int, start: int, end: int, cites: tuple[Citation, ...], macros: MacroExpander
) -> str:
    """Readable text of a span of one file, its citations removed (a sentence, or a clause of one)."""
    s = draft.files[file].masked
    raw = remove_citations(s[start:end], cites, start)
    if draft.kind == "latex":
        return latex_to_text(macros.expand(raw))
    if draft.kind == "markdown":
        raw = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
        raw = re.sub(r"(\*\*|__|\*|`)", "", raw)
    return tidy(raw)


def _clauses(
    draft: Draft, sent: Sentence, cites: tuple[Citation, ...], macros: MacroExpander
) -> tuple[tuple[str, str], ...]:
    """Each cited key's own words where the sentence lists several papers with a phrase each, read as the
    sentence is; () when the whole sentence is said of every key (`citerec.latex.clauses`)."""
    found = split_clauses(draft.files[sent.file].masked, sent.start, sent.end, cites)
    out: dict[str, str] = {}
    for clause in found:
        text = " ".join(t for t in (_read_span(draft, sent.file, a, b, cites, macros) for a, b in clause.spans) if t)
        if len(text.split()) < MIN_WORDS:  # markup alone: the words counted in the source are not read
            return ()
        for key in clause.keys:
            out.setdefault(key, text)
    return tuple(out.items())


def _citations(draft: Draft, sent: Sentence) -> tuple[Citation, ...]:
    if draft.kind == "latex":
        return sent.citations
    s = draft.files[sent.file].masked
    return tuple(sorted(sent.citations + tuple(_markdown_citations(s, sent.start, sent.end)), key=lambda c: c.start))


def _keys(cites: tuple[Citation, ...]) -> tuple[str, ...]:
    keys: dict[str, None] = {}
    for cit in cites:
        if not cit.is_nocite:
            keys.update(dict.fromkeys(cit.keys))
    return tuple(keys)


def _placeholders(cites: tuple[Citation, ...]) -> tuple[Placeholder, ...]:
    return tuple(Placeholder(c.start, c.end, c.command, c.arg_start, c.arg_end, c.keys) for c in cites if c.placeholder)


def extract_contexts(
    source: Path | str | Draft,
    *,
    mode: str = "sentence",
    all_sentences: bool = False,
    neighbours: int = 1,
    text: str | None = None,
    is_tex: bool | None = None,
) -> list[Context]:
    """Citation contexts of a draft: sentences that cite or hold a placeholder (all with `all_sentences`).

    `source` is a path ("-" for stdin), a `Draft`, or, with `text=`, the name to give raw text.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    draft = source if isinstance(source, Draft) else read_draft(source, text=text, is_tex=is_tex)
    sentences = draft_sentences(draft)
    cites = [_citations(draft, sent) for sent in sentences]
    readable: dict[int, str] = {}
    macros = MacroExpander(draft.definitions)

    def read(k: int) -> str:
        if k not in readable:
            readable[k] = _readable(draft, sentences[k], cites[k], macros)
        return readable[k]

    def wanted(k: int) -> bool:
        return any(not c.is_nocite for c in cites[k])

    contexts: list[Context] = []
    if mode == "sentence":
        for k, sent in enumerate(sentences):
            if not (all_sentences or wanted(k)):
                continue
            own = read(k)
            if not own and not wanted(k):
                continue
            window = " ".join(t for t in map(read, _window(sentences, k, neighbours)) if t)
            wide = " ".join(t for t in map(read, _window(sentences, k, 2 * neighbours)) if t)
            wide = wide if wide != window else ""
            clauses = _clauses(draft, sent, cites[k], macros) if wanted(k) else ()
            contexts.append(_context(draft, k, [sent], cites[k], own, window, wide, clauses=clauses))
        return contexts
    groups: dict[int, list[int]] = {}
    for k, sent in enumerate(sentences):
        groups.setdefault(sent.paragraph, []).append(k)
    for number, (_, members) in enumerate(sorted(groups.items())):
        if not (all_sentences or any(wanted(k) for k in members)):
            continue
        own = " ".join(t for t in (read(k) for k in members) if t)
        if not own:
            continue
        group_cites = tuple(c for k in members for c in cites[k])
        contexts.append(_context(draft, number, [sentences[k] for k in members], group_cites, own, own, "", number))
    return contexts


def _window(sentences: list[Sentence], k: int, neighbours: int) -> range:
    """Indices of sentence `k` and up to `neighbours` sentences on each side within its paragraph."""
    paragraph = sentences[k].paragraph
    lo = k
    while lo > 0 and k - lo < neighbours and sentences[lo - 1].paragraph == paragraph:
        lo -= 1
    hi = k
    while hi + 1 < len(sentences) and hi - k < neighbours and sentences[hi + 1].paragraph == paragraph:
        hi += 1
    return range(lo, hi + 1)


def _context(
    draft: Draft,
    cid: int,
    sents: list[Sentence],
    cites: tuple[Citation, ...],
    own: str,
    window: str,
    wide: str = "",
    paragraph: int | None = None,
    *,
    clauses: tuple[tuple[str, str], ...] = (),
) -> Context:
    first, last = sents[0], sents[-1]
    src = draft.files[first.file]
    return Context(
        id=cid,
        text=window,
        sentence=own,
        file=src.name,
        line_start=src.line_of(first.start),
        line_end=src.line_of(max(first.start, last.end - 1)),
        cited_keys=_keys(cites),
        placeholder=any(c.placeholder for c in cites),
        section=latex_to_text(first.section) if draft.kind == "latex" else first.section,
        start=first.start,
        end=last.end,
        placeholders=_placeholders(cites),
        wide=wide,
        draft=str(draft.main),
        paragraph=first.paragraph if paragraph is None else paragraph,
        clauses=clauses,
    )


def _citing(text: str) -> int:
    """How many cite commands naming entries (no placeholder, no `\\nocite`) a LaTeX source holds."""
    return sum(1 for c in find_citations(strip_comments(text)) if c.keys and not c.placeholder and not c.is_nocite)


def unread_citations(draft: Draft, contexts: Sequence[Context]) -> str | None:
    """A warning when a draft that cites yields no citation context, so that it never fails silently.

    "Cites": its source holds cite commands (then something hid them), or it names a bibliography and
    .tex files in its folder tree that were not read do (then an include was not followed)."""
    if draft.kind != "latex" or any(c.cited_keys or c.placeholder for c in contexts):
        return None
    commands = sum(_citing(f.text) for f in draft.files)
    main = draft.files[0].name if draft.files else str(draft.main)
    if commands:
        return f"{main}: {commands} cite command(s) in its source, but no citation context was read from them"
    if not any(_BIBLIOGRAPHY.search(strip_comments(f.text)) for f in draft.files) or not draft.main.is_file():
        return None
    read = {f.path.resolve() for f in draft.files}
    folder = draft.main.parent
    # Three levels deep and 500 files at most: cheap even for a draft kept in a large folder.
    beside = itertools.islice(itertools.chain(*(folder.glob(p) for p in ("*.tex", "*/*.tex", "*/*/*.tex"))), 500)
    unread = []
    for path in beside:
        try:
            if path.resolve() not in read and path.is_file() and _citing(path.read_text("utf-8", errors="replace")):
                unread.append(path.relative_to(folder).as_posix())
        except OSError:  # unreadable: it says nothing
            continue
    if not unread:
        return None
    shown = ", ".join(unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3 else "")
    return (
        f"{main}: no citation context read, but {len(unread)} .tex file(s) beside it cite ({shown}): "
        "included in a way citerec does not follow?"
    )
