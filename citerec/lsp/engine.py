"""What the language server loads once and asks per keystroke: library, index, Suggester, and caches.

The editor must never wait on a model load or an import, so `Engine.load` runs
on a background thread after `initialize`, and every question here is cheap
enough for a keystroke once loaded: a passage already ranked comes from memory,
a new one costs one recall (its query vector and candidates are also kept in
the index's recall cache on disk). Library changes, by this server's .bib
watcher or by any other process, are picked up through `Suggester.stale` and
`Suggester.refresh`, the same path the HTTP service uses.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.errors import CiterecError, InputError
from citerec.library import LIBRARY_ENV
from citerec.papers import Paper, normalise_key

if TYPE_CHECKING:
    from citerec.ingest.bibtex import BibImport
    from citerec.latex.reader import Draft
    from citerec.library import AddReport, Library
    from citerec.lsp.project import Project
    from citerec.recall import PlanChoice
    from citerec.suggest import Suggester, SuggestOptions

log = logging.getLogger(__name__)

RANK_CACHE_SIZE = 512  # passages whose ranking is kept in memory
PLAN_QUIET = 0.3  # seconds without a completion before a buffer's plan is chosen further (Engine.fit_plan)


@dataclass(frozen=True)
class EngineSettings:
    """How the server finds its library and what it ranks with (from the command line)."""

    library_dir: Path | None = None
    bib: tuple[Path, ...] = ()
    workspace_bibs: bool = True  # import (and watch) the .bib files found in the workspace folders
    options: SuggestOptions | None = None
    completion_items: int = 50  # ranked keys offered per completion


@dataclass(frozen=True)
class Ranked:
    """One library entry ranked for a passage."""

    key: str
    rank: int
    score: float
    paper: Paper | None


@dataclass(frozen=True)
class ImportSummary:
    """What a (re-)import of .bib files changed, for the editor's log."""

    files: tuple[Path, ...]
    added: int
    updated: int
    problems: tuple[str, ...] = field(default=())
    refreshed: bool = False
    removed: int = 0  # entries deleted from a watched .bib (and held by no other) taken out of the library


def _keys_by_file(results: Sequence[tuple[BibImport, AddReport]]) -> dict[Path, set[str]]:
    """The library keys (normalised) each imported .bib file stands for: its entries, or the papers they duplicate."""
    keys: dict[Path, set[str]] = {}
    for bib_import, report in results:
        merged = {normalise_key(incoming): normalise_key(existing) for incoming, existing in report.duplicates}
        own = {normalise_key(paper.key) for paper in bib_import.papers}
        keys[Path(bib_import.file).resolve()] = {merged.get(key, key) for key in own}
    return keys


def plan_name(choice: PlanChoice | None) -> str:
    """The plan a choice reads by; a buffer that could not choose (or has not yet) reads by the default."""
    from citerec.recall.plans import PASSAGE

    return choice.plan if choice is not None else PASSAGE


def split_key(key: str) -> str:
    """`vaswani2017attention` → `vaswani 2017 attention`: a key as words, to search titles and authors by."""
    return " ".join(re.findall(r"[A-Za-z]+|\d+", key))


