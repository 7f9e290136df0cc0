"""The one-call entry point used by the CLI, notebooks and scripts, and opening a library for it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citerec.errors import InputError
from citerec.library import Library, default_library_dir
from citerec.progress import ProgressCallback
from citerec.suggest.options import SuggestOptions
from citerec.suggest.pipeline import Suggester
from citerec.suggest.results import SuggestResult

if TYPE_CHECKING:
    from citerec.ingest import BibImport
    from citerec.library import AddReport


def open_library(
    library_dir: Path | str | None = None,
    *,
    bib: Sequence[Path | str] = (),
    near: Path | None = None,
) -> tuple[Library, list[tuple[BibImport, AddReport]]]:
    """Open (or create) a library and bring it up to date with the given .bib files."""
    from citerec.ingest import import_bibtex_files

    root = Path(library_dir) if library_dir else default_library_dir(near)
    library = Library(root)
    imports = import_bibtex_files(library, [Path(path) for path in bib]) if bib else []
    return library, imports


def suggest(
    source: str | Path,
    *,
    bib: Sequence[Path | str] = (),
    library_dir: Path | str | None = None,
    library: Library | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> SuggestResult:
    """Suggest citations for a draft path or a passage of text, in one call.

    `source` is a path to a .tex/.txt/.md file, or the text itself. Keyword
    options are the fields of `SuggestOptions` (top_n, rerank, reranker, …, or `recall=RecallSpec(…)`) and
    the recall settings by their written names (recall_k, plan, draft_evidence, …): `SuggestOptions.of`.
    """
    opts = SuggestOptions.of(**options)
    path = _existing_file(source)
    if library is None:
        library, _ = open_library(library_dir, bib=bib, near=path)
    suggester = Suggester(library, options=opts, progress=progress)
    if path is not None:
        return suggester.suggest_path(path, options=opts)
    return suggester.suggest_text(str(source), is_tex="\\" in str(source), options=opts)


def _existing_file(source: str | Path) -> Path | None:
    """`source` as a file path when it names one; None when it is a passage of text.

    A `Path` must exist. A string is a path only when a file by that name exists
    (a multi-line or very long string is text: it cannot be a file name).
    """
    if isinstance(source, Path):
        if not source.exists():
            raise InputError("no such file", file=str(source))
        return source
    if "\n" in source or len(source) >= 4096:
        return None
    return Path(source) if Path(source).exists() else None
