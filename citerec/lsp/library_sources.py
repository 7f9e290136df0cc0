"""Where the language server's library lives and which .bib files feed it: found from the first opened document.

Kept apart from `project` (which reads a LaTeX project) because it depends on
the server's settings (`--library-dir`, `--bib`, workspace .bib files), which a
project does not.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from citerec.library import DEFAULT_DIRNAME, LIBRARY_ENV, default_library_dir
from citerec.lsp.project import Project, read_project
from citerec.lsp.settings import EditorSettings

MAX_WORKSPACE_BIBS = 100
_SKIP_DIRS = {"node_modules", "__pycache__", "build", "dist", "_minted"}


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
