"""`citerec lsp` driven over JSON-RPC as an editor drives it (pytest-lsp starts the real server process)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcContentModified, JsonRpcRequestCancelled
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.helpers.libraries import copy_library

pytestmark = pytest.mark.asyncio(loop_scope="module")

NEW_ENTRY = """
@article{whiskers2031feline,
  title = {Feline Whisker Mechanics for Tactile Navigation in Darkness},
  author = {Whiskers, Tom and Paws, Kitty},
  journal = {Journal of Imaginary Zoology},
  year = {2031},
  abstract = {We measure how cats use whisker deflection to navigate dark rooms without light.}
}
"""


async def start_server(
    library: Path, workspace: Path, *extra: str, capabilities: lsp.ClientCapabilities | None = None
) -> LanguageClient:
    command = [sys.executable, "-m", "citerec", "lsp", "--library-dir", str(library), "--poll", "0.2"]
    client = await ClientServerConfig(server_command=[*command, "--debounce", "0.2", *extra]).start()
    client.registrations = []

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(params: lsp.RegistrationParams) -> None:
        client.registrations.extend(params.registrations)

    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=capabilities or client_capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=workspace.as_uri(), name="draft")],
        )
    )
    return client


async def stop_server(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


def make_workspace(root: Path, examples: Path) -> Path:
    workspace = root / "draft"
    workspace.mkdir()
    shutil.copy(examples / "refs.bib", workspace / "refs.bib")
    return workspace


@pytest.fixture(scope="module")
def library_copy(_indexed_example_library: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("lsp-library") / ".citerec"
    copy_library(_indexed_example_library, target)
    return target


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, examples_dir: Path) -> Path:
    return make_workspace(tmp_path_factory.mktemp("lsp-workspace"), examples_dir)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(library_copy: Path, workspace: Path):
    client = await start_server(library_copy, workspace)
    yield client
    await stop_server(client)


class Buffer:
    """An open document in the test editor; `|` marks the cursor in the text given."""

    version = 1

    def __init__(self, client: LanguageClient, workspace: Path, name: str, marked: str) -> None:
        self.client = client
        self.uri = (workspace / name).as_uri()
        self.text, self.cursor = self._split(marked)
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(self.uri, "latex", 1, self.text))
        )

    @staticmethod
    def _split(marked: str) -> tuple[str, lsp.Position]:
        offset = marked.index("|")
        before = marked[:offset]
        return marked.replace("|", "", 1), lsp.Position(before.count("\n"), offset - (before.rfind("\n") + 1))

    def position_of(self, needle: str, plus: int = 0) -> lsp.Position:
        offset = self.text.index(needle) + plus
        before = self.text[:offset]
        return lsp.Position(before.count("\n"), offset - (before.rfind("\n") + 1))

    def replace(self, marked: str) -> None:
        """A full-text change, as an editor sends after an edit."""
        self.version += 1
        self.text, self.cursor = self._split(marked)
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(self.version, self.uri),
                [lsp.TextDocumentContentChangeWholeDocument(self.text)],
            )
        )

    async def complete(self):
        params = lsp.CompletionParams(lsp.TextDocumentIdentifier(self.uri), self.cursor)
        return await self.client.text_document_completion_async(params)

    async def send_completion(self) -> asyncio.Task:
        """A completion request on its way (sent before this returns), its answer awaited later."""
        task = asyncio.ensure_future(self.complete())
        await asyncio.sleep(0.05)
        return task

    async def diagnostics(self, until=lambda found: True, timeout: float = 60.0) -> list[lsp.Diagnostic]:
        """The latest diagnostics for this document that satisfy `until` (published for its current version)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            found = self.client.diagnostics.get(self.uri)
            if found is not None and until(found):
                return list(found)
            await asyncio.sleep(0.1)
        raise AssertionError(f"no matching diagnostics for {self.uri}: {self.client.diagnostics.get(self.uri)}")


def edit_of(action: lsp.CodeAction) -> lsp.TextEdit:
    assert action.edit is not None and action.edit.changes is not None
    (edits,) = action.edit.changes.values()
    (edit,) = edits
    return edit


