"""One editor request about one document, as received, the handler wrapper that snapshots it on arrival,
and what keeps answers prompt (no routine cancellation logged as an error, no full GC pass mid-request)."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcRequestCancelled

from citerec.lsp.positions import Positions


class Work:
    """One request about one document, as received: the buffer then, and whether it was called off since."""

    def __init__(self, uri: str, kind: str, version: int, text: str, positions: Positions) -> None:
        self.uri, self.kind, self.version, self.text, self.positions = uri, kind, version, text, positions
        self.stopped: JsonRpcException | None = None
        self.task: asyncio.Task | None = None

    def stop(self, reason: JsonRpcException) -> None:
        if self.stopped is None:
            self.stopped = reason
            if self.task is not None and not self.task.done():
                self.task.cancel()


@dataclass(frozen=True)
class Stopped:
    reason: JsonRpcException


class Answering(Protocol):
    """What `request` needs of the server (`server.CiterecServer`): note a request, then answer it."""

    def receive(self, uri: str, kind: str) -> Work: ...

    def answer(self, impl: Callable[..., Awaitable[Any]], params: Any, work: Work) -> Awaitable[Any]: ...


def request(kind: str):
    """Turn `async def impl(ls, params, work)` into a pygls handler that snapshots the buffer on arrival.

    pygls runs a generator handler's first step as the message is read, before
    any later `didChange`; the work then runs as a task, and a cancelled one is
    answered with the error that stopped it.
    """

    def wrap(impl):
        @functools.wraps(impl)
        def handler(ls: Answering, params):
            work = ls.receive(params.text_document.uri, kind)
            outcome = yield ls.answer, (impl, params, work), None
            if isinstance(outcome, Stopped):
                raise outcome.reason
            return outcome

        return handler

    return wrap


def settle_memory() -> None:
    """Keep what is loaded out of the garbage collector's full passes.

    With torch, the models and the library loaded, a full collection walks
    millions of objects (0.3–0.5 s measured here), and one lands now and then
    in the middle of a completion; frozen objects are skipped.
    """
    gc.collect()
    gc.freeze()


def not_a_cancellation(record: logging.LogRecord) -> bool:
    """pygls logs every error answer with its traceback; a cancelled request is routine, not an error."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, (JsonRpcRequestCancelled, JsonRpcContentModified))
