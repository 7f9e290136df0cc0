"""'May need a citation' in the editor, over JSON-RPC: the diagnostic, its quick fix, and when it is computed."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from citerec.lsp.citeworthy import NEEDS_CITATION
from tests.test_lsp import Buffer, client, edit_of, library_copy, workspace  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="module")

CLAIM = "Recent work by Vaswani et al. has shown that attention alone outperforms recurrent networks for translation."
TEXT = f"\\section{{Introduction}}\n{CLAIM}\nWe thank our colleagues for the coffee.|\n"


def _needs_citation(found: list[lsp.Diagnostic]) -> list[lsp.Diagnostic]:
    return [d for d in found if d.code == NEEDS_CITATION]


async def test_a_claim_without_citation_gets_a_diagnostic_and_a_quick_fix(
    client: LanguageClient,  # noqa: F811
    workspace: Path,  # noqa: F811
) -> None:
    doc = Buffer(client, workspace, "claims.tex", TEXT)
    found = _needs_citation(await doc.diagnostics(until=lambda f: bool(_needs_citation(f)), timeout=180))
    (diagnostic,) = found  # the claim, not the thanks
    assert diagnostic.severity == lsp.DiagnosticSeverity.Information
    assert diagnostic.message.startswith("may need a citation")
    assert diagnostic.range.start == doc.position_of("Recent work")
    context = lsp.CodeActionContext(diagnostics=[diagnostic], only=[lsp.CodeActionKind.QuickFix])
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(lsp.TextDocumentIdentifier(doc.uri), diagnostic.range, context)
    )
    fixes = [a for a in actions if a.diagnostics and a.diagnostics[0].code == NEEDS_CITATION]
    assert 1 <= len(fixes) <= 5 and fixes[0].is_preferred and "top suggestion" in fixes[0].title
    assert [a.is_preferred for a in fixes[1:]] == [False] * (len(fixes) - 1)
    top = edit_of(fixes[0])
    assert top.new_text.startswith("~\\cite{") and top.range.start == doc.position_of("translation.", 11)
    assert "vaswani2017attention" in {edit_of(a).new_text[7:-1] for a in fixes}


async def test_the_diagnostic_waits_for_a_save_after_an_edit(
    client: LanguageClient,  # noqa: F811
    workspace: Path,  # noqa: F811
) -> None:
    doc = Buffer(client, workspace, "edited.tex", TEXT)
    await doc.diagnostics(until=lambda f: bool(_needs_citation(f)), timeout=180)
    # Citing the claim by typing: the stale diagnostic goes with the next publish, and no check runs per keystroke.
    doc.replace(TEXT.replace("translation.", "translation \\cite{vaswani2017attention}."))
    assert _needs_citation(await doc.diagnostics(until=lambda f: not _needs_citation(f), timeout=180)) == []
    # Uncite it again and save: the check runs again.
    doc.replace(TEXT)
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(doc.uri)))
    assert _needs_citation(await doc.diagnostics(until=lambda f: bool(_needs_citation(f)), timeout=180))
