"""The pipeline: draft contexts → hybrid recall → rerank → thresholds → `Suggestion`s.

`Suggester` loads the library's index and the reranker once and answers many
drafts or passages; `suggest()` is the one-call convenience used by the CLI,
the notebook and the service. Evaluation ranks with the very same `Suggester`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citerec.engine import LOCAL, EngineConfig
from citerec.errors import CiterecError, InputError, ModelError
from citerec.library import Library, default_library_dir
from citerec.papers import Paper, normalise_key
from citerec.progress import ProgressCallback, no_progress
from citerec.rerank import DEFAULT_RERANKER, format_document

if TYPE_CHECKING:
    import numpy as np

    from citerec.index import Candidate, Index, PlanChoice
    from citerec.ingest import BibImport
    from citerec.latex import Context, Draft, ReadWarning
    from citerec.library import AddReport
    from citerec.rerank import Reranker

log = logging.getLogger(__name__)

SCHEMA = "citerec.suggestions/1"
RERANK_MODES = ("auto", "on", "off")
RECALL_METHODS = ("hybrid", "bm25", "dense")
RERANK_CACHE_FILE = "rerank-cache.sqlite"
DEFAULT_RERANK_THRESHOLD = 0.05
PLAN_AUTO, PLAN_PASSAGE, PLAN_WINDOW = "auto", "passage", "window"  # the last two are citerec.index.plans' names
PLANS = (PLAN_AUTO, PLAN_PASSAGE, PLAN_WINDOW)


@dataclass(frozen=True)
class SuggestOptions:
    """Every knob of the pipeline; the CLI, the API and the service fill the same object."""

    top_n: int = 5
    recall_k: int = 50
    method: str = "hybrid"
    rerank: str = "auto"
    reranker: str = DEFAULT_RERANKER
    backend: str = "hf"
    instruction: str | None = None
    threshold: float | None = None  # None: DEFAULT_RERANK_THRESHOLD when reranked, none otherwise
    include_cited: bool = False
    mode: str = "sentence"
    all_sentences: bool = False
    neighbours: int = 1
    embedder: str | None = None
    # Follow \input of a draft on disk to files outside its folder tree (never for text: see read_draft).
    allow_outside_includes: bool = False
    # Refuse a damaged draft (a '{' never closed, a runaway argument) instead of reading on with a warning.
    strict: bool = False
    engine: EngineConfig = LOCAL  # where reranking runs: local (here) or ray (batched over workers)
    expand: str = "none"  # none, prf (RM3 + Rocchio) or llm (rewrite by a chat endpoint)
    expand_url: str | None = None
    expand_model: str | None = None
    # How passages are read (citerec.index.plans): auto lets a draft that cites 30+ library papers choose
    # between the passage plan (three scales, the default) and the window plan; passage or window forces one.
    plan: str = "auto"

    def __post_init__(self) -> None:
        if self.rerank not in RERANK_MODES:
            raise CiterecError(f"--rerank must be one of {', '.join(RERANK_MODES)}, not {self.rerank!r}")
        if self.method not in RECALL_METHODS:
            raise CiterecError(f"--method must be one of {', '.join(RECALL_METHODS)}, not {self.method!r}")
        if self.mode not in ("sentence", "paragraph"):
            raise CiterecError(f"--mode must be sentence or paragraph, not {self.mode!r}")
        if self.top_n < 1 or self.recall_k < 1:
            raise CiterecError("--top and --recall-k must be at least 1")
        if self.expand not in ("none", "prf", "llm"):
            raise CiterecError(f"--expand must be none, prf or llm, not {self.expand!r}")
        if self.plan not in PLANS:
            raise CiterecError(f"--plan must be one of {', '.join(PLANS)}, not {self.plan!r}")
        if self.expand == "llm" and not (self.expand_url and self.expand_model):
            raise CiterecError("--expand llm needs --expand-url URL and --expand-model NAME")


@dataclass(frozen=True)
class Suggestion:
    """One candidate paper for one context, with where each stage ranked it."""

    key: str
    title: str
    score: float  # rerank P(yes) when reranked, else the fused recall score
    confidence: float  # for people: P(yes) when reranked, else the score as a share of the passage's top score
    rank: int
    recall_rank: int
    fused_score: float
    bm25_rank: int | None
    dense_rank: int | None
    rerank_score: float | None
    already_cited: bool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ContextSuggestions:
    """The suggestions for one context, and the full ranking they were cut from."""

    context: Context
    suggestions: tuple[Suggestion, ...]
    ranking: tuple[Suggestion, ...]
    expanded_query: str = ""  # what expansion added to the passage (a rewrite, or feedback terms)
    plan: PlanChoice | None = None  # the reading plan its draft chose; None when the draft could not choose

    def to_json(self) -> dict[str, Any]:
        ctx = self.context
        return {
            "id": ctx.id,
            "file": ctx.file,
            "line_start": ctx.line_start,
            "line_end": ctx.line_end,
            "section": ctx.section,
            "sentence": ctx.sentence,
            "query": ctx.text,
            "expanded_query": self.expanded_query,
            "plan": self.plan.to_json() if self.plan is not None else None,
            "placeholder": ctx.placeholder,
            "cited_keys": list(ctx.cited_keys),
            "suggestions": [s.to_json() for s in self.suggestions],
        }


@dataclass(frozen=True)
class SuggestResult:
    """What a run produced, plus how it was produced (for JSON consumers and for logs)."""

    source: str
    contexts: tuple[ContextSuggestions, ...]
    reranked: bool
    reranker: str | None
    embedder: str
    options: SuggestOptions
    notes: tuple[str, ...] = ()
    warnings: tuple[ReadWarning, ...] = ()  # damage in the draft that reading recovered from (file:line)

    def suggested_keys(self) -> list[str]:
        """Every suggested key once, in order of first appearance."""
        seen: dict[str, None] = {}
        for item in self.contexts:
            for suggestion in item.suggestions:
                seen.setdefault(suggestion.key, None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "source": self.source,
            "reranked": self.reranked,
            "reranker": self.reranker,
            "embedder": self.embedder,
            "notes": list(self.notes),
            "warnings": [dataclasses.asdict(warning) for warning in self.warnings],
            "options": dataclasses.asdict(self.options),
            "contexts": [item.to_json() for item in self.contexts],
        }


def _load_reranker(library: Library, options: SuggestOptions) -> tuple[Reranker | None, str | None]:
    """Load the reranker the options ask for; in auto mode a failure is a note, not an error."""
    if options.rerank == "off":
        return None, None
    from citerec.rerank import load_reranker

    try:
        if options.engine.local:
            reranker = load_reranker(
                options.reranker,
                backend=options.backend,
                cache_path=library.root / RERANK_CACHE_FILE,
            )
        else:
            from citerec.engine import load_reranker as load_engine_reranker

            reranker = load_engine_reranker(
                options.engine, options.reranker, backend=options.backend, cache_path=library.root / RERANK_CACHE_FILE
            )
    except ModelError as exc:
        if options.rerank == "on":
            raise
        note = f"reranking skipped (--rerank auto): {exc}"
        log.warning(note)
        return None, note
    return reranker, None


class Suggester:
    """Holds a library's index and a reranker, loaded once, and ranks contexts against them."""

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
        self.load_notes: tuple[str, ...] = ()
        # Rerankers by (name, backend), loaded on first use: options passed per call may ask for another.
        self._rerankers: dict[tuple[str, str], Reranker | None] = {}
        if reranker is not None:
            self.reranker = reranker
        elif self.options.rerank != "off":
            self._reranker_for(self.options)

    @property
    def reranker(self) -> Reranker | None:
        """The reranker of the default options (None when off or unavailable)."""
        return self._rerankers.get((self.options.reranker, self.options.backend))

    @reranker.setter
    def reranker(self, reranker: Reranker | None) -> None:
        self._rerankers[(self.options.reranker, self.options.backend)] = reranker

    def _reranker_for(self, options: SuggestOptions) -> Reranker | None:
        if options.rerank == "off":
            return None
        key = (options.reranker, options.backend)
        if key not in self._rerankers:
            self._rerankers[key], note = _load_reranker(self.library, options)
            self.load_notes += (note,) if note else ()
        return self._rerankers[key]

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
            index, _ = update_index(self.library, embedder=self.index.embedder_name, progress=self.progress)
            index.fusion = self.index.fusion
            self.index = index
            log.info("index of %s refreshed: %d papers", self.library.root, index.size)
            return True

    # -- ranking -------------------------------------------------------
    def rank(
        self,
        contexts: Sequence[Context],
        options: SuggestOptions | None = None,
        *,
        known: Sequence[Collection[str]] | None = None,
    ) -> list[ContextSuggestions]:
        """Recall then (optionally) rerank candidates for every context.

        `known` are the library keys each context already cites (default: its
        cited keys found in the library); with `options.plan` "auto" they choose
        each draft's reading plan, never a context's own.
        """
        options = options or self.options
        if not contexts:
            return []
        recalled, queries, expanded = self._recall(contexts, options)
        plans: list[PlanChoice | None] = [None] * len(contexts)
        if options.plan == PLAN_AUTO and options.method == "hybrid":
            recalled, plans = self._fit_plans(contexts, recalled, queries, known, options)
        reranker = self._reranker_for(options)
        # One query for every candidate's entry, not one per candidate (50 a passage).
        papers = self.library.get_many(c.key for candidates in recalled for c in candidates)
        if reranker is not None and not options.engine.local:
            cuts = self._rank_batched(reranker, contexts, recalled, papers, options)
        else:
            cuts = []
            for number, (context, candidates) in enumerate(zip(contexts, recalled, strict=True)):
                rerank_scores = None
                if reranker is not None:
                    documents = [_document(papers, c.key) for c in candidates]
                    rerank_scores = reranker.score(context.text, documents, instruction=options.instruction)
                cuts.append(self._cut(context, candidates, rerank_scores, options, papers))
                self.progress("Reranking" if reranker else "Ranking", number + 1, len(contexts))
        return [
            dataclasses.replace(cut, expanded_query=e, plan=plan)
            for cut, e, plan in zip(cuts, expanded, plans, strict=True)
        ]

    def _recall(
        self, contexts: Sequence[Context], options: SuggestOptions
    ) -> tuple[list[list[Candidate]], list[str], list[str]]:
        """Every context's candidates with the plan `options` names ("auto" recalls the default first),
        the queries used (after any rewrite), and what expansion added to each."""
        queries = [c.text for c in contexts]
        sentences = [c.sentence for c in contexts]
        wides = [c.wide for c in contexts]
        expanded = [""] * len(contexts)
        if options.expand == "llm":
            from citerec.expand.llm import ChatRewriter

            rewriter = ChatRewriter(options.expand_url or "", options.expand_model or "")
            expanded = rewriter.rewrite_many(queries)
            queries = [f"{q} {e}" for q, e in zip(queries, expanded, strict=True)]
            sentences = [f"{s} {e}" for s, e in zip(sentences, expanded, strict=True)]
            wides = [f"{w} {e}" if w else "" for w, e in zip(wides, expanded, strict=True)]
        if options.plan == PLAN_WINDOW and options.method == "hybrid":
            recalled = self._window_recall(queries, options)
        else:
            recalled = self.index.recall_many(
                queries,
                k=options.recall_k,
                method=options.method,
                sentences=sentences,
                wides=wides,
                topics=self._topics(contexts, options),
                prf=options.expand == "prf",
            )
        if options.expand == "prf":
            shown = sentences if self.index.fusion.sentence_weight > 0 else queries  # the query that dominates
            expanded = ["+ " + " ".join(terms) for terms in self.index.feedback(shown, options.method)]
        return recalled, queries, expanded

    def _window_recall(self, queries: Sequence[str], options: SuggestOptions) -> list[list[Candidate]]:
        from citerec.index.plans import window_plan

        return self.index.recall_many(
            list(queries),
            k=options.recall_k,
            method=options.method,
            prf=options.expand == "prf",
            fusion=window_plan(self.index.fusion),
        )

    def _fit_plans(
        self,
        contexts: Sequence[Context],
        recalled: list[list[Candidate]],
        queries: Sequence[str],
        known: Sequence[Collection[str]] | None,
        options: SuggestOptions,
    ) -> tuple[list[list[Candidate]], list[PlanChoice | None]]:
        """Recall with the window plan too where a draft cites enough, and keep it where the draft favours it."""
        from citerec.index.plans import WINDOW, choose_plans, drafts_with_evidence

        known = known if known is not None else self._known_citations(contexts)
        drafts = [context.draft for context in contexts]
        fitted = drafts_with_evidence(drafts, known)
        plans: list[PlanChoice | None] = [None] * len(contexts)
        if not fitted:
            return recalled, plans
        rows = [i for i, draft in enumerate(drafts) if draft in fitted]
        window = self._window_recall([queries[i] for i in rows], options)
        choices = choose_plans([drafts[i] for i in rows], [known[i] for i in rows], [recalled[i] for i in rows], window)
        recalled = list(recalled)
        for i, choice, candidates in zip(rows, choices, window, strict=True):
            plans[i] = choice
            if choice.plan == WINDOW:
                recalled[i] = candidates
        return recalled, plans

    def draft_plan(
        self,
        contexts: Sequence[Context],
        options: SuggestOptions | None = None,
        *,
        between: Callable[[], None] | None = None,
        chunk: int = 8,
    ) -> PlanChoice | None:
        """The plan a new passage of this draft would be read with (what all its cited passages say); None when
        it cites too few library papers to choose.

        The language server asks once per opened or saved buffer, in the background: the passages are recalled
        `chunk` at a time and `between` is called before each chunk, so it can let completions go first.
        """
        from citerec.index.plans import MIN_EVIDENCE, choose_plans

        options = dataclasses.replace(options or self.options, plan=PLAN_PASSAGE, expand="none")
        known = self._known_citations(contexts)
        cited = [(context, keys) for context, keys in zip(contexts, known, strict=True) if keys]
        if len(cited) < MIN_EVIDENCE or options.method != "hybrid":
            return None
        recalled: list[list[Candidate]] = []
        window: list[list[Candidate]] = []
        for start in range(0, len(cited), chunk):
            if between is not None:
                between()
            passage_lists, queries, _ = self._recall([context for context, _ in cited[start : start + chunk]], options)
            recalled += passage_lists
            window += self._window_recall(queries, options)
        keys = [keys for _, keys in cited]
        return choose_plans([""] * (len(cited) + 1), [*keys, ()], [*recalled, []], [*window, []])[-1]

    def _known_citations(self, contexts: Sequence[Context]) -> list[tuple[str, ...]]:
        """Each context's cited keys that the library holds, as library keys."""
        papers = self.library.get_many(key for context in contexts for key in context.cited_keys)
        return [
            tuple(dict.fromkeys(papers[k].key for k in map(normalise_key, context.cited_keys) if k in papers))
            for context in contexts
        ]

    def _topics(self, contexts: Sequence[Context], options: SuggestOptions) -> list[np.ndarray | None] | None:
        """Each context's draft topic (the mean vector of that draft's passages), for hybrid recall."""
        if options.method != "hybrid" or self.index.fusion.topic_weight <= 0:
            return None
        by_draft: dict[str, list[str]] = {}
        for context in contexts:
            by_draft.setdefault(context.draft, []).append(context.text)
        topics = {draft: self.index.topic_vector(passages) for draft, passages in by_draft.items()}
        return [topics[context.draft] for context in contexts]

    def _rank_batched(
        self,
        reranker: Reranker,
        contexts: Sequence[Context],
        recalled: Sequence[Sequence[Candidate]],
        papers: Mapping[str, Paper],
        options: SuggestOptions,
    ) -> list[ContextSuggestions]:
        """Rerank every context's candidates in one call, so that an engine can spread them over workers."""
        pairs = [
            (context.text, _document(papers, c.key))
            for context, candidates in zip(contexts, recalled, strict=True)
            for c in candidates
        ]
        scores = reranker.score_pairs(pairs, instruction=options.instruction, progress=self.progress)
        results, start = [], 0
        for context, candidates in zip(contexts, recalled, strict=True):
            results.append(self._cut(context, candidates, scores[start : start + len(candidates)], options, papers))
            start += len(candidates)
        return results

    def _cut(
        self,
        context: Context,
        candidates: Sequence[Candidate],
        rerank_scores: Sequence[float] | None,
        options: SuggestOptions,
        papers: Mapping[str, Paper],
    ) -> ContextSuggestions:
        cited = {normalise_key(k) for k in context.cited_keys}
        order = list(range(len(candidates)))
        if rerank_scores is not None:
            order.sort(key=lambda i: (-rerank_scores[i], i))
        ranking = []
        top = max((float(c.score) for c in candidates), default=0.0)
        for rank, i in enumerate(order, start=1):
            candidate = candidates[i]
            paper = papers.get(normalise_key(candidate.key))
            rerank_score = None if rerank_scores is None else float(rerank_scores[i])
            ranking.append(
                Suggestion(
                    key=paper.key if paper else candidate.key,
                    title=paper.title if paper else "",
                    score=rerank_score if rerank_score is not None else float(candidate.score),
                    confidence=rerank_score if rerank_score is not None else _share(candidate.score, top),
                    rank=rank,
                    recall_rank=i + 1,
                    fused_score=float(candidate.score),
                    bm25_rank=candidate.bm25_rank,
                    dense_rank=candidate.dense_rank,
                    rerank_score=rerank_score,
                    already_cited=normalise_key(candidate.key) in cited,
                )
            )
        threshold = options.threshold
        if threshold is None and rerank_scores is not None:
            threshold = DEFAULT_RERANK_THRESHOLD
        kept = [
            s
            for s in ranking
            if (options.include_cited or not s.already_cited) and (threshold is None or s.score >= threshold)
        ]
        return ContextSuggestions(context, tuple(kept[: options.top_n]), tuple(ranking))

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
        reranker = self._reranker_for(options)
        return SuggestResult(
            source=source,
            contexts=tuple(ranked),
            reranked=reranker is not None,
            reranker=reranker.model_name if reranker is not None else None,
            embedder=self.index.embedder_name,
            options=options,
            notes=self.load_notes + tuple(notes) + _plan_notes(ranked),
            warnings=tuple(warnings),
        )

    def suggest_text(self, text: str, *, is_tex: bool = True, options: SuggestOptions | None = None) -> SuggestResult:
        """Suggest for a passage given as a string (LaTeX or plain text); its `\\input`s are noted, never read."""
        from citerec.latex import extract_contexts, read_draft

        options = options or self.options
        draft = read_draft("<text>", text=text, is_tex=is_tex, strict=options.strict)
        contexts, notes = _contexts_or_every_sentence(
            lambda all_sentences: extract_contexts(
                draft,
                mode=options.mode,
                all_sentences=all_sentences,
                neighbours=options.neighbours,
            ),
            options,
        )
        notes = [str(problem) for problem in draft.problems] + notes
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
        from citerec.latex import Draft, extract_contexts, read_draft

        options = options or self.options
        drafts, per_draft, notes = [], [], []
        for path in paths:
            draft = (
                path
                if isinstance(path, Draft)
                else read_draft(path, allow_outside_includes=options.allow_outside_includes, strict=options.strict)
            )
            contexts, draft_notes = _contexts_or_every_sentence(
                lambda all_sentences, draft=draft: extract_contexts(
                    draft, mode=options.mode, all_sentences=all_sentences, neighbours=options.neighbours
                ),
                options,
            )
            drafts.append(draft)
            per_draft.append(contexts)
            notes.append([str(problem) for problem in draft.problems] + draft_notes)
        ranked = self.rank([c for contexts in per_draft for c in contexts], options)
        results, start = [], 0
        for draft, contexts, draft_notes in zip(drafts, per_draft, notes, strict=True):
            own = ranked[start : start + len(contexts)]
            start += len(contexts)
            results.append(self._result(str(draft.main), own, options, draft_notes, draft.warnings))
        return results


