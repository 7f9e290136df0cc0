"""Each open project's draft evidence: its citing passages as read on open and save, kept for completions.

A completion ranks one passage many times a second; the project around it
changes only when a file is saved. So the project's citing passages, the
library keys each cites and their sentences' vectors (`DraftCitations`), with
the user's past sentences kept from their other drafts, are made on the
session's maintenance thread when a document is opened or saved, and a
completion only places its cursor among them (`ProjectPassages.place`) and
leaves out the passage it stands in (leave-one-out).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citerec.latex import Context
    from citerec.lsp.passages import Place, ProjectPassages
    from citerec.past_sentences import PastSentence
    from citerec.recall import DraftCitations
    from citerec.suggest import Suggester

_versions = itertools.count(1)


@dataclass(frozen=True)
class Where:
    """A cursor, as a completion asks: the project it belongs to (its key), the file and the offset in it."""

    project: str
    path: Path | None  # None: a document never saved
    offset: int

    @classmethod
    def of(cls, project: str, uri: str, offset: int) -> Where:
        from pygls.uris import to_fs_path

        path = to_fs_path(uri) if uri.startswith("file:") else None
        return cls(project, Path(path) if path else None, offset)


@dataclass(frozen=True, eq=False)
class Placed:
    """A cursor placed in its project: the evidence to rank with (its own passage left out), and a version
    that changes whenever the project is read again (for the ranking caches)."""

    citations: DraftCitations
    place: Place
    version: int
    project: str

    def moved(self, context: Context) -> Context:
        """`context` standing where the cursor is in its project (what the evidence measures distances from)."""
        place = self.place
        return replace(context, id=place.position, section=place.section, draft=self.project, paragraph=place.paragraph)


@dataclass(frozen=True, eq=False)
class _Read:
    passages: ProjectPassages
    citations: DraftCitations
    version: int


class ProjectEvidence:
    """The draft evidence of every open project (by its key), replaced as a whole each time it is read."""

    def __init__(self) -> None:
        self._read: dict[str, _Read] = {}
        self._lock = threading.Lock()

    def update(
        self,
        suggester: Suggester,
        passages: ProjectPassages,
        between: Callable[[], None] | None = None,
        *,
        past: bool = False,
    ) -> int:
        """Keep what `passages` cite (the library keys) as its project's evidence, and with `past` the user's past
        sentences kept from their other drafts (`library learn`); the number of citing passages.

        Runs on the maintenance thread: embedding the sentences waits for completions to pause (`between`)."""
        from citerec.recall import DraftCitations, Passage

        contexts = passages.contexts
        known = suggester.known_citations(contexts)
        said = past_elsewhere(suggester, passages.name) if past else ()
        index, read = suggester.index, [Passage.of(c) for c in contexts]
        citations = DraftCitations.read(index, read, known, past=said, between=between)
        with self._lock:
            self._read[passages.name] = _Read(passages, citations, next(_versions))
        return len(citations)

    def at(self, where: Where) -> Placed | None:
        """The evidence for a cursor (None when its project has not been read, or the cursor is not in it)."""
        with self._lock:
            read = self._read.get(where.project)
        if read is None:
            return None
        place = read.passages.place(where.path, where.offset)
        if place is None:
            return None
        citations = read.citations.without(place.position) if place.inside else read.citations
        return Placed(citations, place, read.version, where.project)

    def forget(self, project: str) -> None:
        with self._lock:
            self._read.pop(project, None)


def past_elsewhere(suggester: Suggester, project: str) -> list[PastSentence]:
    """The library's past sentences but those kept from the project itself (its root document): its
    citations are its draft evidence already, and a passage's own never count for it."""
    from citerec.past_sentences import source_name

    path = Where.of(project, project, 0).path
    own = source_name(path) if path is not None else None
    return [s for s in suggester.library.past_sentences() if s.source != own]
