"""What the server answers, as LSP values: completion items, missing-key diagnostics, code actions.

Plain functions of the engine and one version of a buffer; they run on the
server's worker thread, never on the message loop.
"""

from __future__ import annotations

import functools

from lsprotocol import types as lsp

from citerec.lsp import cursor
from citerec.lsp.engine import Engine, Ranked
from citerec.lsp.positions import Positions
from citerec.lsp.render import abstract_markdown, detail
from citerec.papers import Paper

SOURCE = "citerec"
MISSING_KEY = "missing-key"
READ_WARNING = "read-warning"
ACTIONS_LISTED = 5
MAX_PREFIX_MATCHES = 100  # keys holding the typed text offered besides the ranked ones


@functools.lru_cache(maxsize=256)
def _passage(source: str, at: int, neighbours: int) -> cursor.Passage | None:
    """The sentence at a cursor, kept while the paragraph (as `passage_source` gives it) does not change."""
    return cursor.passage_at(source, at, neighbours=neighbours)


def missing_key_diagnostics(engine: Engine, text: str, positions: Positions) -> list[lsp.Diagnostic]:
    """A warning on every cited key the library does not hold."""
    spans = cursor.document_key_spans(text)
    missing = engine.missing({span.key for span in spans})
    return [
        lsp.Diagnostic(
            range=positions.range(span.start, span.end),
            message=f"'{span.key}' is not in the citerec library",
            severity=lsp.DiagnosticSeverity.Warning,
            source=SOURCE,
            code=MISSING_KEY,
            data={"key": span.key},
        )
        for span in spans
        if span.key in missing
    ]


def read_warning_diagnostics(text: str, positions: Positions) -> list[lsp.Diagnostic]:
    """A warning on each line where reading the buffer met damage (a '{' never closed, ...) and recovered."""
    from citerec.errors import CiterecError
    from citerec.latex import read_draft

    try:
        warnings = read_draft("<buffer>", text=text, is_tex=True).warnings
    except CiterecError:  # not a draft at all (binary, ...): nothing to say per line
        return []
    diagnostics = []
    for warning in warnings:
        line = min(warning.line, len(positions.starts)) - 1
        start = positions.starts[line]
        end = text.find("\n", start)
        diagnostics.append(
            lsp.Diagnostic(
                range=positions.range(start, len(text) if end < 0 else end),
                message=warning.message,
                severity=lsp.DiagnosticSeverity.Warning,
                source=SOURCE,
                code=READ_WARNING,
            )
        )
    return diagnostics


def completion_entries(
    engine: Engine, source: str, at: int, site: cursor.CiteSite, plan: str = "passage"
) -> list[tuple[str, Paper | None, bool]]:
    """(key, paper, ranked) to offer: the keys ranked for the sentence (read with the buffer's `plan`), then
    other keys holding the typed prefix."""
    passage = _passage(source, at, engine.options.neighbours)
    ranked: tuple[Ranked, ...] = (
        engine.rank(passage.query, sentence=passage.sentence, wide=passage.wide, plan=plan) if passage else ()
    )
    taken = {k.lower() for k in site.keys} - {site.current.lower()}  # keys the argument already has
    entries = [(r.key, r.paper, True) for r in ranked if r.key.lower() not in taken]
    if site.prefix:
        shown = {key.lower() for key, _, _ in entries}
        extra = [k for k in engine.keys_containing(site.prefix, MAX_PREFIX_MATCHES) if k.lower() not in shown]
        papers = engine.papers(extra)
        entries += [(k, papers.get(k), False) for k in extra]
    return entries


def documentation(paper: Paper | None) -> lsp.MarkupContent | None:
    return lsp.MarkupContent(lsp.MarkupKind.Markdown, abstract_markdown(paper)) if paper and paper.abstract else None


