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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.errors import InputError
from citerec.latex.cites import strip_comments
from citerec.latex.reader import Draft, Segment, read_draft
from citerec.library import DEFAULT_DIRNAME, LIBRARY_ENV, default_library_dir

if TYPE_CHECKING:
    from citerec.lsp.editor import EditorSettings

log = logging.getLogger(__name__)

HEAD_LINES = 20  # a magic comment counts only near the top of a file, as editors read it
PARENT_LEVELS = 2  # folders above a chapter searched for the document that includes it
MAX_CANDIDATES = 50  # documents read per search for an including one
_MAGIC_ROOT = re.compile(r"^\s*%\s*!\s*tex\s+root\s*=\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_DOCUMENTCLASS = re.compile(r"\\documentclass\b")
_BIBLIOGRAPHY = re.compile(r"\\bibliography\s*\{([^{}]*)\}")
_BIBRESOURCE = re.compile(r"\\(?:addbibresource|addglobalbib|addsectionbib)\s*(?:\[[^\]]*\]\s*)?\{([^{}]*)\}")
_TEX_SUFFIXES = (".tex", ".ltx", ".latex")
MAX_WORKSPACE_BIBS = 100
_SKIP_DIRS = {"node_modules", "__pycache__", "build", "dist", "_minted"}


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


def library_dir(root_document: Path | None, workspaces: list[Path]) -> Path:
    """Where the library lives with no `--library-dir`: `$CITEREC_LIBRARY_DIR`, an existing `.citerec/` beside
    the root document, then in a workspace folder, else a new one beside the root document (or the workspace)."""
    if os.environ.get(LIBRARY_ENV):
        return default_library_dir()
    places = ([root_document.parent] if root_document else []) + list(workspaces)
    for place in places:
        if (place / DEFAULT_DIRNAME).is_dir():
            return place / DEFAULT_DIRNAME
    return default_library_dir(places[0] if places else None)


def find_bibs(roots: Iterable[Path], limit: int = MAX_WORKSPACE_BIBS) -> list[Path]:
    """The .bib files under the workspace folders (hidden and build folders skipped), at most `limit`."""
    found: list[Path] = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(files):
                if name.lower().endswith(".bib"):
                    found.append(Path(folder) / name)
                    if len(found) >= limit:
                        return found
    return found


@dataclass(frozen=True)
class LibrarySources:
    """Where the server's library lives, the .bib files it imports and watches, and why each was chosen."""

    root: Path
    bibs: tuple[Path, ...]
    found: tuple[str, ...]  # one line per source, for the editor's log and the no-library notice
    problems: tuple[str, ...]
    project: Project | None


def library_sources(
    settings: EditorSettings, roots: Sequence[Path], document: tuple[Path, str] | None
) -> LibrarySources:
    """The library for a server: `--library-dir` or one found from the first opened document (`library_dir`);
    .bib files from `--bib`, then those its root document names, then the workspace's (unless turned off)."""
    project = read_project(*document, stop=roots[0] if roots else None) if document else None
    root = settings.library_dir or library_dir(project.root if project else None, list(roots))
    found = [f"library {root}"]
    bibs = [p.resolve() for p in settings.bib]
    found += [f"{p.name} (--bib)" for p in bibs]
    if project is not None:
        named = [p for p in project.bibs if p not in bibs]
        bibs += named
        found += [f"{p.name} (named by {project.root.name})" for p in named]
        if not project.bibs:
            found.append(f"no \\bibliography or \\addbibresource in {project.root.name}")
    if settings.workspace_bibs:
        extra = [p.resolve() for p in find_bibs(roots) if p.resolve() not in bibs]
        bibs += extra
        found += [f"{p.name} (workspace)" for p in extra]
    if not roots:
        found.append("no workspace folder (single-file mode)")
    return LibrarySources(root, tuple(bibs), tuple(found), project.problems if project else (), project)


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
