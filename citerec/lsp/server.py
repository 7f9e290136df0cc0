"""The language server: LSP messages in (pygls, stdio), editor-session questions off the message loop, answers out.

The message loop only reads the buffer and finds where the cursor is; library
look-ups, recall and parsing run on one worker thread, loading and re-imports
on the editor session's own thread. Work for a document version the editor has moved
past is dropped: a new completion cancels the older ones for that document
(answered `RequestCancelled`), and `didChange` cancels every request still
pending for older versions (answered `ContentModified`; editors ask again).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcContentModified, JsonRpcRequestCancelled
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from citerec import __version__
from citerec.lsp import cursor
from citerec.lsp.bibs import ImportSummary
from citerec.lsp.citeworthy import Citeworthiness, citation_actions
from citerec.lsp.editor import EditorSession
from citerec.lsp.evidence import Where
from citerec.lsp.features import (
    code_actions,
    completion_entries,
    completion_item,
    documentation,
    missing_key_diagnostics,
    no_library_item,
    read_warning_diagnostics,
)
from citerec.lsp.plans import plan_name
from citerec.lsp.positions import Positions
from citerec.lsp.project import OpenProjects, Project, read_project
from citerec.lsp.render import entry_markdown
from citerec.lsp.requests import Stopped, Work, not_a_cancellation, request, settle_memory
from citerec.lsp.settings import ServerSettings
from citerec.lsp.watch import BibWatcher

log = logging.getLogger(__name__)

DIAGNOSTIC_DELAY = 0.25  # seconds of quiet typing before a document is checked again
TEX_SUFFIXES = (".tex", ".ltx", ".latex")
TEX_LANGUAGES = {"latex", "tex", "plaintex", "context"}


class CiterecServer(LanguageServer):
    """One editor's connection: its documents, its `EditorSession`, and the work in flight per document."""

    def __init__(self, settings: ServerSettings) -> None:
        super().__init__("citerec", __version__)
        self.settings = settings
        self.editor = EditorSession(settings.editor)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citerec-lsp")
        self.watcher = BibWatcher(self._bibs_changed, poll=settings.poll, debounce=settings.debounce)
        self.pending: dict[str, list[Work]] = {}
        self.diagnosing: dict[str, asyncio.Task] = {}
        self.citeworthy = Citeworthiness(self)  # "may need a citation", checked on open and save
        self._positions: dict[str, tuple[int, Positions]] = {}
        self.projects = OpenProjects()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.setting_problem: str | None = None  # why the editor's initializationOptions were not taken

    # -- plumbing -----------------------------------------------------------
    @property
    def encoding(self) -> str:
        encoding = self.workspace.position_encoding or lsp.PositionEncodingKind.Utf16
        return getattr(encoding, "value", encoding)

    def buffer(self, uri: str) -> tuple[str, int, Positions]:
        """The document's text, version and position map (the map is kept while the version stays)."""
        doc = self.workspace.get_text_document(uri)
        version = doc.version or 0
        cached = self._positions.get(uri)
        if cached is None or cached[0] != version or cached[1].text is not doc.source:
            cached = self._positions[uri] = (version, Positions(doc.source, self.encoding))
        return doc.source, version, cached[1]

    async def ready_editor(self) -> EditorSession | None:
        """The editor once loaded (waiting for it if needed); None when loading failed or after shutdown."""
        if self.editor.loaded is None:
            return None
        try:
            await asyncio.shield(asyncio.wrap_future(self.editor.loaded))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - reported once, when loading failed
            return None
        return None if self.editor.closed else self.editor

    async def run(self, fn, *args, **kwargs):
        """`fn` on the worker thread; a caller cancelled first drops it; after shutdown the caller is cancelled."""
        if self.editor.closed:
            raise asyncio.CancelledError
        return await asyncio.get_running_loop().run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    def receive(self, uri: str, kind: str) -> Work:
        """Note a request when it arrives, with the buffer as it is then; a completion supersedes older ones."""
        text, version, positions = self.buffer(uri)
        work = Work(uri, kind, version, text, positions)
        pending = self.pending.setdefault(uri, [])
        if kind == "completion":
            for other in pending:
                if other.kind == "completion":
                    other.stop(JsonRpcRequestCancelled("superseded by a newer completion request"))
        pending.append(work)
        return work

    def cancel_older(self, uri: str, version: int) -> None:
        """The document changed: requests about older versions are answered `ContentModified`."""
        for work in self.pending.get(uri, []):
            if work.version < version:
                work.stop(JsonRpcContentModified(f"{uri} changed (version {version})"))

    async def answer(self, impl, params, work: Work):
        """Run `impl(params, work)` unless its request was cancelled; the outcome is a result or a `Stopped`."""
        work.task = asyncio.current_task()
        try:
            if work.stopped is not None:
                return Stopped(work.stopped)
            return await impl(self, params, work)
        except asyncio.CancelledError:
            return Stopped(work.stopped or JsonRpcRequestCancelled("cancelled"))
        finally:
            pending = self.pending.get(work.uri, [])
            if work in pending:
                pending.remove(work)

    def is_tex(self, uri: str) -> bool:
        doc = self.workspace.get_text_document(uri)
        return uri.lower().endswith(TEX_SUFFIXES) or (doc.language_id or "").lower() in TEX_LANGUAGES

    @property
    def lazy_documentation(self) -> bool:
        """Whether the editor asks for an item's documentation when it shows it (smaller completion lists)."""
        caps = self.client_capabilities.text_document
        item = caps.completion.completion_item if caps and caps.completion else None
        support = item.resolve_support if item else None
        return bool(support and "documentation" in support.properties)

    def log_message(self, message: str, kind: lsp.MessageType = lsp.MessageType.Info) -> None:
        self.window_log_message(lsp.LogMessageParams(kind, message))

    @property
    def roots(self) -> list[Path]:
        """The workspace folders; none when the editor found no root (single-file mode)."""
        return [Path(to_fs_path(uri)) for uri in self.workspace.folders] or (
            [Path(self.workspace.root_path)] if self.workspace.root_path else []
        )

    # -- loading and library changes -------------------------------------------
    def start_editor(self, uri: str) -> None:
        """Load the editor when the first TeX document opens: the library is looked for from that document."""
        if self.editor.loaded is not None or not self.is_tex(uri):
            return
        self.loop = asyncio.get_running_loop()
        path = to_fs_path(uri) if uri.startswith("file:") else None
        document = (Path(path), self.buffer(uri)[0]) if path else None
        future = self.editor.start(self.roots, document)
        future.add_done_callback(lambda _: self.call_on_loop(self._loaded))

    def call_on_loop(self, fn, *args) -> None:
        """Run `fn` on the message loop from another thread (not at all once the server has stopped)."""
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # closed in between: the editor is gone
                pass

    def _loaded(self) -> None:
        self.log_message(f"citerec: looked for the library: {'; '.join(self.editor.found)}")
        error = self.editor.load_error
        if error is not None:
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, f"citerec: {error}"))
            return
        for problem in self.editor.load_problems:
            self.log_message(f"citerec: {problem}", lsp.MessageType.Warning)
        assert self.editor.library is not None and self.editor.suggester is not None
        self.log_message(
            f"citerec: {self.editor.suggester.index.size} papers from {self.editor.library.root}; "
            f"watching {len(self.editor.bibs)} .bib file(s)"
        )
        self.watcher.watch(self.editor.bibs)
        settle_memory()
        for uri in list(self.workspace.text_documents):
            self.read_project(uri)
        self.diagnose_all()

    def _bibs_changed(self, paths: list[Path]) -> None:
        """On the watcher's thread: re-import, update the index, then tell the editor."""
        if not self.editor.ready:
            return
        summary = self.editor.reimport(paths).result()
        self.call_on_loop(self._reimported, summary)

    def _reimported(self, summary: ImportSummary) -> None:
        names = ", ".join(p.name for p in summary.files) or "nothing"
        self.log_message(
            f"citerec: re-imported {names}: {summary.added} new, {summary.updated} updated, {summary.removed} removed"
            + ("; index updated" if summary.refreshed else "")
        )
        for problem in summary.problems:
            self.log_message(f"citerec: {problem}", lsp.MessageType.Warning)
        settle_memory()
        self.diagnose_all()

    # -- the project and its reading plan --------------------------------------------
    def read_project(self, uri: str) -> None:
        """On open and save: (re)read the document's whole project in the background, then check its files,
        import the .bib files it names that are not yet in the library, and choose its reading plan."""
        if self.editor.ready and self.is_tex(uri) and uri in self.workspace.text_documents:
            asyncio.ensure_future(self._read_project(uri))

    async def _read_project(self, uri: str) -> None:
        text, _, _ = self.buffer(uri)
        path = to_fs_path(uri) if uri.startswith("file:") else None
        project = None
        if path is not None:
            # on a thread of its own, not the worker: reading a thesis takes a moment that completions must not wait
            reading = functools.partial(read_project, Path(path), text, next(iter(self.roots), None))
            project = await asyncio.get_running_loop().run_in_executor(None, reading)
            if uri not in self.workspace.text_documents or not self.editor.ready:  # closed, or shut down meanwhile
                return
            self.projects.of[uri] = project
            new = [bib for bib in project.bibs if bib not in self.editor.bibs]
            if new:
                self.log_message(f"citerec: importing {', '.join(b.name for b in new)} (named by {project.root.name})")
                self.watcher.touched(new)  # imported and then watched, like a .bib the editor reports
            self.diagnose_all()
        self.read_citations(uri, project)

    def read_citations(self, uri: str, project: Project | None) -> None:
        """Read the project's citing passages (the buffer's, outside a project) in the background: they are its
        draft evidence for completions and choose how its passages are read."""
        if not (self.editor.plans.chooses or self.editor.uses_evidence) or not self.editor.ready:
            return
        source = project.draft if project is not None and project.draft is not None else self.buffer(uri)[0]
        key = self.projects.key(uri)
        buffer = (Where.of(key, uri, 0).path, self.buffer(uri)[0])  # read as it is, unsaved
        said = f"citerec: {Path(to_fs_path(key) or key).name}: {{}} passages cite library papers (the draft evidence)"
        kept = functools.partial(self.call_on_loop, lambda n: self.log_message(said.format(n)))
        future = self.editor.read_citations(key, source, buffer, kept)
        future.add_done_callback(lambda done: self.call_on_loop(self._plan_fitted, key, done))

    def _plan_fitted(self, uri: str, done) -> None:
        if done.cancelled():
            return
        if done.exception() is not None:
            self.log_message(f"citerec: choosing how to read {uri} failed: {done.exception()}", lsp.MessageType.Warning)
            return
        before, choice = done.result()
        after = plan_name(choice)
        if after == before:
            return
        name = Path(to_fs_path(uri) or uri).name
        if choice is None:
            self.log_message(f"citerec: {name}: passages are read by their {after} plan (too few cited passages)")
        else:
            self.log_message(
                f"citerec: {name}: passages are read by their {after} plan "
                f"(Recall@10 of its own citations: window {choice.window_recall:.2f}, "
                f"passage {choice.passage_recall:.2f}, over {choice.evidence} cited passages)"
            )

    # -- diagnostics ---------------------------------------------------------------
    def diagnose_all(self) -> None:
        """Check every open document and every file of their projects (those not open as saved on disk)."""
        for uri in set(self.workspace.text_documents) | self.projects.files():
            self.schedule_diagnostics(uri, 0)

    def schedule_diagnostics(self, uri: str, delay: float = DIAGNOSTIC_DELAY) -> None:
        if uri in self.workspace.text_documents and not self.is_tex(uri):
            return
        old = self.diagnosing.pop(uri, None)
        if old is not None:
            old.cancel()
        self.diagnosing[uri] = asyncio.ensure_future(self._diagnose(uri, delay))

    async def _diagnose(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        editor = await self.ready_editor()
        if editor is None:
            return
        if uri in self.workspace.text_documents:
            text, version, positions = self.buffer(uri)
        elif uri in self.projects.files():  # a file of an open project, as saved
            text = await self.run(Path(to_fs_path(uri)).read_text, encoding="utf-8", errors="replace")
            version, positions = None, Positions(text, self.encoding)
        else:
            return
        found = await self.run(missing_key_diagnostics, editor, text, positions)
        found += await self.run(read_warning_diagnostics, text, positions)
        found += self.citeworthy.current(uri, text)
        now = self.workspace.text_documents.get(uri)
        if (now.version if now is not None else None) == version:
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, found, version))