def completion_item(
    key: str, paper: Paper | None, number: int, ranked: bool, edit_range: lsp.Range, lazy: bool
) -> lsp.CompletionItem:
    """One key offered; with `lazy`, its abstract is sent when the editor shows the item (`completionItem/resolve`)."""
    return lsp.CompletionItem(
        label=key,
        kind=lsp.CompletionItemKind.Reference,
        detail=detail(paper) if paper else None,
        documentation=None if lazy else documentation(paper),
        data={"key": key} if lazy else None,
        label_details=lsp.CompletionItemLabelDetails(description=f"#{number + 1}" if ranked else None),
        sort_text=f"{number:05d}",
        filter_text=key,
        text_edit=lsp.TextEdit(edit_range, key),
    )


def sentence_end(text: str, start: int, end: int) -> int:
    """Where a citation goes in a sentence: before its final punctuation, after its last word."""
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    if end > start and text[end - 1] in ".?!;:":
        end -= 1
    return end


def _edit(uri: str, edit_range: lsp.Range, new_text: str) -> lsp.WorkspaceEdit:
    return lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(edit_range, new_text)]})


def _label(ranked: Ranked) -> str:
    title = ranked.paper.title.strip() if ranked.paper else ""
    return f"{ranked.key} — {title}" if title else ranked.key


def code_actions(
    engine: Engine, uri: str, text: str, positions: Positions, params: lsp.CodeActionParams
) -> list[lsp.CodeAction]:
    """Quick fixes for missing keys, and citations for the placeholder or the sentence at the cursor."""
    actions: list[lsp.CodeAction] = []
    for diagnostic in params.context.diagnostics:
        if diagnostic.source != SOURCE or diagnostic.code != MISSING_KEY:
            continue
        data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
        start, end = positions.offset(diagnostic.range.start), positions.offset(diagnostic.range.end)
        key = data.get("key") or text[start:end]
        for number, paper in enumerate(engine.closest(key)):
            actions.append(
                lsp.CodeAction(
                    title=f"Replace '{key}' with {paper.key} — {paper.title.strip()}",
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    is_preferred=number == 0,
                    edit=_edit(uri, diagnostic.range, paper.key),
                )
            )
    offset = positions.offset(params.range.start)
    citation = cursor.citation_at(text, offset)
    # From inside a cite argument, read the sentence from the command's start: the buffer as it is, so
    # offsets in the passage are offsets in the buffer.
    site = cursor.cite_at(text, offset)
    source, base, at = cursor.passage_source(text, site.start if site else offset)
    passage = _passage(source, at, engine.options.neighbours)
    if passage is None:
        return actions
    ranked = [
        r
        for r in engine.rank(passage.query, sentence=passage.sentence, wide=passage.wide, plan=engine.plan_for(uri))
        if r.key not in passage.cited_keys
    ]
    ranked = ranked[:ACTIONS_LISTED]
    if citation is not None and citation.placeholder:
        if citation.command:  # \cite{?} or \cite{known,?}: fill the argument, keeping the keys already there
            edit_range = positions.range(citation.arg_start, citation.arg_end)
            new_text = lambda key: ",".join((*citation.keys, key))  # noqa: E731
        else:  # [cite], \cn, \todo{cite}: the placeholder becomes a \cite
            edit_range = positions.range(citation.start, citation.end)
            new_text = lambda key: f"\\cite{{{key}}}"  # noqa: E731
        kind, verb = lsp.CodeActionKind.QuickFix, "Fill placeholder with"
    else:
        at_end = sentence_end(text, base + passage.start, base + passage.end)
        edit_range = positions.range(at_end, at_end)
        new_text = lambda key: f"~\\cite{{{key}}}"  # noqa: E731
        kind, verb = lsp.CodeActionKind.RefactorRewrite, "Cite"
    if ranked:
        top = ranked[0]
        actions.append(
            lsp.CodeAction(
                title=f"citerec: insert top suggestion {_label(top)}",
                kind=kind,
                is_preferred=True,
                edit=_edit(uri, edit_range, new_text(top.key)),
            )
        )
    for number, item in enumerate(ranked, 1):
        actions.append(
            lsp.CodeAction(
                title=f"citerec: {verb} #{number} {_label(item)}",
                kind=kind,
                edit=_edit(uri, edit_range, new_text(item.key)),
            )
        )
    return actions
