"""Which LaTeX project an open file belongs to: its root document, the files it reads, the .bib files it names.

Editors open one chapter at a time, but a thesis is one document: citations,
reading plans and missing keys are a matter of the whole project, and the
library is the one its root document names. The root is found as LaTeX editors
find it: a `% !TEX root = …` magic comment (TeXShop, texlab, LaTeX Workshop),
the file itself when it has a `\\documentclass`, else a document nearby that
includes it. Includes are read from disk with `citerec suggest`'s confinement
rules (`read_draft`), so a project is what was last saved.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from citerec.errors import InputError
from citerec.latex.cites import strip_comments
from citerec.latex.reader import Draft, Segment, read_draft

log = logging.getLogger(__name__)

HEAD_LINES = 20  # a magic comment counts only near the top of a file, as editors read it
PARENT_LEVELS = 2  # folders above a chapter searched for the document that includes it
MAX_CANDIDATES = 50  # documents read per search for an including one
_MAGIC_ROOT = re.compile(r"^\s*%\s*!\s*tex\s+root\s*=\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_DOCUMENTCLASS = re.compile(r"\\documentclass\b")
_BIBLIOGRAPHY = re.compile(r"\\bibliography\s*\{([^{}]*)\}")
_BIBRESOURCE = re.compile(r"\\(?:addbibresource|addglobalbib|addsectionbib)\s*(?:\[[^\]]*\]\s*)?\{([^{}]*)\}")
_TEX_SUFFIXES = (".tex", ".ltx", ".latex")


@dataclass(frozen=True)
class Project:
    """A root document with the files it reads and the bibliographies it names (all resolved paths)."""

    root: Path
    files: tuple[Path, ...]
    bibs: tuple[Path, ...]
    draft: Draft | None = None  # None when the root could not be read (then `files` is the opened file alone)
    how: str = "itself"  # how the root was found: "itself", "magic comment", "included by"
    problems: tuple[str, ...] = ()

    def holds(self, path: Path) -> bool:
        return path.resolve() in self.files


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def magic_root(path: Path, text: str) -> Path | None:
    """The file a `% !TEX root = ../main.tex` comment near the top names (relative to this file), if it exists."""
    head = "\n".join(text.splitlines()[:HEAD_LINES])
    m = _MAGIC_ROOT.search(head)
    if m is None:
        return None
    target = (path.parent / m.group(1).strip().strip('"')).resolve()
    if not target.suffix and not target.is_file():
        target = target.with_suffix(".tex")
    return target if target.is_file() else None


def _candidates(path: Path, stop: Path | None) -> list[Path]:
    """Documents (with a `\\documentclass`) in this file's folder and up to PARENT_LEVELS above, nearest first."""
    found: list[Path] = []
    folder = path.parent
    for _ in range(PARENT_LEVELS + 1):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            break
        for name in names:
            candidate = folder / name
            if candidate.suffix.lower() in _TEX_SUFFIXES and candidate.resolve() != path.resolve():
                if _DOCUMENTCLASS.search(strip_comments(_read(candidate))):
                    found.append(candidate)
            if len(found) >= MAX_CANDIDATES:
                return found
        if (stop is not None and folder.resolve() == stop.resolve()) or folder.parent == folder:
            break
        folder = folder.parent
    return found


def find_root(path: Path, text: str, stop: Path | None = None) -> tuple[Path, str, Draft | None]:
    """(the root document of the file at `path` whose text is `text`, how it was found, and the root as read
    when finding it took reading it)."""
    path = path.resolve()
    magic = magic_root(path, text)
    if magic is not None:
        return magic, "magic comment", None
    if _DOCUMENTCLASS.search(strip_comments(text)):
        return path, "itself", None
    for candidate in _candidates(path, stop):
        try:
            draft = read_draft(candidate)
        except InputError:
            continue
        if any(f.path.resolve() == path for f in draft.files):
            return candidate.resolve(), "included by", draft
    return path, "itself", None


def named_bibs(draft: Draft) -> tuple[list[Path], list[str]]:
    """The .bib files that `\\bibliography{a,b}` and `\\addbibresource{x.bib}` name in any file of the draft,
    resolved as LaTeX does (relative to the root document's folder), and a note for each one missing."""
    base = draft.main.resolve().parent
    found: list[Path] = []
    missing: list[str] = []
    for source in draft.files:
        text = strip_comments(source.text)
        refs = [name for m in _BIBLIOGRAPHY.finditer(text) for name in m.group(1).split(",")]
        refs = [r if r.strip().lower().endswith(".bib") else f"{r.strip()}.bib" for r in refs if r.strip()]
        refs += [m.group(1) for m in _BIBRESOURCE.finditer(text)]
        for ref in refs:
            target = (base / ref.strip()).resolve()
            if target.is_file():
                if target not in found:
                    found.append(target)
            else:
                missing.append(f"{source.name}: bibliography {ref.strip()!r} not found beside {draft.main.name}")
    return found, missing


def file_parts(draft: Draft) -> list[Draft]:
    """The draft as one small draft per file, in reading order, so that reading a thesis can pause between
    files (sentences never span files in practice)."""
    parts = []
    for number, source in enumerate(draft.files):
        segments = tuple(Segment(0, s.start, s.end) for s in draft.segments if s.file == number)
        parts.append(Draft(source.path, (source,), (), segments, draft.kind, draft.definitions))
    return parts


def cites_in(part: Draft) -> bool:
    """Whether a file may hold a cite command or placeholder (\\cite, \\citep, \\parencite, [cite] …)."""
    return "cite" in part.files[0].masked


def citing_files(draft: Draft) -> list[Draft]:
    """`file_parts` of the files that hold a cite command."""
    return [part for part in file_parts(draft) if cites_in(part)]


def read_project(path: Path, text: str, stop: Path | None = None) -> Project:
    """The project of the file at `path` (its text as given), read from disk from its root document."""
    root, how, draft = find_root(path, text, stop)
    try:
        draft = draft or read_draft(root)
    except InputError as exc:
        log.warning("%s: the root document cannot be read: %s", root, exc)
        return Project(path.resolve(), (path.resolve(),), (), None, how, (str(exc),))
    files = tuple(dict.fromkeys(f.path.resolve() for f in draft.files))
    if path.resolve() not in files:  # the root read from disk no longer includes this (unsaved) file
        files += (path.resolve(),)
    bibs, missing = named_bibs(draft)
    return Project(root, files, tuple(bibs), draft, how, (*draft.problems, *missing))


class OpenProjects:
    """The project each open document belongs to (as last read), on the server's message loop."""

    def __init__(self) -> None:
        self.of: dict[str, Project] = {}  # open document uri → its project

    def key(self, uri: str) -> str:
        """What a document's reading plan is kept under: its root document, so every chapter shares one."""
        project = self.of.get(uri)
        return project.root.as_uri() if project is not None else uri

    def files(self) -> set[str]:
        """The uris of every file of every open project (open or not)."""
        return {path.as_uri() for project in self.of.values() for path in project.files}

    def drop(self, uri: str) -> str | None:
        """Forget a closed document; the plan key no open document uses any more, if any."""
        key = self.key(uri)
        self.of.pop(uri, None)
        return None if any(self.key(other) == key for other in self.of) else key
