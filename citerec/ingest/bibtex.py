"""BibTeX → `Paper`, entry by entry, so one broken entry never loses the rest.

The file is cut into entries by `bibsplit`, each entry is parsed by pybtex's
low-level parser, and every problem (syntax error, duplicate key, unknown
@string, missing title, bytes that are not UTF-8…) becomes a `BibProblem`
located at file:line. pybtex and pylatexenc are imported lazily.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citerec.errors import InputError
from citerec.ingest.bibsplit import Chunk, Stray, split_bibtex
from citerec.ingest.keys import citation_key
from citerec.ingest.texconv import latex_to_text
from citerec.papers import Paper, extract_arxiv_id, normalise_doi, normalise_key

log = logging.getLogger(__name__)

VENUE_FIELDS = ("journal", "journaltitle", "booktitle", "school", "institution", "publisher", "howpublished")
_MAPPED_FIELDS = {
    "title",
    "abstract",
    "year",
    "doi",
    "eprint",
    "archiveprefix",
    "eprinttype",
    "keywords",
    "url",
    "author",
    "editor",
}
RAW_FIELDS = frozenset({"file", "pdf", "isbn", "issn", "urldate", "date", "note_url", "biburl", "bibsource"})
_MAX_ENCODING_REPORTS = 5
_KEYLESS = re.compile(r"@[ \t]*[A-Za-z][\w\-:.]*[ \t\r\n]*[{(]\s*(?=,)")
_PLACEHOLDER = "citerec-keyless-entry"


@dataclass(frozen=True)
class BibProblem:
    """One thing wrong in a .bib file, where it is, and what happened to the entry."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class BibImport:
    """The papers read from one .bib file and the problems met on the way."""

    file: str
    papers: tuple[Paper, ...]
    problems: tuple[BibProblem, ...] = ()
    entries: int = 0  # @entries seen (not @string/@comment/@preamble)
    strings: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # @string macros defined
    external_macros: tuple[str, ...] = field(default=(), compare=False)  # @strings used but defined elsewhere
    unchanged: bool = False  # skipped: the same file was imported before and the library still holds it


def read_bibtex(path: Path | str, *, macros: Mapping[str, str] | None = None) -> BibImport:
    """Read a .bib file; `macros` are @strings defined by files read before it (as `\\bibliography{a,b}`)."""
    return parse_bibtex_bytes(read_bib_bytes(path), str(path), macros=macros)


def read_bib_bytes(path: Path | str) -> bytes:
    """The bytes of a .bib file, or an InputError naming it."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a .bib file", str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", str(path)) from None


def parse_bibtex_bytes(data: bytes, file: str, *, macros: Mapping[str, str] | None = None) -> BibImport:
    """`parse_bibtex` on the raw bytes of a file (any encoding the reader accepts)."""
    text, problems = decode_bib_bytes(data, file)
    result = parse_bibtex(text, file, macros=macros)
    return dataclasses.replace(result, problems=tuple(problems) + result.problems)


def decode_bib_bytes(data: bytes, file: str) -> tuple[str, list[BibProblem]]:
    """UTF-8 text; lines that are not UTF-8 are decoded as cp1252 (else latin-1) and reported."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    problems: list[BibProblem] = []
    lines = data.split(b"\n")
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        try:
            out.append(raw.decode("cp1252"))
            encoding = "cp1252"
        except UnicodeDecodeError:
            out.append(raw.decode("latin-1"))
            encoding = "latin-1"
        if len(problems) < _MAX_ENCODING_REPORTS:
            problems.append(BibProblem(file, number, "", f"line is not valid UTF-8; decoded as {encoding}"))
    text = "\n".join(out)
    return (text[1:] if text.startswith("\ufeff") else text), problems


def parse_bibtex(text: str, file: str = "<string>", *, macros: Mapping[str, str] | None = None) -> BibImport:
    """Parse BibTeX text into papers; each bad entry is reported and skipped."""
    from pybtex.database.input.bibtex import month_names
    from pybtex.utils import CaseInsensitiveDict

    strings = CaseInsensitiveDict(month_names)
    strings.update(macros or {})
    source = f"bibtex:{Path(file).name}"
    papers: list[Paper] = []
    problems: list[BibProblem] = []
    first_line: dict[str, int] = {}
    defined: dict[str, str] = {}
    used: set[str] = set()  # every macro name looked up (lower-cased), to tell which came from outside
    entries = 0
    for item in split_bibtex(text):
        if isinstance(item, Stray):
            problems.append(
                BibProblem(
                    file, item.line, "", f"text outside any entry ignored: {item.text!r} (unbalanced braces above?)"
                )
            )
            continue
        if item.kind in ("comment", "preamble"):
            continue
        if item.kind == "string":
            _read_string(item, file, strings, defined, problems, used)
            continue
        entries += 1
        paper = _read_entry(item, file, source, strings, first_line, problems, used)
        if paper is not None:
            papers.append(paper)
    for problem in problems:
        log.debug("%s", problem)
    own = {name.lower() for name in defined} | {name.lower() for name in month_names}
    external = tuple(sorted(name for name in used if name not in own))
    return BibImport(file, tuple(papers), tuple(problems), entries, tuple(defined.items()), external)


