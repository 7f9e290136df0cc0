"""One editor's session: what the language server loads once and asks per keystroke.

The library (found from the draft), its index and suggester kept in step with the
library (`citerec.session.LibrarySession`, as in the HTTP service), the watched
.bib files (`bibs`), each buffer's reading plan (`plans`), and caches. The
editor must never wait on a model load or an import, so `EditorSession.start` runs
on a background thread after `initialize`, and every question here is cheap
enough for a keystroke once loaded: a passage already ranked comes from memory,
a new one costs one recall (its query vector and candidates are also kept in
the index's recall cache on disk). Library changes, by this server's .bib
watcher or by any other process, are picked up by the library session.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.errors import CiterecError
from citerec.library import LIBRARY_ENV
from citerec.lsp.bibs import ImportSummary, WatchedBibs
from citerec.lsp.evidence import ProjectEvidence, Where
from citerec.lsp.plans import BufferPlans
from citerec.lsp.schedule import CompletionsFirst
from citerec.lsp.settings import EditorSettings
from citerec.papers import Paper, normalise_key
from citerec.session import LibrarySession

if TYPE_CHECKING:
    from citerec.latex import Context, Draft
    from citerec.library import Library
    from citerec.lsp.project import Project
    from citerec.recall import DraftCitations, PlanChoice
    from citerec.suggest import Suggester, Suggestion, SuggestOptions

log = logging.getLogger(__name__)

RANK_CACHE_SIZE = 512  # passages whose ranking is kept in memory


@dataclass(frozen=True)
class Ranked:
    """One library entry ranked for a passage."""

    key: str
    rank: int
    score: float
    paper: Paper | None
    why: tuple[str, ...] = ()  # what supported it (the draft evidence, the readings), strongest first


def split_key(key: str) -> str:
    """`vaswani2017attention` → `vaswani 2017 attention`: a key as words, to search titles and authors by."""
    return " ".join(re.findall(r"[A-Za-z]+|\d+", key))


def judged_first(
    suggester: Suggester,
    context: Context,
    options: SuggestOptions,
    draft: DraftCitations | None,
    judged_items: int,
) -> tuple[Suggestion, ...]:
    """A passage's ranking within the editor's latency budget: with a judge, only recall's first `judged_items`
    are judged (about 0.1 s for 20 with the small judge on two cores, where 50 take 0.25 s), and the rest follow
    in recall's order."""
    if options.rerank == "off" or judged_items >= options.recall.k:
        return suggester.rank([context], options, draft=draft)[0].ranking
    top = suggester.rank([context], options.with_recall(k=judged_items), draft=draft)[0].ranking
    rest = suggester.rank([context], dataclasses.replace(options, rerank="off"), draft=draft)[0].ranking
    seen = {s.key for s in top}
    return (*top, *(s for s in rest if s.key not in seen))