async def test_completion_ranks_library_keys_for_the_sentence(client: LanguageClient, workspace: Path) -> None:
    doc = Buffer(
        client,
        workspace,
        "rank.tex",
        "\\section{Recall}\nThe classic probabilistic relevance framework and its BM25 term weighting \\cite{|}.\n",
    )
    result = await doc.complete()
    assert isinstance(result, lsp.CompletionList) and result.items
    keys = [item.label for item in result.items]
    assert "robertson2009probabilistic" in keys[:3]
    robertson = result.items[keys.index("robertson2009probabilistic")]
    assert "Probabilistic Relevance Framework" in robertson.detail and "Robertson" in robertson.detail
    assert "2009" in robertson.detail
    assert robertson.filter_text == "robertson2009probabilistic"
    sort_texts = [item.sort_text for item in result.items]
    assert sort_texts == sorted(sort_texts) and len(set(sort_texts)) == len(sort_texts)
    # The abstract comes when the editor shows the item (this client resolves documentation lazily).
    assert robertson.documentation is None and robertson.data == {"key": "robertson2009probabilistic"}
    resolved = await client.completion_item_resolve_async(robertson)
    assert isinstance(resolved.documentation, lsp.MarkupContent) and "BM25" in resolved.documentation.value
    edit = robertson.text_edit
    assert isinstance(edit, lsp.TextEdit) and edit.range.start == edit.range.end == doc.cursor

    # Another sentence, another ranking.
    doc.replace("Dense passage retrieval trains a dual encoder on question and passage pairs \\citep[see][]{|}.\n")
    dense = await doc.complete()
    assert "karpukhin2020dense" in [item.label for item in dense.items][:3]


async def test_completion_after_a_comma_leaves_out_keys_already_there(client: LanguageClient, workspace: Path) -> None:
    doc = Buffer(
        client, workspace, "comma.tex", "Dense retrieval with dual encoders \\parencite{karpukhin2020dense, |}.\n"
    )
    result = await doc.complete()
    keys = [item.label for item in result.items]
    assert keys and "karpukhin2020dense" not in keys


async def test_typed_prefix_filters_and_replaces_only_the_key(client: LanguageClient, workspace: Path) -> None:
    doc = Buffer(client, workspace, "prefix.tex", "Attention is all you need \\citet{vasw|\n")
    result = await doc.complete()
    assert result.is_incomplete
    vaswani = next(item for item in result.items if item.label == "vaswani2017attention")
    assert vaswani.text_edit.range.start == lsp.Position(0, doc.cursor.character - 4)
    assert vaswani.text_edit.new_text == "vaswani2017attention"
    # A key that is not among the ranked ones is still offered when its prefix is typed.
    doc.replace("Attention is all you need \\citet{glove|\n")
    typed = await doc.complete()
    assert any(item.label == "pennington2014glove" for item in typed.items)


async def test_no_completion_outside_cite_commands(client: LanguageClient, workspace: Path) -> None:
    doc = Buffer(client, workspace, "plain.tex", "Some \\emph{emphasis| here.\n")
    assert await doc.complete() is None


async def test_hover_shows_the_entry_of_a_cited_key(client: LanguageClient, workspace: Path) -> None:
    doc = Buffer(client, workspace, "hover.tex", "BERT \\citep{devlin2019bert, nosuchkey} helps.|\n")
    position = doc.position_of("devlin2019bert", 3)
    hover = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(doc.uri), position))
    assert hover is not None and "BERT" in hover.contents.value and "Devlin" in hover.contents.value
    assert hover.range.start == doc.position_of("devlin2019bert")
    missing = await client.text_document_hover_async(
        lsp.HoverParams(lsp.TextDocumentIdentifier(doc.uri), doc.position_of("nosuchkey", 2))
    )
    assert missing is not None and "not in the citerec library" in missing.contents.value
    nothing = await client.text_document_hover_async(
        lsp.HoverParams(lsp.TextDocumentIdentifier(doc.uri), doc.position_of("helps"))
    )
    assert nothing is None