class Engine:
    """The loaded state of one language server; all methods are called off the editor's message loop."""

    def __init__(self, settings: EngineSettings) -> None:
        from citerec.suggest import SuggestOptions

        self.settings = settings
        self.options: SuggestOptions = settings.options or SuggestOptions(rerank="off")
        self.library: Library | None = None
        self.suggester: Suggester | None = None
        self.bibs: list[Path] = []
        self._bib_keys: dict[Path, set[str]] = {}  # watched .bib → the library keys it held when last read
        # Only the workspace's own library mirrors deletions from the watched files: one named with --library-dir
        # or $CITEREC_LIBRARY_DIR may hold the same papers from other sources (a Zotero export, arXiv).
        self._prunes = settings.library_dir is None and not os.environ.get(LIBRARY_ENV)
        self.load_problems: list[str] = []
        self.found: list[str] = []  # where the library and each .bib file came from, for the editor's log
        self.first_project: Project | None = None  # the project of the document that started the engine
        self._ranked: OrderedDict[tuple, tuple[Ranked, ...]] = OrderedDict()
        self._keys: dict[str, str] = {}  # normalised → as written, for the library version below
        self._keys_version: str | None = None
        self._papers: dict[str, Paper | None] = {}
        self._plans: dict[str, PlanChoice | None] = {}  # buffer uri → the plan its citations chose
        self._ranking = 0  # rankings in progress: choosing a plan waits for them (completions go first)
        self._last_ranked = 0.0  # time.monotonic() when the last one ended
        self._idle = threading.Condition(threading.Lock())
        self._lock = threading.Lock()
        # Loading, imports and index updates run one at a time on their own thread, never on the query pool.
        self._maintenance = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citerec-lsp-library")
        self._refreshing: Future | None = None
        self.loaded: Future | None = None

    # -- loading ----------------------------------------------------------
    def start(self, roots: Sequence[Path], document: tuple[Path, str] | None = None) -> Future:
        """Load library, index and models in the background; the future holds this engine or the error.

        `document` (path and text of the file the editor opened first) is where the library is looked for
        first: the .bib files its root document names and a `.citerec/` beside that document.
        """
        self.loaded = self._maintenance.submit(self._load, list(roots), document)
        return self.loaded

    def _load(self, roots: list[Path], document: tuple[Path, str] | None = None) -> Engine:
        from citerec.ingest import import_bibtex_files
        from citerec.library import Library
        from citerec.lsp.project import library_sources
        from citerec.suggest import Suggester

        sources = library_sources(self.settings, roots, document)
        self.first_project, self.found = sources.project, list(sources.found)
        self.load_problems.extend(sources.problems)
        root, bibs = sources.root, list(sources.bibs)
        log.info("library sources: %s", "; ".join(self.found))
        library = Library(root)
        self.bibs = bibs
        if bibs:
            # when pruning, every file is read (not skipped when unchanged): what each holds, to notice deletions
            results = import_bibtex_files(library, bibs, reuse=not self._prunes, jobs=1)
            for bib_import, _ in results:
                self.load_problems.extend(str(problem) for problem in bib_import.problems)
            self._bib_keys.update(_keys_by_file(results))
        suggester = Suggester(library, options=self.options)
        index = suggester.index
        # Load everything a first completion needs now, not on the first keystroke.
        _ = index.embedder, index.bm25, index.dense
        index.embedder.embed_queries(["citation recommendation"])
        self.library, self.suggester = library, suggester
        self.load_problems.extend(suggester.load_notes)
        log.info("library %s loaded: %d papers, %d .bib files watched", root, index.size, len(bibs))
        return self

    @property
    def ready(self) -> bool:
        return self.loaded is not None and self.loaded.done() and self.loaded.exception() is None

    @property
    def load_error(self) -> str | None:
        """Why loading failed (one line), or None."""
        if self.loaded is None or not self.loaded.done() or self.loaded.exception() is None:
            return None
        exc = self.loaded.exception()
        return str(exc) if isinstance(exc, CiterecError) else f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self._maintenance.shutdown(wait=False, cancel_futures=True)

    # -- library changes --------------------------------------------------
    def check_library(self) -> None:
        """When the library changed since the index was built (any process), update the index in the background."""
        suggester = self.suggester
        if suggester is None or (self._refreshing is not None and not self._refreshing.done()):
            return
        if suggester.stale:
            self._refreshing = self._maintenance.submit(self._refresh)

    def _refresh(self) -> bool:
        assert self.suggester is not None
        try:
            return self.suggester.refresh()
        except Exception:  # noqa: BLE001 - the old index keeps serving; the next request retries
            log.exception("updating the index failed")
            return False

    def reimport(self, paths: Sequence[Path]) -> Future:
        """Re-import changed .bib files and update the index, in the background; the future holds a summary."""
        return self._maintenance.submit(self._reimport, [Path(p) for p in paths])

    def _reimport(self, paths: list[Path]) -> ImportSummary:
        from citerec.ingest import import_bibtex_files

        assert self.library is not None
        present = [p for p in paths if p.is_file()]
        for path in paths:
            resolved = path.resolve()
            if path in present and resolved not in self.bibs:
                self.bibs.append(resolved)
            elif path not in present and resolved in self.bibs:
                self.bibs.remove(resolved)  # deleted from disk: no longer watched
        added = updated = 0
        problems: list[str] = []
        results = import_bibtex_files(self.library, present, reuse=not self._prunes, jobs=1)
        for bib_import, report in results:
            added += len(report.added)
            updated += len(report.updated)
            problems.extend(str(problem) for problem in bib_import.problems)
        removed = self._drop_deleted(paths, _keys_by_file(results)) if self._prunes else 0
        refreshed = self._refresh()
        return ImportSummary(tuple(present), added, updated, tuple(problems), refreshed, removed)

    def _drop_deleted(self, paths: list[Path], now: dict[Path, set[str]]) -> int:
        """Remove the entries that left the re-read files (or whose file is gone) and no other watched file holds."""
        assert self.library is not None
        before: set[str] = set()
        for path in paths:
            resolved = path.resolve()
            before |= self._bib_keys.pop(resolved, set())
            if resolved in now:
                self._bib_keys[resolved] = now[resolved]
        gone = sorted(before - set().union(*self._bib_keys.values()))
        if not gone:
            return 0
        log.info("%d entries deleted from watched .bib files; removing them from the library", len(gone))
        return len(self.library.remove(gone))

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
    ) -> tuple[Ranked, ...]:
        """Library entries ranked for a passage (recall, then the reranker when one is loaded), best first.

        `plan` is how the passage is read: its buffer's (`plan_for`), since one passage cannot choose.
        """
        from citerec.latex import Context

        assert self.suggester is not None
        self.check_library()
        limit = limit or self.settings.completion_items
        suggester = self.suggester
        options = dataclasses.replace(
            self.options, top_n=limit, recall_k=max(limit, self.options.recall_k), include_cited=True, plan=plan
        )
        cache_key = (suggester.index.manifest.generation, limit, query, sentence, wide, plan)
        with self._lock:
            if cache_key in self._ranked:
                self._ranked.move_to_end(cache_key)
                return self._ranked[cache_key]
        context = Context(0, query, sentence or query, "<buffer>", 1, 1, (), True, wide=wide)
        with self._idle:
            self._ranking += 1
        try:
            ranking = suggester.rank([context], options)[0].ranking[:limit]
        finally:
            with self._idle:
                self._ranking -= 1
                self._last_ranked = time.monotonic()
                self._idle.notify_all()
        papers = self.papers(s.key for s in ranking)
        result = tuple(Ranked(s.key, s.rank, s.score, papers.get(s.key)) for s in ranking)
        with self._lock:
            self._ranked[cache_key] = result
            while len(self._ranked) > RANK_CACHE_SIZE:
                self._ranked.popitem(last=False)
        return result

    # -- reading plans ------------------------------------------------------
    @property
    def chooses_plans(self) -> bool:
        """Whether buffers choose their plan (`--plan auto`), rather than the options forcing one."""
        return self.options.plan == "auto"

    def fit_plan(self, uri: str, text: str | Draft) -> Future:
        """Let a buffer's citations (or a whole project's, given its `Draft`) choose its reading plan, in the
        background; the future holds (the plan the buffer was read with before, the new choice).

        Runs on the maintenance thread, like imports, so fits of one buffer never
        overlap: a buffer of 200 passages is recalled twice the first time
        (seconds), then mostly from the recall cache.
        """
        return self._maintenance.submit(self._fit_plan, uri, text)

    def _fit_plan(self, uri: str, text: str | Draft) -> tuple[str, PlanChoice | None]:
        from citerec.latex import extract_contexts

        assert self.suggester is not None
        try:
            if isinstance(text, str):
                contexts = extract_contexts(
                    Path("<buffer>.tex"), text=text, is_tex=True, neighbours=self.options.neighbours
                )
            else:  # a thesis takes a second or more to read: a file at a time, when completions pause
                from citerec.lsp.project import citing_files

                contexts = []
                for part in citing_files(text):
                    self._after_rankings()
                    contexts += extract_contexts(part, neighbours=self.options.neighbours)
        except InputError:  # does not parse while being edited: keep the last choice
            with self._lock:
                kept = self._plans.get(uri)
            return plan_name(kept), kept
        choice = self.suggester.draft_plan(contexts, self.options, between=self._after_rankings)
        with self._lock:
            before = self._plans.get(uri)
            self._plans[uri] = choice
        return plan_name(before), choice

    def _after_rankings(self) -> None:
        """Wait until no completion has been ranked for PLAN_QUIET seconds: keystrokes come in bursts, and the
        plan can come a moment later where a completion cannot."""
        with self._idle:
            while True:
                quiet_for = time.monotonic() - self._last_ranked
                if not self._ranking and quiet_for >= PLAN_QUIET:
                    return
                self._idle.wait(timeout=PLAN_QUIET if self._ranking else PLAN_QUIET - quiet_for)

    def plan_for(self, uri: str) -> str:
        """The plan a passage of this buffer is read with: forced by the options, else the buffer's choice."""
        if not self.chooses_plans:
            return self.options.plan
        with self._lock:
            choice = self._plans.get(uri)
        return plan_name(choice)

    def forget(self, uri: str) -> None:
        with self._lock:
            self._plans.pop(uri, None)

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