def create_server(settings: ServerSettings) -> CiterecServer:
    """A server with every feature registered; `start_io()` runs it on stdin/stdout."""
    rpc_log = logging.getLogger("pygls.protocol.json_rpc")
    if not_a_cancellation not in rpc_log.filters:
        rpc_log.addFilter(not_a_cancellation)
    server = CiterecServer(settings)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: CiterecServer, params: lsp.InitializeParams) -> None:
        """initializationOptions may set what completions rank with: before any document opens, so the session
        is made anew with them."""
        settings, ls.setting_problem = ls.settings.editor.configured(params.initialization_options)
        if settings is not ls.settings.editor:
            ls.editor.close()
            ls.editor = EditorSession(settings)

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: CiterecServer, params: lsp.InitializedParams) -> None:
        ls.loop = asyncio.get_running_loop()
        if ls.setting_problem is not None:
            ls.log_message(f"citerec: {ls.setting_problem} (the command line's stand)", lsp.MessageType.Warning)
        caps = ls.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps else None
        if watched is not None and watched.dynamic_registration:
            options = lsp.DidChangeWatchedFilesRegistrationOptions([lsp.FileSystemWatcher(glob_pattern="**/*.bib")])
            registration = lsp.Registration("citerec-bib-watch", lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
            ls.client_register_capability(lsp.RegistrationParams([registration]))

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: CiterecServer, params: Any) -> None:
        ls.watcher.stop()
        ls.editor.close()
        ls.pool.shutdown(wait=False, cancel_futures=True)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CiterecServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.start_editor(params.text_document.uri)
        ls.schedule_diagnostics(params.text_document.uri, 0)
        ls.read_project(params.text_document.uri)
        ls.citeworthy.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CiterecServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.cancel_older(params.text_document.uri, params.text_document.version)
        ls.schedule_diagnostics(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: CiterecServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.schedule_diagnostics(params.text_document.uri, 0)
        ls.read_project(params.text_document.uri)
        ls.citeworthy.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CiterecServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        task = ls.diagnosing.pop(uri, None)
        if task is not None:
            task.cancel()
        ls.citeworthy.forget(uri)
        ls._positions.pop(uri, None)
        unused = ls.projects.drop(uri)
        if unused is not None:
            ls.editor.plans.forget(unused)
            ls.editor.evidence.forget(unused)
        if uri in ls.projects.files():  # still a file of an open project: checked as saved
            ls.schedule_diagnostics(uri, 0)
        else:
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: CiterecServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        paths = [Path(to_fs_path(c.uri)) for c in params.changes if c.uri.lower().endswith(".bib")]
        if paths:
            ls.watcher.touched(paths)

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["{", ","], resolve_provider=True)
    )
    @request("completion")
    async def completion(ls: CiterecServer, params: lsp.CompletionParams, work: Work) -> lsp.CompletionList | None:
        text, positions = work.text, work.positions
        offset = positions.offset(params.position)
        site = cursor.cite_at(text, offset)
        if site is None:
            return None
        editor = await ls.ready_editor()
        edit_range = positions.range(site.key_start, site.key_end)
        if editor is None:  # no library: say where it was looked for, in the item's documentation
            notice = no_library_item(ls.editor.load_error, ls.editor.found, site.current, edit_range)
            return lsp.CompletionList(is_incomplete=True, items=[notice])
        source, _, at = cursor.passage_source(text, offset)
        plan = editor.plans.plan_for(ls.projects.key(work.uri))
        where = Where.of(ls.projects.key(work.uri), work.uri, offset)
        entries = await ls.run(completion_entries, editor, source, at, site, plan, where)
        lazy = ls.lazy_documentation
        items = [completion_item(entry, n, edit_range, lazy) for n, entry in enumerate(entries)]
        # Incomplete: what is offered depends on the key typed so far (keys beyond the ranked ones are looked up).
        return lsp.CompletionList(is_incomplete=True, items=items)

    @server.feature(lsp.COMPLETION_ITEM_RESOLVE)
    async def resolve(ls: CiterecServer, item: lsp.CompletionItem) -> lsp.CompletionItem:
        key = item.data.get("key") if isinstance(item.data, dict) else None
        editor = await ls.ready_editor()
        if key and editor is not None and item.documentation is None:
            papers = await ls.run(editor.papers, [key])
            item.documentation = documentation(papers.get(key), tuple(item.data.get("why") or ()))
        return item

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @request("hover")
    async def hover(ls: CiterecServer, params: lsp.HoverParams, work: Work) -> lsp.Hover | None:
        positions = work.positions
        span = cursor.key_at(work.text, positions.offset(params.position))
        if span is None:
            return None
        editor = await ls.ready_editor()
        if editor is None:
            return None
        papers = await ls.run(editor.papers, [span.key])
        paper = papers.get(span.key)
        value = entry_markdown(paper) if paper else f"`{span.key}` is not in the citerec library"
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, value), positions.range(span.start, span.end))

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.RefactorRewrite]),
    )
    @request("codeAction")
    async def code_action(ls: CiterecServer, params: lsp.CodeActionParams, work: Work) -> list[lsp.CodeAction] | None:
        editor = await ls.ready_editor()
        if editor is None:
            return None
        plan = editor.plans.plan_for(ls.projects.key(work.uri))
        actions = citation_actions(work.uri, params)
        where = Where.of(ls.projects.key(work.uri), work.uri, work.positions.offset(params.range.start))
        actions += await ls.run(code_actions, editor, work.uri, work.text, work.positions, params, plan, where)
        only = params.context.only
        if only:
            wanted = [getattr(k, "value", k) for k in only]
            actions = [a for a in actions if any(getattr(a.kind, "value", a.kind).startswith(k) for k in wanted)]
        return actions

    return server