async def test_missing_keys_are_diagnosed_with_closest_entries_as_fixes(
    client: LanguageClient, workspace: Path
) -> None:
    doc = Buffer(
        client,
        workspace,
        "missing.tex",
        "Transformers \\cite{vaswani2017atention, devlin2019bert}. % \\cite{ignored2020}\n"
        "Adam \\citep{kingma2015adam}.|\n",
    )
    diagnostics = await doc.diagnostics()
    assert [d.message for d in diagnostics] == ["'vaswani2017atention' is not in the citerec library"]
    (diagnostic,) = diagnostics
    assert diagnostic.range.start == doc.position_of("vaswani2017atention")
    context = lsp.CodeActionContext(diagnostics=[diagnostic], only=[lsp.CodeActionKind.QuickFix])
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(lsp.TextDocumentIdentifier(doc.uri), diagnostic.range, context)
    )
    fixes = [a for a in actions if a.diagnostics]
    assert fixes and fixes[0].is_preferred
    assert edit_of(fixes[0]).new_text == "vaswani2017attention"
    assert edit_of(fixes[0]).range == diagnostic.range
    # Fixing the key clears the diagnostic.
    doc.replace(doc.text.replace("vaswani2017atention", "vaswani2017attention") + "|")
    assert await doc.diagnostics(until=lambda found: not found) == []


async def test_code_action_fills_a_placeholder_with_the_top_suggestion(client: LanguageClient, workspace: Path) -> None:
    doc = Buffer(
        client,
        workspace,
        "placeholder.tex",
        "A GPU similarity search library built on product quantisation \\cite{?} scales to billions.|\n",
    )
    position = doc.position_of("\\cite{?}", 6)
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(doc.uri), lsp.Range(position, position), lsp.CodeActionContext(diagnostics=[])
        )
    )
    top = actions[0]
    assert top.is_preferred and top.title.startswith("Replace \\cite{?} with \\cite{johnson2021billion} (#1: ")
    assert edit_of(top).new_text == "johnson2021billion"
    assert edit_of(top).range == lsp.Range(position, doc.position_of("?", 1))
    assert len(actions) == 5 and not any(a.is_preferred for a in actions[1:])
    assert len({edit_of(a).new_text for a in actions}) == 5


async def test_code_action_cites_any_sentence_at_its_end(client: LanguageClient, workspace: Path) -> None:
    doc = Buffer(client, workspace, "sentence.tex", "We train with the Adam optimiser for stochastic optimization.|\n")
    position = doc.position_of("Adam")
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(doc.uri), lsp.Range(position, position), lsp.CodeActionContext(diagnostics=[])
        )
    )
    assert actions and actions[0].title.startswith("Add ~\\cite{kingma2015adam} at the end of the sentence (#1: ")
    assert not any(a.is_preferred for a in actions)  # a rewrite the writer chooses, not a fix
    edit = edit_of(actions[0])
    assert edit.new_text == "~\\cite{kingma2015adam}"
    assert edit.range.start == edit.range.end == doc.position_of(".")
    # From inside a cite of the sentence, the citation still goes at the sentence's end.
    doc.replace("Dropout \\cite{srivastava2014dropout} keeps networks from overfitting during training.|\n")
    position = doc.position_of("srivastava", 3)
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(doc.uri), lsp.Range(position, position), lsp.CodeActionContext(diagnostics=[])
        )
    )
    assert actions and all(edit_of(a).range.start == doc.position_of(".") for a in actions)
    assert "~\\cite{srivastava2014dropout}" not in [edit_of(a).new_text for a in actions]  # already cited there


async def test_changed_bib_on_disk_is_reimported_and_indexed(client: LanguageClient, workspace: Path) -> None:
    doc = Buffer(
        client,
        workspace,
        "bibchange.tex",
        "Cats navigate dark rooms with their whiskers \\cite{whiskers2031feline}.|\n",
    )
    diagnostics = await doc.diagnostics(until=lambda found: bool(found))
    assert "whiskers2031feline" in diagnostics[0].message
    with (workspace / "refs.bib").open("a", encoding="utf-8") as bib:
        bib.write(NEW_ENTRY)
    # The watcher re-imports the file, the index is updated, and the diagnostics are published again.
    assert await doc.diagnostics(until=lambda found: not found) == []
    doc.replace("Cats navigate dark rooms by sensing air with their whiskers \\cite{|}.\n")
    result = await doc.complete()
    assert result.items[0].label == "whiskers2031feline"