class EditorSession:
    """The loaded state of one language server; all methods are called off the editor's message loop."""

    def __init__(self, settings: EditorSettings) -> None:
        from citerec.suggest import SuggestOptions

        self.settings = settings
        self.options: SuggestOptions = settings.options or SuggestOptions(rerank="off")
        self.library: Library | None = None
        self.session: LibrarySession | None = None
        # Only the workspace's own library mirrors deletions from the watched files (see `bibs`).
        self.watched = WatchedBibs(prunes=settings.library_dir is None and not os.environ.get(LIBRARY_ENV))
        self.load_problems: list[str] = []
        self.found: list[str] = []  # where the library and each .bib file came from, for the editor's log
        self.first_project: Project | None = None  # the project of the document that started the engine
        self._ranked: OrderedDict[tuple, tuple[Ranked, ...]] = OrderedDict()
        self._keys: dict[str, str] = {}  # normalised → as written, for the library version below
        self._keys_version: str | None = None
        self._papers: dict[str, Paper | None] = {}
        self._lock = threading.Lock()
        # Loading, imports, index updates and plan fits run one at a time on their own thread, never on the
        # query pool.
        self._maintenance = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citerec-lsp-library")
        self.schedule = CompletionsFirst()  # completions go first; background work waits for a pause
        self.plans = BufferPlans(self.options, self._maintenance.submit, self.schedule)
        self.evidence = ProjectEvidence()
        self.loaded: Future | None = None
        self.closed = False  # after shutdown nothing may be scheduled: not `ready`

    @property
    def suggester(self) -> Suggester | None:
        return self.session.suggester if self.session is not None else None

    @property
    def bibs(self) -> list[Path]:
        """The watched .bib files."""
        return self.watched.files

    # -- loading ----------------------------------------------------------
    def start(self, roots: Sequence[Path], document: tuple[Path, str] | None = None) -> Future:
        """Load library, index and models in the background; the future holds this engine or the error.

        `document` (path and text of the file the editor opened first) is where the library is looked for
        first: the .bib files its root document names and a `.citerec/` beside that document.
        """
        self.loaded = self._maintenance.submit(self._load, list(roots), document)
        return self.loaded

    def _load(self, roots: list[Path], document: tuple[Path, str] | None = None) -> EditorSession:
        from citerec.library import Library
        from citerec.lsp.library_sources import library_sources
        from citerec.suggest import Suggester

        sources = library_sources(self.settings, roots, document)
        self.first_project, self.found = sources.project, list(sources.found)
        self.load_problems.extend(sources.problems)
        root, bibs = sources.root, list(sources.bibs)
        log.info("library sources: %s", "; ".join(self.found))
        library = Library(root)
        self.load_problems.extend(self.watched.load(library, bibs))
        suggester = Suggester(library, options=self.options)
        index = suggester.index
        # Load everything a first completion needs now, not on the first keystroke.
        _ = index.embedder, index.bm25, index.dense
        index.embedder.embed_queries(["citation recommendation"])
        self.library = library
        self.session = LibrarySession(suggester, submit=self._maintenance.submit)
        self.load_problems.extend(suggester.load_notes)
        log.info("library %s loaded: %d papers, %d .bib files watched", root, index.size, len(bibs))
        return self

    @property
    def ready(self) -> bool:
        return not self.closed and self.loaded is not None and self.loaded.done() and self.loaded.exception() is None

    @property
    def load_error(self) -> str | None:
        """Why loading failed (one line), or None."""
        if self.loaded is None or not self.loaded.done() or self.loaded.exception() is None:
            return None
        exc = self.loaded.exception()
        return str(exc) if isinstance(exc, CiterecError) else f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self.closed = True  # a project read finishing after shutdown then schedules nothing
        self._maintenance.shutdown(wait=False, cancel_futures=True)

    def in_background(self, fn, *args) -> Future:
        """`fn(*args)` on the maintenance thread: long work (a whole buffer's check) that must never hold a
        completion up, as the worker thread would; `fn` waits for completions to pause between its steps
        (`schedule.after_rankings`)."""
        return self._maintenance.submit(fn, *args)

    # -- library changes --------------------------------------------------
    def check_library(self) -> None:
        """When the library changed since the index was built (any process), update the index in the background."""
        if self.session is not None:
            self.session.check()

    def reimport(self, paths: Sequence[Path]) -> Future:
        """Re-import changed .bib files and update the index, in the background; the future holds a summary."""
        return self._maintenance.submit(self._reimport, [Path(p) for p in paths])

    def _reimport(self, paths: list[Path]) -> ImportSummary:
        assert self.library is not None and self.session is not None
        summary = self.watched.reimport(self.library, paths)
        return dataclasses.replace(summary, refreshed=self.session.refresh())

    # -- the project's citations -------------------------------------------
    @property
    def uses_evidence(self) -> bool:
        """Whether completions rank with their project's draft evidence (`--draft-evidence on`, plan auto)."""
        return self.options.recall.learned

    def read_citations(
        self,
        project: str,
        source: str | Draft,
        buffer: tuple[Path | None, str] | None = None,
        kept: Callable[[int], None] | None = None,
    ) -> Future:
        """On open and save, in the background: read the project's citing passages once, keep them as its draft
        evidence (then `kept(how many cite library papers)`), and let them choose its reading plan; the future
        holds (the plan before, the new choice)."""
        return self._maintenance.submit(self._read_citations, project, source, buffer, kept or (lambda _: None))

    def _read_citations(
        self,
        project: str,
        source: str | Draft,
        buffer: tuple[Path | None, str] | None,
        kept: Callable[[int], None],
    ) -> tuple[str, PlanChoice | None]:
        from citerec.errors import InputError
        from citerec.lsp.passages import read_passages

        assert self.suggester is not None
        between, neighbours = self.schedule.after_rankings, self.options.neighbours
        try:
            passages = read_passages(source, project, neighbours=neighbours, buffer=buffer, between=between)
        except InputError:  # does not parse while being edited: keep what was read last
            return self.plans.kept(project)
        if self.uses_evidence:
            past = self.options.recall.uses_evidence  # the library's past sentences, as `suggest` reads them
            kept(self.evidence.update(self.suggester, passages, between, past=past))
        if not self.plans.chooses:
            return self.plans.kept(project)
        return self.plans.choose(self.suggester, project, list(passages.contexts))

    # -- questions --------------------------------------------------------
    def _current_keys(self) -> dict[str, str]:
        assert self.library is not None
        version = self.library.version()
        with self._lock:
            if version != self._keys_version:
                self._keys = {normalise_key(k): k for k in self.library.keys()}
                self._papers = {}
                self._keys_version = version
            return self._keys

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys (as written) that the library does not hold."""
        known = self._current_keys()
        return {key for key in keys if normalise_key(key) not in known}

    def keys_containing(self, text: str, limit: int) -> list[str]:
        """Library keys holding `text` (case-insensitive), those starting with it first."""
        needle = text.lower()
        keys = self._current_keys()
        starts = [key for norm, key in keys.items() if norm.startswith(needle)]
        inside = [key for norm, key in keys.items() if needle in norm and not norm.startswith(needle)]
        return (sorted(starts, key=str.lower) + sorted(inside, key=str.lower))[:limit]

    def papers(self, keys: Iterable[str]) -> dict[str, Paper]:
        """Papers by key as asked (missing keys left out); kept in memory until the library changes."""
        assert self.library is not None
        self._current_keys()
        wanted = [k for k in dict.fromkeys(keys)]
        with self._lock:
            unknown = [k for k in wanted if normalise_key(k) not in self._papers]
        if unknown:
            found = self.library.get_many(unknown)
            with self._lock:
                for key in unknown:
                    self._papers[normalise_key(key)] = found.get(normalise_key(key))
        with self._lock:
            return {k: p for k in wanted if (p := self._papers.get(normalise_key(k))) is not None}

    def rank(
        self,
        query: str,
        *,
        sentence: str = "",
        wide: str = "",
        limit: int | None = None,
        plan: str = "passage",
        where: Where | None = None,
    ) -> tuple[Ranked, ...]:
        """Library entries ranked for a passage (recall, then the reranker when one is loaded), best first.

        `plan` is how the passage is read: its buffer's (`plan_for`), since one passage cannot choose. `where`
        the cursor is: with the draft evidence on, the passage is ranked as a new passage of its project, with
        what the project's other passages cite (read on open and save).
        """
        from citerec.latex import Context

        assert self.suggester is not None
        self.check_library()
        limit = limit or self.settings.completion_items
        suggester = self.suggester
        placed = self.evidence.at(where) if where is not None and self.uses_evidence else None
        plan = plan if placed is None else self.options.recall.plan  # with the evidence: read as `suggest` reads it
        options = dataclasses.replace(self.options, top_n=limit, include_cited=True)
        options = options.with_recall(k=max(limit, self.options.recall.k), plan=plan)
        at = (placed.version, placed.place) if placed is not None else None
        cache_key = (suggester.index.manifest.generation, limit, query, sentence, wide, plan, at)
        with self._lock:
            if cache_key in self._ranked:
                self._ranked.move_to_end(cache_key)
                return self._ranked[cache_key]
        context = Context(0, query, sentence or query, "<buffer>", 1, 1, (), True, wide=wide)
        if placed is not None:
            context = placed.moved(context)
        with self.schedule.ranking():
            draft = placed.citations if placed is not None else None
            ranking = judged_first(suggester, context, options, draft, self.settings.judged_items)[:limit]
        papers = self.papers(s.key for s in ranking)
        result = tuple(Ranked(s.key, rank, s.score, papers.get(s.key), s.why) for rank, s in enumerate(ranking, 1))
        with self._lock:
            self._ranked[cache_key] = result
            while len(self._ranked) > RANK_CACHE_SIZE:
                self._ranked.popitem(last=False)
        return result

    def closest(self, key: str, n: int = 5) -> list[tuple[Paper, bool]]:
        """Entries a mistyped or missing key most likely meant, each with whether its key is similar (a likely
        typo): similar keys first, then BM25 on the key's words."""
        assert self.suggester is not None
        keys = self._current_keys()
        names = difflib.get_close_matches(normalise_key(key), list(keys), n=n, cutoff=0.6)
        chosen = [keys[name] for name in names]
        words = split_key(key)
        if len(chosen) < n and words:
            from citerec.recall import recall_text

            for candidate in recall_text(self.suggester.index, words, k=n, method="bm25"):
                if candidate.key not in chosen:
                    chosen.append(candidate.key)
        papers = self.papers(chosen[:n])
        return [(papers[k], number < len(names)) for number, k in enumerate(chosen[:n]) if k in papers]
