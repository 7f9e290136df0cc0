"""The judges a suggester may call: loaded on first use, one per (model, backend), kept for later calls."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from citerec.choices import RerankMode
from citerec.errors import ModelError

if TYPE_CHECKING:
    from pathlib import Path

    from citerec.rerank import Reranker
    from citerec.suggest.options import SuggestOptions

log = logging.getLogger(__name__)

RERANK_CACHE_FILE = "rerank-cache.sqlite"


def load_reranker_for(options: SuggestOptions, cache_dir: Path) -> tuple[Reranker | None, str | None]:
    """The reranker `options` ask for, and a note when `--rerank auto` had to do without it.

    In auto mode a judge that cannot load (Qwen3 without a GPU or its weights) gives way to the small judge
    shipped in the package; only when that fails too is the ranking recall's alone."""
    if options.rerank == RerankMode.OFF:
        return None, None
    cache_path = cache_dir / RERANK_CACHE_FILE
    try:
        if options.engine.local:
            from citerec.rerank import load_reranker

            reranker = load_reranker(options.reranker, backend=options.backend, cache_path=cache_path)
        else:
            from citerec.engine import load_reranker as load_engine_reranker

            reranker = load_engine_reranker(
                options.engine, options.reranker, backend=options.backend, cache_path=cache_path
            )
    except ModelError as exc:
        if options.rerank == RerankMode.ON:
            raise
        return _small_judge_instead(options, cache_path, exc)
    return reranker, None


def _small_judge_instead(options: SuggestOptions, cache_path: Path, failure: ModelError) -> tuple[Reranker | None, str]:
    from citerec.rerank import SMALL_JUDGE, is_small_judge, load_reranker

    if not is_small_judge(options.reranker):
        try:
            reranker = load_reranker(SMALL_JUDGE, cache_path=cache_path)
        except ModelError as exc:
            failure = ModelError(f"{failure}; the small judge: {exc}")
        else:
            note = (
                f"ranked by the small judge {SMALL_JUDGE} (--rerank auto): {options.reranker} did not load ({failure})"
            )
            log.warning(note)
            return reranker, note
    note = f"reranking skipped (--rerank auto): {failure}"
    log.warning(note)
    return None, note


class Rerankers:
    """Rerankers by (model, backend), each loaded once; what could not be loaded in auto mode is a note."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._loaded: dict[tuple[str, str], Reranker | None] = {}
        self.notes: tuple[str, ...] = ()

    def get(self, options: SuggestOptions) -> Reranker | None:
        """The reranker of `options` (None when reranking is off or, in auto mode, unavailable)."""
        if options.rerank == RerankMode.OFF:
            return None
        key = (options.reranker, options.backend)
        if key not in self._loaded:
            self._loaded[key], note = load_reranker_for(options, self.cache_dir)
            self.notes += (note,) if note else ()
        return self._loaded[key]

    def peek(self, options: SuggestOptions) -> Reranker | None:
        """The reranker already loaded for `options`' model and backend, without loading one."""
        return self._loaded.get((options.reranker, options.backend))

    def put(self, options: SuggestOptions, reranker: Reranker | None) -> None:
        """Use `reranker` for `options`' model and backend (one loaded by the caller)."""
        self._loaded[(options.reranker, options.backend)] = reranker
