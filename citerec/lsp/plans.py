"""Each buffer's reading plan, chosen from its (or its whole project's) citations while completions pause.

Completions come first: a plan is fitted on the session's maintenance thread,
a file and a few passages at a time, and each step waits for a quiet moment
(`schedule.CompletionsFirst.after_rankings`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from citerec.errors import InputError

if TYPE_CHECKING:
    from citerec.latex import Context
    from citerec.latex.reader import Draft
    from citerec.lsp.schedule import CompletionsFirst
    from citerec.recall import PlanChoice
    from citerec.suggest import Suggester, SuggestOptions


def plan_name(choice: PlanChoice | None) -> str:
    """The plan a choice reads by; a buffer that could not choose (or has not yet) reads by the default."""
    from citerec.recall.plans import PASSAGE

    return choice.plan if choice is not None else PASSAGE


class BufferPlans:
    """The plan each buffer chose; fitting one waits for completions (`schedule`)."""

    def __init__(self, options: SuggestOptions, submit: Callable[..., Future], schedule: CompletionsFirst) -> None:
        self.options = options
        self._submit = submit
        self.after_rankings = schedule.after_rankings
        self._plans: dict[str, PlanChoice | None] = {}  # buffer uri → the plan its citations chose
        self._lock = threading.Lock()

    @property
    def chooses(self) -> bool:
        """Whether buffers choose their plan (`--plan auto`), rather than the options forcing one."""
        return self.options.recall.plan == "auto"

    def fit(self, suggester: Suggester, uri: str, text: str | Draft) -> Future:
        """Let a buffer's citations (or a whole project's, given its `Draft`) choose its reading plan, in the
        background; the future holds (the plan the buffer was read with before, the new choice).

        Runs on the maintenance thread, like imports, so fits of one buffer never
        overlap: a buffer of 200 passages is recalled twice the first time
        (seconds), then mostly from the recall cache.
        """
        return self._submit(self._fit, suggester, uri, text)

    def _fit(self, suggester: Suggester, uri: str, text: str | Draft) -> tuple[str, PlanChoice | None]:
        from citerec.lsp.passages import read_passages

        try:
            passages = read_passages(text, uri, neighbours=self.options.neighbours, between=self.after_rankings)
        except InputError:  # does not parse while being edited: keep the last choice
            return self.kept(uri)
        return self.choose(suggester, uri, list(passages.contexts))

    def kept(self, uri: str) -> tuple[str, PlanChoice | None]:
        """(the plan the buffer reads by, the choice it was read with): what a read that failed leaves."""
        with self._lock:
            kept = self._plans.get(uri)
        return plan_name(kept), kept

    def choose(self, suggester: Suggester, uri: str, contexts: list[Context]) -> tuple[str, PlanChoice | None]:
        """Let the passages of a buffer (or of its whole project) choose its plan; (the plan before, the choice).
        On the maintenance thread, a few passages at a time while completions pause."""
        choice = suggester.draft_plan(contexts, self.options, between=self.after_rankings)
        with self._lock:
            before = self._plans.get(uri)
            self._plans[uri] = choice
        return plan_name(before), choice

    def plan_for(self, uri: str) -> str:
        """The plan a passage of this buffer is read with: forced by the options, else the buffer's choice."""
        if not self.chooses:
            return self.options.recall.plan
        with self._lock:
            choice = self._plans.get(uri)
        return plan_name(choice)

    def forget(self, uri: str) -> None:
        with self._lock:
            self._plans.pop(uri, None)
