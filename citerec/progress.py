"""Progress reporting without printing: the library calls a callback, the CLI draws bars."""

from __future__ import annotations

from typing import Protocol


class ProgressCallback(Protocol):
    """Called as work advances: `stage` names the work, `done` of `total` units are finished."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...


def no_progress(stage: str, done: int, total: int) -> None:
    """The default callback: report nothing."""
