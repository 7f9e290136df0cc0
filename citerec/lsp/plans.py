"""Each buffer's reading plan, chosen from its (or its whole project's) citations while completions pause.

Completions come first: a plan is fitted on the session's maintenance thread,
a file and a few passages at a time, and each step waits until no completion
has been ranked for `PLAN_QUIET` seconds (keystrokes come in bursts, and the
plan can come a moment later where a completion cannot).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING

from citerec.errors import InputError

if TYPE_CHECKING:
    from citerec.latex import Context
    from citerec.latex.reader import Draft
    from citerec.recall import PlanChoice
    from citerec.suggest import Suggester, SuggestOptions

PLAN_QUIET = 0.3  # seconds without a completion before a buffer's plan is chosen further


def plan_name(choice: PlanChoice | None) -> str:
    """The plan a choice reads by; a buffer that could not choose (or has not yet) reads by the default."""
    from citerec.recall.plans import PASSAGE

    return choice.plan if choice is not None else PASSAGE


class BufferPlans:
    """The plan each buffer chose, and the bookkeeping that lets completions go first."""

    def __init__(self, options: SuggestOptions, submit: Callable[..., Future]) -> None:
        self.options = options
        self._submit = submit
        self._plans: dict[str, PlanChoice | None] = {}  # buffer uri → the plan its citations chose
        self._ranking = 0  # rankings in progress: choosing a plan waits for them
        self._last_ranked = 0.0  # time.monotonic() when the last one ended
        self._idle = threading.Condition(threading.Lock())
        self._lock = threading.Lock()

    @property
    def chooses(self) -> bool:
        """Whether buffers choose their plan (`--plan auto`), rather than the options forcing one."""
        return self.options.plan == "auto"

    @contextlib.contextmanager
    def ranking(self) -> Iterator[None]:
        """Around a completion's ranking: plan fitting waits while it runs, and for PLAN_QUIET after."""
        with self._idle:
            self._ranking += 1
        try:
            yield
        finally:
            with self._idle:
                self._ranking -= 1
                self._last_ranked = time.monotonic()
                self._idle.notify_all()

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

    def after_rankings(self) -> None:
        """Wait until no completion has been ranked for PLAN_QUIET seconds."""
        with self._idle:
            while True:
                quiet_for = time.monotonic() - self._last_ranked
                if not self._ranking and quiet_for >= PLAN_QUIET:
                    return
                self._idle.wait(timeout=PLAN_QUIET if self._ranking else PLAN_QUIET - quiet_for)

    def plan_for(self, uri: str) -> str:
        """The plan a passage of this buffer is read with: forced by the options, else the buffer's choice."""
        if not self.chooses:
            return self.options.plan
        with self._lock:
            choice = self._plans.get(uri)
        return plan_name(choice)

    def forget(self, uri: str) -> None:
        with self._lock:
            self._plans.pop(uri, None)