@functools.cache
def _chunk_parser_class() -> type:
    """pybtex's low-level parser that notes every macro name and keeps unknown ones as text (made once)."""
    from pybtex.database.input.bibtex import LowLevelParser, UndefinedMacro

    class ChunkParser(LowLevelParser):
        errors: list[Any]
        used: set[str]

        def substitute_macro(self, name: str) -> str:
            self.used.add(name.lower())
            try:
                return self.macros[name]
            except KeyError:
                self.errors.append(UndefinedMacro(name, self))
                return name

    return ChunkParser


def _parser(chunk: Chunk, file: str, strings: Any, errors: list[Any], used: set[str]) -> Any:
    """A parser for one chunk: errors collected in `errors`, macro names looked up added to `used`."""
    parser = _chunk_parser_class()(chunk.text, macros=strings, handle_error=errors.append, filename=file)
    parser.errors = errors
    parser.used = used
    return parser


def _syntax_problem(chunk: Chunk, file: str, error: Any, what: str) -> BibProblem:
    from pybtex.database.input.bibtex import UndefinedMacro

    line = chunk.line + max(getattr(error, "lineno", 1) or 1, 1) - 1
    if isinstance(error, UndefinedMacro):
        message = f"{what}: unknown @string macro '{error.args[0]}' (kept as text)"
        return BibProblem(file, line, chunk.key, message)
    message = f"{what}: {getattr(error, 'error_type', 'error')}: {error.args[0] if error.args else error}; skipped"
    return BibProblem(file, line, chunk.key, message)


def _read_string(
    chunk: Chunk, file: str, strings: Any, defined: dict[str, str], problems: list[BibProblem], used: set[str]
) -> None:
    if chunk.error:
        problems.append(BibProblem(file, chunk.line, "", f"@string: {chunk.error}; skipped"))
        return
    errors: list[Any] = []
    before = dict(strings)
    for _ in _parser(chunk, file, strings, errors, used):
        pass
    defined.update({k: v for k, v in strings.items() if before.get(k) != v})
    problems.extend(_syntax_problem(chunk, file, e, "@string") for e in errors)


def _read_entry(
    chunk: Chunk,
    file: str,
    source: str,
    strings: Any,
    first_line: dict[str, int],
    problems: list[BibProblem],
    used: set[str],
) -> Paper | None:
    what = f"entry '{chunk.key}'" if chunk.key else f"@{chunk.kind} entry"
    if chunk.error:
        problems.append(BibProblem(file, chunk.line, chunk.key, f"{what}: {chunk.error}; skipped"))
        return None
    keyless = not chunk.key and _KEYLESS.match(chunk.text) is not None
    if keyless:  # BibTeX accepts `@manual{,`; give it a placeholder key, replaced below
        chunk = dataclasses.replace(chunk, text=_KEYLESS.sub(r"\g<0>" + _PLACEHOLDER, chunk.text, count=1))
    errors: list[Any] = []
    parsed = list(_parser(chunk, file, strings, errors, used))
    fatal = [e for e in errors if type(e).__name__ != "UndefinedMacro"]
    problems.extend(_syntax_problem(chunk, file, e, what) for e in errors)
    if fatal or not parsed:
        if not fatal:
            problems.append(BibProblem(file, chunk.line, chunk.key, f"{what}: could not be parsed; skipped"))
        return None
    entry_type, (key, raw_fields) = parsed[0]
    norm = normalise_key(key)
    if not keyless and norm in first_line:
        problems.append(
            BibProblem(
                file,
                chunk.line,
                key,
                f"duplicate key '{key}' (first defined at line {first_line[norm]}); this one skipped",
            )
        )
        return None
    if not keyless:
        first_line[norm] = chunk.line
    fields: dict[str, str] = {}
    for name, parts in raw_fields:
        name = name.lower()
        if name in fields:
            problems.append(
                BibProblem(file, chunk.line, key, f"entry '{key}': duplicate field '{name}'; the first is kept")
            )
            continue
        fields[name] = " ".join("".join(parts).split())
    paper = entry_to_paper(entry_type.lower(), key, fields, source)
    if not paper.title:
        stand_in = next((v for v in (dict(paper.extra).get("note", ""), paper.venue, paper.url) if v), "")
        if not stand_in:
            problems.append(BibProblem(file, chunk.line, key, f"entry '{key}': no title; skipped"))
            return None
        paper = dataclasses.replace(paper, title=stand_in)
        problems.append(BibProblem(file, chunk.line, key, f"entry '{key}': no title; imported as {stand_in!r}"))
    if keyless:
        new_key = citation_key(paper, lambda k: normalise_key(k) in first_line)
        first_line[normalise_key(new_key)] = chunk.line
        paper = dataclasses.replace(paper, key=new_key)
        problems.append(
            BibProblem(
                file, chunk.line, new_key, f"@{chunk.kind} entry without a citation key; imported as '{new_key}'"
            )
        )
    return paper


