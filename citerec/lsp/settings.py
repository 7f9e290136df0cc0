"""The language server's settings: how it finds its library and what it ranks with.

Their own module, below everything that reads them (the editor session, library
discovery), so that none of those import each other for a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citerec.suggest import SuggestOptions


@dataclass(frozen=True)
class EditorSettings:
    """How the server finds its library and what it ranks with (from the command line)."""

    library_dir: Path | None = None
    bib: tuple[Path, ...] = ()
    workspace_bibs: bool = True  # import (and watch) the .bib files found in the workspace folders
    options: SuggestOptions | None = None
    completion_items: int = 50  # ranked keys offered per completion
