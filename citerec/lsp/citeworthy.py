""" "May need a citation" in the editor: cite-worthiness diagnostics and their quick fixes.

A check reads the whole buffer, embeds every sentence and recalls for each, so it
runs when a document is opened or saved (debounced), never per keystroke. Its
diagnostics are kept with the text they cover and published with the
missing-key ones while that text is unchanged; an edit inside a sentence drops
its diagnostic until the next save. Each diagnostic carries its suggestions, so
its quick fix needs no second ranking.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from citerec.lsp.features import ACTIONS_LISTED, SOURCE, sentence_end
from citerec.lsp.positions import Positions

if TYPE_CHECKING:
    from citerec.lsp.editor import EditorSession

NEEDS_CITATION = "needs-citation"
CHECK_DELAY = 1.0  # seconds: an open followed by saves (or saves in a row) runs one check


@dataclasses.dataclass(frozen=True)
class Found:
    """One diagnostic and the buffer text it was computed on (start, end, that text)."""

    diagnostic: lsp.Diagnostic
    start: int
    end: int
    text: str


def check_diagnostics(editor: EditorSession, text: str, positions: Positions) -> list[Found]:
    """An Information diagnostic on every sentence of the buffer that likely needs a citation."""
    from citerec.check import CheckOptions, check_text

    assert editor.suggester is not None
    suggest = dataclasses.replace(editor.options, top_n=ACTIONS_LISTED)
    options = CheckOptions(top_n=ACTIONS_LISTED, suggest=suggest)
    result = check_text(editor.suggester, text, is_tex=True, options=options, between=editor.schedule.after_rankings)
    main = next((s.file for s in result.sentences), "")
    found = []
    for sentence in result.flagged():
        if sentence.file != main:
            continue
        at = positions.position(sentence_end(text, sentence.start, sentence.end))
        keys = [s.key for s in sentence.suggestions]
        hint = f"; top suggestion: {keys[0]}" if keys else ""
        diagnostic = lsp.Diagnostic(
            range=positions.range(sentence.start, sentence.end),
            message=f"may need a citation ({sentence.score:.0%}){hint}",
            severity=lsp.DiagnosticSeverity.Information,
            source=SOURCE,
            code=NEEDS_CITATION,
            data={"keys": keys, "titles": [s.title for s in sentence.suggestions], "at": [at.line, at.character]},
        )
        found.append(Found(diagnostic, sentence.start, sentence.end, text[sentence.start : sentence.end]))
    return found


def citation_actions(uri: str, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    """For each "may need a citation" diagnostic: insert the top suggestion (the quick fix), or one of five."""
    actions: list[lsp.CodeAction] = []
    for diagnostic in params.context.diagnostics:
        if diagnostic.source != SOURCE or diagnostic.code != NEEDS_CITATION:
            continue
        data: dict[str, Any] = diagnostic.data if isinstance(diagnostic.data, dict) else {}
        keys, titles = list(data.get("keys") or []), list(data.get("titles") or [])
        line, character = data.get("at") or (diagnostic.range.end.line, diagnostic.range.end.character)
        here = lsp.Position(int(line), int(character))

        def edit(key: str, here: lsp.Position = here) -> lsp.WorkspaceEdit:
            return lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(lsp.Range(here, here), f"~\\cite{{{key}}}")]})

        for number, key in enumerate(keys[:ACTIONS_LISTED]):
            title = titles[number].strip() if number < len(titles) and titles[number] else ""
            label = f"{key} — {title}" if title else key
            actions.append(
                lsp.CodeAction(
                    title=f"citerec: cite the top suggestion {label}"
                    if number == 0
                    else f"citerec: cite #{number + 1} {label}",
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    is_preferred=number == 0,
                    edit=edit(key),
                )
            )
    return actions


class Citeworthiness:
    """Per buffer: the last check's diagnostics and the check waiting to run."""

    def __init__(self, server: Any) -> None:
        self.server = server  # the CiterecServer: its editor session and buffers
        self.found: dict[str, list[Found]] = {}
        self.tasks: dict[str, asyncio.Task] = {}

    def schedule(self, uri: str, delay: float = CHECK_DELAY) -> None:
        """Check `uri` after `delay` seconds; a later call restarts the wait (debounce)."""
        if not self.server.is_tex(uri):
            return
        old = self.tasks.pop(uri, None)
        if old is not None:
            old.cancel()
        self.tasks[uri] = asyncio.ensure_future(self._run(uri, delay))

    async def _run(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        editor = await self.server.ready_editor()
        if editor is None or uri not in self.server.workspace.text_documents:
            return
        text, version, positions = self.server.buffer(uri)
        found = await asyncio.wrap_future(editor.in_background(check_diagnostics, editor, text, positions))
        if uri in self.server.workspace.text_documents:
            self.found[uri] = found
            self.server.schedule_diagnostics(uri, 0)

    def current(self, uri: str, text: str) -> list[lsp.Diagnostic]:
        """The diagnostics whose sentence is still there, unchanged, in `text`."""
        return [f.diagnostic for f in self.found.get(uri, []) if text[f.start : f.end] == f.text]

    def forget(self, uri: str) -> None:
        task = self.tasks.pop(uri, None)
        if task is not None:
            task.cancel()
        self.found.pop(uri, None)