def _plan_notes(ranked: Sequence[ContextSuggestions]) -> tuple[str, ...]:
    """A line for each draft that moved to the window plan, with the evidence."""
    from citerec.index.plans import WINDOW

    notes: dict[str, str] = {}
    for item in ranked:
        plan = item.plan
        if plan is not None and plan.plan == WINDOW and item.context.draft not in notes:
            notes[item.context.draft] = (
                "passages are read by their window (the sentence with its neighbours), which finds this draft's "
                f"own citations more often: Recall@10 {plan.window_recall:.2f} against {plan.passage_recall:.2f} "
                f"over {plan.evidence} cited passages (--plan passage reads them at three scales)"
            )
    return tuple(notes.values())


def _share(score: float, top: float) -> float:
    """A recall score as a share of the passage's best (1.0 for the leader, 0 for below-average z-scores)."""
    return max(0.0, float(score) / top) if top > 0 else 0.0


def _contexts_or_every_sentence(
    extract: Callable[[bool], list[Context]], options: SuggestOptions
) -> tuple[list[Context], list[str]]:
    """Contexts as asked; a text with no citations or placeholders falls back to every sentence."""
    contexts = extract(options.all_sentences)
    if contexts or options.all_sentences:
        return contexts, []
    return extract(True), ["no citations or placeholders found: suggesting for every sentence"]