def entry_to_paper(entry_type: str, key: str, fields: Mapping[str, str], source: str) -> Paper:
    """A `Paper` from raw (still LaTeX) BibTeX fields; unmapped fields are kept in `extra`."""
    get = fields.get
    venue_field = next((f for f in VENUE_FIELDS if get(f, "").strip()), "")
    venue = latex_to_text(get(venue_field, "")) if venue_field else ""
    extra = {
        name: value.strip() if name in RAW_FIELDS else latex_to_text(value)
        for name, value in fields.items()
        if name not in _MAPPED_FIELDS and name != venue_field and value.strip()
    }
    if get("editor", "").strip():
        extra["editor"] = " and ".join(_names(get("editor", "")))
    if prefix := (get("archiveprefix", "") or get("eprinttype", "")).strip():
        if not _ARXIV_PREFIX.search(prefix):  # a non-arXiv eprint (PubMed, HAL…) is kept as written
            extra.update({"eprint": get("eprint", "").strip(), "archiveprefix": prefix})
    keywords = tuple(k for k in (x.strip() for x in re.split(r"[,;]", latex_to_text(get("keywords", "")))) if k)
    return Paper(
        key=key,
        title=latex_to_text(get("title", "")),
        abstract=latex_to_text(get("abstract", "")),
        authors=tuple(_names(get("author", ""))),
        year=_year(get("year", "") or get("date", "")),
        venue=venue,
        doi=_doi(get("doi", "")),
        arxiv_id=_arxiv_id(fields),
        keywords=keywords,
        entry_type=entry_type,
        url=get("url", "").strip(),
        source=source,
        extra=tuple(sorted(extra.items())),
    )


def _names(value: str) -> list[str]:
    """'Last, First and First Last and others' → ['First Last', 'First Last'] (Unicode)."""
    from pybtex.database.input.bibtex import split_name_list

    names = []
    for raw in split_name_list(value) if value.strip() else []:
        if raw.strip().strip("{}").strip().lower() == "others":
            continue
        names.append(_name(raw))
    return [n for n in names if n]


@functools.lru_cache(maxsize=1 << 16)
def _name(raw: str) -> str:
    """One BibTeX name as 'First von Last Jr' (cached: in a large import most authors come back)."""
    from pybtex.database import Person
    from pybtex.errors import capture

    with capture():  # pybtex reports odd names (too many commas) instead of raising
        person = Person(raw)
    parts = person.first_names + person.middle_names + person.prelast_names + person.last_names + person.lineage_names
    return latex_to_text(" ".join(parts) or raw)


def _doi(value: str) -> str:
    """DOI without BibTeX protection (`{…}`, `\\_`), normalised."""
    return normalise_doi(re.sub(r"[{}]|\\(?=[_%&#])", "", value))


def _year(value: str) -> int | None:
    match = re.search(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)", value)
    return int(match.group(1)) if match else None


_ARXIV_PREFIX = re.compile(r"arxiv", re.IGNORECASE)
_ARXIV_ID_ONLY = re.compile(r"\s*(?:arxiv:)?\s*(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?\s*", re.IGNORECASE)


def _arxiv_id(fields: Mapping[str, str]) -> str:
    """arXiv id from eprint (+archivePrefix/eprinttype), an arXiv URL, a 10.48550 DOI or 'arXiv:…' in a venue."""
    eprint = fields.get("eprint", "")
    prefix = fields.get("archiveprefix", "") or fields.get("eprinttype", "")
    if eprint and (_ARXIV_PREFIX.search(prefix) or _ARXIV_PREFIX.search(eprint) or _ARXIV_ID_ONLY.fullmatch(eprint)):
        if found := extract_arxiv_id(eprint if _ARXIV_PREFIX.search(eprint) else f"arXiv:{eprint}"):
            return found
    doi = _doi(fields.get("doi", ""))
    if doi.startswith("10.48550/arxiv."):
        return extract_arxiv_id(doi.split("arxiv.", 1)[1])
    for name in ("url", "journal", "journaltitle", "booktitle", "note", "howpublished", "pdf", "eprint"):
        value = fields.get(name, "")
        if _ARXIV_PREFIX.search(value):
            if found := extract_arxiv_id(value):
                return found
    return ""
