"""The language server's settings: how it finds its library and what it ranks with.

The command line sets them (`citerec lsp`), and the editor may change what it
ranks with in its initializationOptions: the recall settings by the names HTTP
uses (`citerec.request`: `{"plan": "window", "draft_evidence": false,
"recall_k": 30, "fusion": {"topic_weight": 0.5}}`) and the fields of
`SuggestOptions` (`rerank`, `neighbours`, …), and `judged_items` (with a judge,
how many of recall's first keys it judges). Their own module, below everything
that reads them (the editor session, library discovery), so that none of those
import each other for a type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.errors import CiterecError

if TYPE_CHECKING:
    from citerec.suggest import SuggestOptions

JUDGED_ITEMS = "judged_items"  # the one editor setting of initializationOptions that is not a suggestion option


@dataclass(frozen=True)
class EditorSettings:
    """How the server finds its library and what it ranks with (from the command line)."""

    library_dir: Path | None = None
    bib: tuple[Path, ...] = ()
    workspace_bibs: bool = True  # import (and watch) the .bib files found in the workspace folders
    options: SuggestOptions | None = None
    completion_items: int = 50  # ranked keys offered per completion
    judged_items: int = 20  # with a judge, only recall's first N are judged (the rest follow in recall's order)

    def configured(self, initialization_options: object) -> tuple[EditorSettings, str | None]:
        """These settings with what the editor's initializationOptions set, and why they could not be read
        (None when they could): then the command line's settings stand, whole."""
        from citerec.suggest import SuggestOptions

        if not initialization_options:
            return self, None
        if not isinstance(initialization_options, Mapping):
            return self, f"initializationOptions must be an object, not {initialization_options!r}"
        options = self.options or SuggestOptions(rerank="off")
        settings = dict(initialization_options)
        judged = settings.pop(JUDGED_ITEMS, self.judged_items)
        if isinstance(judged, bool) or not isinstance(judged, int) or judged < 1:
            return self, f"initializationOptions: {JUDGED_ITEMS} must be a whole number of at least 1, not {judged!r}"
        try:
            options = options.with_settings(settings)
        except CiterecError as exc:
            return self, f"initializationOptions: {exc}"
        return dataclasses.replace(self, options=options, judged_items=judged), None


@dataclass(frozen=True)
class ServerSettings:
    """The language server's: the editor session's settings, and how the watched .bib files are polled."""

    editor: EditorSettings
    poll: float = 2.0  # seconds between checks of the watched .bib files (0: only when the editor reports)
    debounce: float = 0.5  # seconds a changed .bib must stay quiet before it is re-imported
