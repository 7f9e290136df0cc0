"""The first stage: a draft or a passage of text read into the contexts to suggest for."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.suggest.options import SuggestOptions

if TYPE_CHECKING:
    from citerec.index.cache import RecallCache
    from citerec.latex import Context, Draft

log = logging.getLogger(__name__)


class KeptTexts:
    """The text of each LaTeX fragment, kept in the library's recall cache: a re-run converts only what
    changed (`citerec.latex.text.remembered`). New texts are written once, by `flush`."""

    def __init__(self, cache: RecallCache) -> None:
        from citerec.latex.text import converter_version

        self.cache = cache
        self.version = converter_version()
        self.new: dict[str, str] = {}

    def _key(self, latex: str) -> str:
        from citerec.index.cache import cache_key

        return cache_key("latex-text", self.version, latex)

    def get(self, latex: str) -> str | None:
        key = self._key(latex)
        known = self.new.get(key)  # "" is a text too (a fragment of markup alone): only None is unknown
        return known if known is not None else self.cache.texts([key]).get(key)

    def put(self, latex: str, text: str) -> None:
        self.new[self._key(latex)] = text

    def flush(self) -> None:
        self.cache.put_texts(self.new.items())
        self.new = {}


@contextmanager
def kept_texts(library_root: Path) -> Iterator[KeptTexts]:
    """Within the block, drafts are read with the fragment texts kept beside the library's index."""
    from citerec.index.cache import CACHE_FILE, RecallCache
    from citerec.latex.text import remembered

    cache = RecallCache(library_root / CACHE_FILE)
    kept = KeptTexts(cache)
    try:
        with remembered(kept):
            yield kept
        kept.flush()
    finally:
        cache.close()


def text_contexts(text: str, is_tex: bool, options: SuggestOptions) -> tuple[Draft, list[Context], list[str]]:
    """A passage given as a string, read, with its contexts and notes on what was not read (its `\\input`s)."""
    from citerec.latex import read_draft

    draft = read_draft("<text>", text=text, is_tex=is_tex, strict=options.strict)
    return draft, *_contexts(draft, options)


def draft_contexts(path: Path | str | Draft, options: SuggestOptions) -> tuple[Draft, list[Context], list[str]]:
    """A draft on disk (or one already read) with its contexts and notes."""
    from citerec.latex import Draft, read_draft

    if not isinstance(path, Draft):
        path = read_draft(path, allow_outside_includes=options.allow_outside_includes, strict=options.strict)
    return path, *_contexts(path, options)


def _contexts(draft: Draft, options: SuggestOptions) -> tuple[list[Context], list[str]]:
    from citerec.latex import extract_contexts, unread_citations

    contexts, notes = contexts_or_every_sentence(
        lambda all_sentences: extract_contexts(
            draft, mode=options.mode, all_sentences=all_sentences, neighbours=options.neighbours
        ),
        options,
    )
    unread = unread_citations(draft, contexts)
    if unread:
        log.warning("%s", unread)
    return contexts, [str(problem) for problem in draft.problems] + ([unread] if unread else []) + notes


def contexts_or_every_sentence(
    extract: Callable[[bool], list[Context]], options: SuggestOptions
) -> tuple[list[Context], list[str]]:
    """Contexts as asked; a text with no citations or placeholders falls back to every sentence."""
    contexts = extract(options.all_sentences)
    if contexts or options.all_sentences:
        return contexts, []
    return extract(True), ["no citations or placeholders found: suggesting for every sentence"]
