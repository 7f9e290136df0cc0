"""The language server reads a whole LaTeX project: the library its draft names, every chapter, one-meaning fixes.

Each server here starts as an editor with no workspace root starts it (a paper
folder with no `.git` and no `.citerec/`), from another working directory, with
no `--library-dir`: everything must be found from the draft itself.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from citerec.library import LIBRARY_ENV
from tests.test_lsp import Buffer, edit_of, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAIN = r"""\documentclass{article}
\begin{document}
\input{chapters/intro}
\include{chapters/results}
\bibliographystyle{plain}
\bibliography{library}
\end{document}
"""
INTRO = "Attention replaces recurrence in sequence transduction \\cite{vaswani2017attention}.\n"
RESULTS = "We train with Adam \\cite{kingma2015adam} and dropout \\cite{nosuchkey2020}.\n"


async def start_rootless(cwd: Path, *extra: str) -> LanguageClient:
    """`citerec lsp` as Neovim starts it when `root_markers` match nothing: no root, no workspace folders."""
    env = {k: v for k, v in os.environ.items() if k != LIBRARY_ENV}
    command = ["env", "-C", str(cwd), sys.executable, "-m", "citerec", "lsp", "--poll", "0.2", "--debounce", "0.2"]
    client = await ClientServerConfig(server_command=[*command, *extra], server_env=env).start()
    await client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("neovim"), root_uri=None, workspace_folders=None)
    )
    return client


def make_paper(root: Path, examples: Path) -> Path:
    """A thesis folder: main.tex names `library.bib` beside it and includes two chapters."""
    paper = root / "paper"
    (paper / "chapters").mkdir(parents=True)
    (paper / "main.tex").write_text(MAIN, encoding="utf-8")
    (paper / "chapters" / "intro.tex").write_text(INTRO, encoding="utf-8")
    (paper / "chapters" / "results.tex").write_text(RESULTS, encoding="utf-8")
    shutil.copy(examples / "refs.bib", paper / "library.bib")
    return paper


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory, examples_dir: Path) -> Path:
    return make_paper(tmp_path_factory.mktemp("lsp-project"), examples_dir)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(paper: Path, tmp_path_factory: pytest.TempPathFactory):
    client = await start_rootless(tmp_path_factory.mktemp("elsewhere"))
    yield client
    await stop_server(client)


async def diagnostics_of(client: LanguageClient, path: Path, until, timeout: float = 90.0) -> list[lsp.Diagnostic]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = client.diagnostics.get(path.as_uri())
        if found is not None and until(found):
            return list(found)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no matching diagnostics for {path.name}: {client.diagnostics.get(path.as_uri())}")


async def test_a_chapter_finds_the_library_its_root_document_names(client: LanguageClient, paper: Path) -> None:
    """Defect: with no workspace root the server looked for `.citerec/` in its working directory, found an empty
    library, and every completion was empty, although main.tex names library.bib beside it."""
    chapter = Buffer(
        client,
        paper / "chapters",
        "intro.tex",
        "The classic probabilistic relevance framework and its BM25 term weighting \\cite{|}.\n",
    )
    result = await chapter.complete()
    keys = [item.label for item in result.items]
    assert "robertson2009probabilistic" in keys[:3], keys[:5]
    assert (paper / ".citerec").is_dir()  # the library lives beside the root document
    logged = " ".join(m.message for m in client.log_messages)
    assert "library.bib" in logged and "main.tex" in logged, logged


async def test_diagnostics_cover_the_chapters_that_are_not_open(client: LanguageClient, paper: Path) -> None:
    """Defect: diagnostics covered open buffers only, never the files they include."""
    Buffer(client, paper / "chapters", "intro.tex", INTRO + "|")
    results = paper / "chapters" / "results.tex"
    found = await diagnostics_of(client, results, until=bool)
    assert [d.message for d in found] == ["'nosuchkey2020' is not in the citerec library"]
    assert found[0].range.start == lsp.Position(0, RESULTS.index("nosuchkey2020"))
    # Saving a chapter updates the whole project: the key fixed on disk leaves the diagnostics.
    results.write_text(RESULTS.replace("nosuchkey2020", "srivastava2014dropout"), encoding="utf-8")
    intro = paper / "chapters" / "intro.tex"
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(intro.as_uri())))
    assert await diagnostics_of(client, results, until=lambda found: not found) == []


async def _actions(client: LanguageClient, doc: Buffer, needle: str) -> tuple[lsp.Diagnostic, list[lsp.CodeAction]]:
    found = await doc.diagnostics(until=bool, timeout=90)
    (diagnostic,) = found
    position = doc.position_of(needle, 2)
    context = lsp.CodeActionContext(diagnostics=[diagnostic])  # no `only`: everything the server offers there
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(lsp.TextDocumentIdentifier(doc.uri), lsp.Range(position, position), context)
    )
    return diagnostic, actions


def _applied(text: str, action: lsp.CodeAction) -> str:
    edit = edit_of(action)
    lines = text.split("\n")

    def offset(p: lsp.Position) -> int:
        return sum(len(line) + 1 for line in lines[: p.line]) + p.character

    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]


async def test_an_unknown_key_is_replaced_or_removed_never_appended_to(client: LanguageClient, paper: Path) -> None:
    """Defect: on `\\cite{nosuchkey2020}` the preferred action appended a second citation after the sentence."""
    doc = Buffer(
        client,
        paper,
        "unknown.tex",
        "Graphical models~\\cite{nosuchkey2020} minimise an energy over all frames.|\n",
    )
    _, actions = await _actions(client, doc, "nosuchkey2020")
    assert actions
    results = [_applied(doc.text, action) for action in actions]
    for action, result in zip(actions, results, strict=True):
        assert "nosuchkey2020" not in result, (action.title, result)  # every action removes or replaces the key
        assert result.count("\\cite") <= 1, (action.title, result)  # none appends a citation
    assert sum(bool(a.is_preferred) for a in actions) <= 1
    removal = next(a for a in actions if a.title.startswith("Remove"))
    assert _applied(doc.text, removal) == "Graphical models minimise an energy over all frames.\n"
    assert len(set(results)) == len(results)  # no two actions make the same edit


async def test_a_near_miss_key_has_one_preferred_fix_and_no_duplicates(client: LanguageClient, paper: Path) -> None:
    """Defect: two actions were both preferred, and 'insert top suggestion X' repeated 'Cite #1 X'."""
    doc = Buffer(client, paper, "nearmiss.tex", "Transformers \\cite{devlin2019bert, vaswani2017atention} work.|\n")
    diagnostic, actions = await _actions(client, doc, "vaswani2017atention")
    preferred = [a for a in actions if a.is_preferred]
    assert len(preferred) == 1 and list(preferred[0].diagnostics) == [diagnostic]
    assert _applied(doc.text, preferred[0]) == doc.text.replace("atention", "attention")
    assert "'vaswani2017atention'" in preferred[0].title and "vaswani2017attention" in preferred[0].title
    results = [_applied(doc.text, action) for action in actions]
    assert len(set(results)) == len(results)
    removal = next(a for a in actions if a.title.startswith("Remove"))
    assert _applied(doc.text, removal) == "Transformers \\cite{devlin2019bert} work.\n"


async def test_sentence_actions_say_what_they_insert(client: LanguageClient, paper: Path) -> None:
    doc = Buffer(client, paper, "sentence.tex", "We train with the Adam optimiser for stochastic optimization.|\n")
    position = doc.position_of("Adam")
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(doc.uri), lsp.Range(position, position), lsp.CodeActionContext(diagnostics=[])
        )
    )
    results = [_applied(doc.text, action) for action in actions]
    assert len(set(results)) == len(results) == 5
    assert results[0] == "We train with the Adam optimiser for stochastic optimization~\\cite{kingma2015adam}.\n"
    for action in actions:
        assert edit_of(action).new_text in action.title  # the title shows the text it inserts
