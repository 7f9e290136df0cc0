"""The language server ranks with the draft evidence: what the project's other passages cite, read on open and save.

A chapter cites a library paper in a sentence whose words match nothing in the
library; a new sentence in another chapter that uses those words must get that
paper first, with why in the item's documentation, over JSON-RPC as an editor
asks. With `--draft-evidence off` it gets neither, and a citation added and
saved becomes evidence for the next completion. The user's past sentences, kept
from their earlier drafts (`citerec library learn`), count as in `suggest`, but
never those kept from the project itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from lsprotocol import types as lsp

from citerec.library import Library
from citerec.lsp.evidence import past_elsewhere
from citerec.lsp.passages import read_passages
from citerec.lsp.project import read_project
from citerec.papers import Paper
from citerec.past_sentences import CitingSentence, source_name
from tests.test_lsp import Buffer, start_server, stop_server

MAIN = "\\documentclass{article}\n\\begin{document}\n\\input{intro}\n\\input{method}\n\\end{document}\n"
INTRO = (
    "\\section{Introduction}\nMany systems exist.\n"
    "We run the Zorblax quibbler for frobnication of snargle \\cite{KEY}.\nIt is old.\n"
)
CITED = "he2010context"  # nothing in its entry says zorblax, quibbler, frobnication or snargle
NEW_SENTENCE = "\\section{Method}\nAgain we run the Zorblax quibbler for the frobnication of snargle \\cite{|}.\n"
SAVED_KEY = "hochreiter1997long"  # cited by a sentence added and saved later
SAVED = "Blorptang wibbles the plonker gizmo \\cite{hochreiter1997long}.\n"
LATER = "Then again Blorptang wibbles the plonker gizmo \\cite{|}.\n"
# a fresh project: only a sentence the user wrote in an earlier draft ties these words to a paper
PAST = "We count grommets with the zorblax quantifier of the plinth."
DESCRIBED = (
    "\\documentclass{article}\n\\begin{document}\n\\section{Method}\n"
    "Grommets are counted by a zorblax quantifier on each plinth \\cite{|}.\n\\end{document}\n"
)


def make_project(root: Path) -> Path:
    root.mkdir()
    (root / "main.tex").write_text(MAIN, encoding="utf-8")
    (root / "intro.tex").write_text(INTRO.replace("KEY", CITED), encoding="utf-8")
    (root / "method.tex").write_text(NEW_SENTENCE.replace("|", ""), encoding="utf-8")
    return root


async def resolved(client, item: lsp.CompletionItem) -> str:
    """The item's documentation as the editor shows it (fetched lazily)."""
    item = await client.completion_item_resolve_async(item)
    return item.documentation.value if isinstance(item.documentation, lsp.MarkupContent) else ""


