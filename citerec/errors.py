"""Exceptions the library raises; the CLI turns them into one-line errors."""

from __future__ import annotations


class CiterecError(Exception):
    """Base class: a user-facing problem with a message fit for one line."""


class InputError(CiterecError):
    """Bad input (file missing, unreadable, malformed), located at file:line when known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{message}")


class LibraryError(CiterecError):
    """The on-disk library is missing, empty or inconsistent."""


class ModelError(CiterecError):
    """A model cannot be found or loaded (unknown name, weights not available offline)."""