async def test_a_new_bib_reported_by_the_editor_is_imported(client: LanguageClient, workspace: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not client.registrations and loop.time() < deadline:  # asked for right after `initialized`
        await asyncio.sleep(0.1)
    watchers = [r for r in client.registrations if r.method == lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    assert watchers and watchers[0].register_options["watchers"][0]["globPattern"] == "**/*.bib"
    extra = workspace / "extra.bib"
    extra.write_text(NEW_ENTRY.replace("whiskers2031feline", "tails2032balance").replace("Whisker", "Tail"))
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams([lsp.FileEvent(extra.as_uri(), lsp.FileChangeType.Created)])
    )
    doc = Buffer(client, workspace, "newbib.tex", "Cats balance with their tails \\cite{tails2032balance}.|\n")
    params = lsp.HoverParams(lsp.TextDocumentIdentifier(doc.uri), doc.position_of("tails2032balance", 2))
    deadline = loop.time() + 60
    while loop.time() < deadline:
        hover = await client.text_document_hover_async(params)
        if "Feline Tail Mechanics" in hover.contents.value:
            break
        await asyncio.sleep(0.2)
    assert "Feline Tail Mechanics" in hover.contents.value


async def test_newer_requests_cancel_older_ones(tmp_path: Path, library_copy: Path, examples_dir: Path) -> None:
    """While the server is still loading, a newer completion supersedes an older one and an edit cancels
    requests for older versions; the editor gets RequestCancelled for those and an answer for the newest."""
    library = tmp_path / ".citerec"
    copy_library(library_copy, library)
    # A client that does not resolve items lazily: documentation comes with each item.
    bare = lsp.ClientCapabilities()
    workspace = make_workspace(tmp_path, examples_dir)
    fresh = await start_server(library, workspace, "--no-workspace-bibs", capabilities=bare)
    try:
        doc = Buffer(fresh, tmp_path / "draft", "cancel.tex", "Dense retrieval with dual encoders \\cite{|}.\n")
        first = await doc.send_completion()
        second = await doc.send_completion()
        doc.replace("Dense passage retrieval with dual encoders \\cite{kar|}.\n")
        third = await doc.send_completion()
        results = await asyncio.gather(first, second, third, return_exceptions=True)
        assert isinstance(results[0], JsonRpcRequestCancelled), results  # superseded by the second
        assert getattr(results[1], "code", None) == JsonRpcContentModified.CODE, results  # its version was edited away
        karpukhin = next(item for item in results[2].items if item.label == "karpukhin2020dense")
        assert isinstance(karpukhin.documentation, lsp.MarkupContent)
        assert "dual-encoder" in karpukhin.documentation.value
    finally:
        await stop_server(fresh)


async def test_an_empty_library_is_reported_to_the_editor(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    fresh = await start_server(tmp_path / ".citerec", empty)
    try:
        doc = Buffer(fresh, empty, "draft.tex", "Some text \\cite{|}.\n")
        result = await doc.complete()
        (notice,) = result.items  # one item that changes nothing and says where the library was looked for
        assert notice.label == "citerec: no library" and notice.text_edit.new_text == ""
        assert "empty" in notice.documentation.value and ".citerec" in notice.documentation.value
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not fresh.messages and loop.time() < deadline:
            await asyncio.sleep(0.1)
        assert any("library" in m.message and "empty" in m.message for m in fresh.messages), fresh.messages
    finally:
        await stop_server(fresh)


async def test_a_missing_bib_is_a_one_line_error(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "citerec", "lsp", "--library-dir", str(tmp_path), "--bib", str(tmp_path / "nope.bib")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "nope.bib: no such file" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