async def ranked_first(doc: Buffer, key: str, timeout: float = 60.0) -> lsp.CompletionList:
    """Complete until `key` comes first (the project is read in the background after open or save)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await doc.complete()
        if result.items[0].label == key or loop.time() > deadline:
            return result
        await asyncio.sleep(0.2)


@pytest.mark.asyncio(loop_scope="function")
async def test_a_paper_cited_elsewhere_in_the_project_is_suggested_with_why(
    example_library_dir: Path, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "paper")
    client = await start_server(example_library_dir, root, "--no-workspace-bibs")
    try:
        doc = Buffer(client, root, "method.tex", NEW_SENTENCE)
        result = await ranked_first(doc, CITED)
        assert result.items[0].label == CITED
        documentation = await resolved(client, result.items[0])
        assert documentation.startswith("**Why**") and "Zorblax quibbler" in documentation  # then the abstract
        assert any("main.tex: 1 passages cite library papers" in m.message for m in client.log_messages)

        # A citation added to this chapter and saved is evidence for the next new sentence.
        text = NEW_SENTENCE.replace("\\cite{|}", f"\\cite{{{CITED}}}") + SAVED
        later = text + LATER
        doc.replace(later)
        before = await doc.complete()
        assert before.items[0].label != SAVED_KEY  # not saved yet: the project as read on open knows nothing of it
        (root / "method.tex").write_text(later.replace("|", ""), encoding="utf-8")
        client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(doc.uri)))
        after = await ranked_first(doc, SAVED_KEY)
        assert after.items[0].label == SAVED_KEY
        assert "Blorptang" in await resolved(client, after.items[0])
    finally:
        await stop_server(client)


@pytest.mark.asyncio(loop_scope="function")
async def test_with_the_draft_evidence_off_the_project_gives_neither_boost_nor_why(
    example_library_dir: Path, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "paper")
    client = await start_server(example_library_dir, root, "--no-workspace-bibs", "--draft-evidence", "off")
    try:
        doc = Buffer(client, root, "method.tex", NEW_SENTENCE)
        for _ in range(10):  # as long as the project takes to read when the evidence is on
            result = await doc.complete()
            assert result.items[0].label != CITED
            shown = [await resolved(client, item) for item in result.items[:5]]
            assert shown[0] and not any("**Why**" in text for text in shown)  # the abstract alone
            await asyncio.sleep(0.3)
    finally:
        await stop_server(client)


def test_a_cursor_is_placed_among_the_projects_sentences_the_buffer_read_unsaved(tmp_path: Path) -> None:
    root = make_project(tmp_path / "paper")
    method = root / "method.tex"
    unsaved = NEW_SENTENCE.replace("\\cite{|}", "\\cite{x}") + SAVED  # not saved: the file on disk cites nothing
    project = read_project(method, unsaved)
    passages = read_passages(project.draft, "paper", buffer=(method, unsaved))
    assert [c.cited_keys for c in passages.contexts] == [(CITED,), ("x",), (SAVED_KEY,)]
    ids = [c.id for c in passages.contexts]
    assert ids == sorted(ids) and ids[2] == ids[1] + 1  # positions count every sentence of the project, in order
    assert {c.draft for c in passages.contexts} == {"paper"}
    inside = passages.place(method, unsaved.index("Blorptang"))
    assert inside is not None and inside.inside and inside.position == ids[2] and inside.section == "Method"
    after = passages.place(method, len(unsaved))  # a sentence typed after the last one
    assert after is not None and not after.inside and after.position == ids[2] + 1
    assert passages.place(tmp_path / "elsewhere.tex", 0) is None


@pytest.mark.asyncio(loop_scope="function")
async def test_a_paper_described_in_an_earlier_draft_is_suggested_with_why(
    example_library_dir: Path, tmp_path: Path
) -> None:
    library = Library(example_library_dir)
    target = sorted(library.keys())[3]  # its entry says nothing of grommets (tests/test_library_learn.py)
    library.learn(source_name(tmp_path / "old.tex"), [CitingSentence("old.tex", 12, PAST, (target,))])
    root = tmp_path / "paper"
    root.mkdir()
    (root / "main.tex").write_text(DESCRIBED.replace("|", ""), encoding="utf-8")
    client = await start_server(example_library_dir, root, "--no-workspace-bibs")
    try:
        doc = Buffer(client, root, "main.tex", DESCRIBED)
        result = await ranked_first(doc, target)
        assert result.items[0].label == target
        assert "where you cited it before (old.tex:12)" in await resolved(client, result.items[0])
    finally:
        await stop_server(client)


def test_past_sentences_from_the_project_itself_are_left_out(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    library.add([Paper(key=k, title=f"A long enough title about {k}") for k in ("alpha", "beta")])
    root = tmp_path / "paper" / "main.tex"
    library.learn(source_name(root), [CitingSentence("main.tex", 1, "Alpha here.", ("alpha",))])
    library.learn(source_name(tmp_path / "old.tex"), [CitingSentence("old.tex", 2, "Beta there.", ("beta",))])
    suggester = SimpleNamespace(library=library)
    assert [s.sentence for s in past_elsewhere(suggester, root.as_uri())] == ["Beta there."]
    assert len(past_elsewhere(suggester, "untitled:Untitled-1")) == 2  # a buffer never saved is no source