def open_library(
    library_dir: Path | str | None = None,
    *,
    bib: Sequence[Path | str] = (),
    near: Path | None = None,
) -> tuple[Library, list[tuple[BibImport, AddReport]]]:
    """Open (or create) a library and bring it up to date with the given .bib files."""
    from citerec.ingest import import_bibtex_files

    root = Path(library_dir) if library_dir else default_library_dir(near)
    library = Library(root)
    imports = import_bibtex_files(library, [Path(path) for path in bib]) if bib else []
    return library, imports


def suggest(
    source: str | Path,
    *,
    bib: Sequence[Path | str] = (),
    library_dir: Path | str | None = None,
    library: Library | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> SuggestResult:
    """Suggest citations for a draft path or a passage of text, in one call.

    `source` is a path to a .tex/.txt/.md file, or the text itself. Keyword
    options are the fields of `SuggestOptions` (top_n, rerank, reranker, …).
    """
    opts = SuggestOptions(**options)
    path = _existing_file(source)
    if library is None:
        library, _ = open_library(library_dir, bib=bib, near=path)
    suggester = Suggester(library, options=opts, progress=progress)
    if path is not None:
        return suggester.suggest_path(path, options=opts)
    return suggester.suggest_text(str(source), is_tex="\\" in str(source), options=opts)


def _existing_file(source: str | Path) -> Path | None:
    """`source` as a file path when it names one; None when it is a passage of text.

    A `Path` must exist. A string is a path only when a file by that name exists
    (a multi-line or very long string is text: it cannot be a file name).
    """
    if isinstance(source, Path):
        if not source.exists():
            raise InputError("no such file", file=str(source))
        return source
    if "\n" in source or len(source) >= 4096:
        return None
    return Path(source) if Path(source).exists() else None


def _document(papers: Mapping[str, Paper], key: str) -> str:
    """What the reranker reads for candidate `key`: its entry formatted, or the bare key when it is gone."""
    paper = papers.get(normalise_key(key))
    return format_document(paper) if paper else key
