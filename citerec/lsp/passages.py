"""A project's passages as the language server reads them on open and save, and where a cursor stands among them.

The citing passages (what the reading plan is chosen from, and the draft
evidence a completion is ranked with) carry positions counted over the whole
project, as `citerec suggest` counts them in the root document, so "cited 3
sentences earlier" means the same in both. A thesis takes a second or more to
read, so it is read a file at a time, `between` called before each file
(completions go first); the open buffer's own file is read from its unsaved
text. Between two reads the cursor is placed by its offset in the file as last
read: text typed since then moves it by a sentence at most.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from citerec.latex import Context, Draft, extract_contexts, read_draft
from citerec.latex.contexts import draft_sentences
from citerec.latex.text import latex_to_text
from citerec.lsp.project import cites_in, file_parts

BUFFER = Path("<buffer>.tex")  # the name of a buffer outside any project (or never saved)


@dataclass(frozen=True)
class FileSentences:
    """Where each sentence of one file starts and ends, and its project-wide position, paragraph and section."""

    path: Path
    first: int  # the project-wide position of the file's first sentence
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    paragraphs: tuple[int, ...]
    sections: tuple[str, ...]


@dataclass(frozen=True)
class Place:
    """Where a cursor stands in its project: what the draft evidence measures distances from."""

    position: int
    paragraph: int
    section: str
    inside: bool  # within a sentence the project held when read (its citations are its own, never evidence)


@dataclass(frozen=True)
class ProjectPassages:
    """A project's citing passages (ids and paragraphs project-wide, `draft` the project's name) and its files."""

    name: str
    contexts: tuple[Context, ...]
    files: tuple[FileSentences, ...]

    def place(self, path: Path | None, offset: int) -> Place | None:
        """The cursor at `offset` of the file at `path` (None: the lone buffer); None when not in the project."""
        path = path.resolve() if path is not None else BUFFER
        found = next((f for f in self.files if f.path == path), None)
        if found is None or not found.starts:
            return None
        k = max(bisect.bisect_right(found.starts, offset) - 1, 0)
        inside = found.starts[k] <= offset <= found.ends[k]
        after = 0 if inside or offset < found.starts[k] else 1  # a sentence typed after sentence k
        return Place(found.first + k + after, found.paragraphs[k], found.sections[k], inside)


def read_passages(
    source: str | Draft,
    name: str,
    *,
    neighbours: int = 1,
    buffer: tuple[Path | None, str] | None = None,
    between: Callable[[], None] | None = None,
) -> ProjectPassages:
    """The passages of a project (its root `Draft`) or of a lone buffer (its text), as the project `name`.

    `buffer` is the open buffer's path and unsaved text, read instead of its file
    as saved. Raises InputError when the text cannot be read at all.
    """
    if isinstance(source, str):
        path = buffer[0] if buffer is not None and buffer[0] is not None else BUFFER
        parts = [read_draft(path, text=source, is_tex=True)]
    else:
        parts = [_unsaved(part, buffer) for part in file_parts(source)]
    contexts: list[Context] = []
    files: list[FileSentences] = []
    position = paragraph = 0
    for part in parts:
        if between is not None:
            between()
        sentences = draft_sentences(part)
        sections = {s.section: latex_to_text(s.section) if part.kind == "latex" else s.section for s in sentences}
        files.append(
            FileSentences(
                _resolved(part.main),
                position,
                tuple(s.start for s in sentences),
                tuple(s.end for s in sentences),
                tuple(paragraph + s.paragraph for s in sentences),
                tuple(sections[s.section] for s in sentences),
            )
        )
        if cites_in(part):
            for context in extract_contexts(part, neighbours=neighbours):
                contexts.append(
                    replace(context, id=position + context.id, paragraph=paragraph + context.paragraph, draft=name)
                )
        position += len(sentences)
        paragraph += max((s.paragraph for s in sentences), default=-1) + 1
    return ProjectPassages(name, tuple(contexts), tuple(files))


def _resolved(path: Path) -> Path:
    return path if path == BUFFER else path.resolve()


def _unsaved(part: Draft, buffer: tuple[Path | None, str] | None) -> Draft:
    """The part, or the open buffer's unsaved text when the part is its file."""
    if buffer is None or buffer[0] is None or _resolved(part.main) != buffer[0].resolve():
        return part
    if part.files[0].text == buffer[1]:
        return part
    read = read_draft(part.main, text=buffer[1], is_tex=True)
    return replace(read, main=part.main, definitions=part.definitions)
