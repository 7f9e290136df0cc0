"""The pipeline: passages → recall → rerank → cut, each stage a function of its own module.

`Suggester` holds a library's index and its judges, loaded once, and ranks many
drafts or passages against them; every request's recall settings come down as
one `RecallSpec` (`SuggestOptions.recall`). Evaluation ranks with the very same
`Suggester`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.choices import Expansion
from citerec.errors import CiterecError
from citerec.library import Library
from citerec.papers import normalise_key
from citerec.progress import ProgressCallback, no_progress
from citerec.recall import DraftCitations, Passage, PlanChoice, RecallSpec, draft_plan, recall
from citerec.recall.learned import ranking_for
from citerec.suggest.cut import cut, rerank_scores
from citerec.suggest.options import SuggestOptions
from citerec.suggest.reading import draft_contexts, kept_texts, text_contexts
from citerec.suggest.rerankers import Rerankers
from citerec.suggest.results import ContextSuggestions, SuggestResult, plan_notes

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.latex import Context, Draft, ReadWarning
    from citerec.rerank import Reranker

log = logging.getLogger(__name__)


class Suggester:
    """Holds a library's index and its rerankers, loaded once, and ranks contexts against them."""

    def __init__(
        self,
        library: Library,
        *,
        options: SuggestOptions | None = None,
        reranker: Reranker | None = None,
        index: Index | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        from citerec.index import ensure_index

        self.library = library
        self.options = options or SuggestOptions()
        self.progress = progress or no_progress
        if len(library) == 0:
            raise CiterecError(f"the library in {library.root} is empty: import a .bib first (citerec library import)")
        self.index = index or ensure_index(library, embedder=self.options.embedder, progress=self.progress)
        self._refresh_lock = threading.Lock()
        self.rerankers = Rerankers(library.root)
        self._ranking_notes: dict[str, None] = {}  # why a request's learned ranking was left out, each once
        if reranker is not None:
            self.rerankers.put(self.options, reranker)
        else:
            self.rerankers.get(self.options)

    @property
    def reranker(self) -> Reranker | None:
        """The reranker of the default options (None when off or unavailable)."""
        return self.rerankers.peek(self.options)

    @reranker.setter
    def reranker(self, reranker: Reranker | None) -> None:
        """Judge the default options' requests with `reranker` (the HTTP service's batched one)."""
        self.rerankers.put(self.options, reranker)

    @property
    def load_notes(self) -> tuple[str, ...]:
        """What went wrong loading a judge in auto mode, or why the learned ranking was left out (each once)."""
        return self.rerankers.notes + tuple(self._ranking_notes)

    @property
    def stale(self) -> bool:
        """Whether papers were added, changed or removed (by any process) since the index was built."""
        return self.library.version() != self.index.manifest.library_version

    def refresh(self) -> bool:
        """Bring the index up to date when the library changed since it was built; True when it did.

        Long-running users (the HTTP service, the language server) call this when
        `stale`; the current index keeps answering until the new one replaces it.
        """
        from citerec.index import update_index

        with self._refresh_lock:
            if not self.stale:
                return False
            self.index, _ = update_index(self.library, embedder=self.index.embedder_name, progress=self.progress)
            log.info("index of %s refreshed: %d papers", self.library.root, self.index.size)
            return True

    # -- ranking -------------------------------------------------------
    def rank(
        self,
        contexts: Sequence[Context],
        options: SuggestOptions | None = None,
        *,
        known: Sequence[Collection[str]] | None = None,
        draft: DraftCitations | None = None,
    ) -> list[ContextSuggestions]:
        """Recall then (optionally) rerank candidates for every context.

        `known` are the library keys each context already cites (default: its
        cited keys found in the library); with `options.recall.plan` "auto" they choose
        each draft's reading plan, and with the draft evidence on they are the
        evidence; never for a context's own ranking. The user's past sentences, kept from their
        other drafts, describe the candidates they are about (evidence too). `draft` instead: the citing
        passages of the contexts' draft and the past sentences, read before (an editor's project), each
        context ranked as a new passage of it (`citerec.recall.draft`).
        """
        options = options or self.options
        if not contexts:
            return []
        spec = self._checked_spec(options)
        written = [Passage.of(context) for context in contexts]
        passages, rewrites = _expanded(written, options)
        needs_known = (spec.plan == "auto" and spec.hybrid) or spec.uses_evidence
        index = self.index
        if draft is not None:
            recalled = recall(index, passages, spec, draft=draft)
        else:
            if needs_known and known is None:
                known = self.known_citations(contexts)
            # what the user wrote about papers in earlier drafts (`library learn`): part of the draft evidence
            past = self.library.past_sentences() if spec.uses_evidence else ()
            recalled = recall(index, passages, spec, known=known or (), topic_of=written, past=past)
        reranker = self.rerankers.get(options)
        # One query for every candidate's entry, not one per candidate (50 a passage).
        papers = self.library.get_many(c.key for item in recalled for c in item.candidates)
        scores = rerank_scores(reranker, contexts, recalled, papers, options, self.progress)
        return [
            cut(context, item, score, options, papers, rewrite or _feedback_note(item.feedback, spec.feedback))
            for context, item, score, rewrite in zip(contexts, recalled, scores, rewrites, strict=True)
        ]

    def _checked_spec(self, options: SuggestOptions) -> RecallSpec:
        """The options' recall request, without the learned ranking when its model cannot read this index's
        vectors (noted once; EmbedderMismatch under `strict`)."""
        ranking = ranking_for(options.recall, self.index.embedder_name, strict=options.strict)
        if ranking.note and ranking.note not in self._ranking_notes:
            log.warning("%s", ranking.note)
            self._ranking_notes[ranking.note] = None
        return ranking.spec

    def draft_plan(
        self,
        contexts: Sequence[Context],
        options: SuggestOptions | None = None,
        *,
        between: Callable[[], None] | None = None,
        chunk: int = 8,
    ) -> PlanChoice | None:
        """The plan a new passage of this draft would be read with (what all its cited passages say); None when
        it cites too few library papers to choose. See `citerec.recall.draft_plan`."""
        spec = (options or self.options).recall
        known = self.known_citations(contexts)
        cited = [(Passage.of(context), keys) for context, keys in zip(contexts, known, strict=True) if keys]
        return draft_plan(self.index, cited, spec, between=between, chunk=chunk)

    def known_citations(self, contexts: Sequence[Context]) -> list[tuple[str, ...]]:
        """Each context's cited keys that the library holds, as library keys."""
        papers = self.library.get_many(key for context in contexts for key in context.cited_keys)
        return [
            tuple(dict.fromkeys(papers[k].key for k in map(normalise_key, context.cited_keys) if k in papers))
            for context in contexts
        ]

    # -- entry points --------------------------------------------------
    def suggest_contexts(
        self,
        contexts: Sequence[Context],
        *,
        source: str = "<contexts>",
        options: SuggestOptions | None = None,
        notes: Sequence[str] = (),
        warnings: Sequence[ReadWarning] = (),
    ) -> SuggestResult:
        options = options or self.options
        return self._result(source, self.rank(contexts, options), options, notes, warnings)

    def _result(
        self,
        source: str,
        ranked: Sequence[ContextSuggestions],
        options: SuggestOptions,
        notes: Sequence[str],
        warnings: Sequence[ReadWarning] = (),
    ) -> SuggestResult:
        reranker = self.rerankers.get(options)
        return SuggestResult(
            source=source,
            contexts=tuple(ranked),
            reranked=reranker is not None,
            reranker=reranker.model_name if reranker is not None else None,
            embedder=self.index.embedder_name,
            options=options,
            notes=self.load_notes + tuple(notes) + plan_notes(ranked),
            warnings=tuple(warnings),
        )

    def suggest_text(self, text: str, *, is_tex: bool = True, options: SuggestOptions | None = None) -> SuggestResult:
        """Suggest for a passage given as a string (LaTeX or plain text); its `\\input`s are noted, never read."""
        options = options or self.options
        draft, contexts, notes = text_contexts(text, is_tex, options)
        return self.suggest_contexts(contexts, source="<text>", options=options, notes=notes, warnings=draft.warnings)

    def suggest_path(self, path: Path | str | Draft, *, options: SuggestOptions | None = None) -> SuggestResult:
        """Suggest for a draft (.tex with its includes, or a plain-text/Markdown abstract).

        `path` may be a `Draft` already read, so a caller that also annotates the
        draft (the CLI's tex output) reads it once.
        """
        return self.suggest_paths([path], options=options)[0]

    def suggest_paths(
        self, paths: Sequence[Path | str | Draft], *, options: SuggestOptions | None = None
    ) -> list[SuggestResult]:
        """Suggest for several drafts, one result each, ranked in one pass.

        Every draft's contexts go through one `rank` call, so an engine that
        batches (Ray) spreads all of them over its workers at once.
        """
        options = options or self.options
        with kept_texts(self.library.root):  # a re-run converts only the fragments an edit changed
            read = [draft_contexts(path, options) for path in paths]
        ranked = self.rank([c for _, contexts, _ in read for c in contexts], options)
        results, start = [], 0
        for draft, contexts, notes in read:
            own = ranked[start : start + len(contexts)]
            start += len(contexts)
            results.append(self._result(str(draft.main), own, options, notes, draft.warnings))
        return results


def _expanded(passages: list[Passage], options: SuggestOptions) -> tuple[list[Passage], list[str]]:
    """The passages as recall reads them: rewritten by a chat model when `--expand llm`, with the rewrites."""
    if options.expand != Expansion.LLM:
        return passages, [""] * len(passages)
    from citerec.expand.llm import ChatRewriter

    rewriter = ChatRewriter(options.expand_url or "", options.expand_model or "")
    rewrites = rewriter.rewrite_many([p.window for p in passages])
    return [p.extended(r) for p, r in zip(passages, rewrites, strict=True)], rewrites


def _feedback_note(words: Sequence[str], feedback: bool) -> str:
    return "+ " + " ".join(words) if feedback else ""
