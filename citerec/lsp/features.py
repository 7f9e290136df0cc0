"""What the server answers, as LSP values: completion items, missing-key diagnostics, code actions.

Plain functions of the editor session and one version of a buffer; they run on the
server's worker thread, never on the message loop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lsprotocol import types as lsp

from citerec.lsp import cursor
from citerec.lsp.editor import EditorSession, Ranked
from citerec.lsp.evidence import Where
from citerec.lsp.positions import Positions
from citerec.lsp.render import abstract_markdown, detail, escape, why_markdown
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


def missing_key_diagnostics(editor: EditorSession, text: str, positions: Positions) -> list[lsp.Diagnostic]:
    """A warning on every cited key the library does not hold."""
    spans = cursor.document_key_spans(text)
    missing = editor.missing({span.key for span in spans})
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


@dataclass(frozen=True)
class Entry:
    """A key offered in a completion: its paper, whether it was ranked for the sentence, and why."""

    key: str
    paper: Paper | None
    ranked: bool
    why: tuple[str, ...] = ()


def completion_entries(
    editor: EditorSession,
    source: str,
    at: int,
    site: cursor.CiteSite,
    plan: str = "passage",
    where: Where | None = None,
) -> list[Entry]:
    """The keys to offer: those ranked for the sentence (read with the buffer's `plan`, with its project's
    evidence `where` the cursor is), then other keys holding the typed prefix."""
    passage = _passage(source, at, editor.options.neighbours)
    ranked: tuple[Ranked, ...] = (
        editor.rank(passage.query, sentence=passage.sentence, wide=passage.wide, plan=plan, where=where)
        if passage
        else ()
    )
    taken = {k.lower() for k in site.keys} - {site.current.lower()}  # keys the argument already has
    entries = [Entry(r.key, r.paper, True, r.why) for r in ranked if r.key.lower() not in taken]
    if site.prefix:
        shown = {entry.key.lower() for entry in entries}
        extra = [k for k in editor.keys_containing(site.prefix, MAX_PREFIX_MATCHES) if k.lower() not in shown]
        papers = editor.papers(extra)
        entries += [Entry(k, papers.get(k), False) for k in extra]
    return entries


def documentation(paper: Paper | None, why: tuple[str, ...] = ()) -> lsp.MarkupContent | None:
    """What supported the suggestion (`why`), then the abstract; None when there is neither."""
    parts = [why_markdown(why)] if why else []
    if paper and paper.abstract:
        parts.append(abstract_markdown(paper))
    return lsp.MarkupContent(lsp.MarkupKind.Markdown, "\n\n".join(parts)) if parts else None


def completion_item(entry: Entry, number: int, edit_range: lsp.Range, lazy: bool) -> lsp.CompletionItem:
    """One key offered; with `lazy`, its documentation (why, abstract) is sent when the editor shows the item
    (`completionItem/resolve`)."""
    key, paper = entry.key, entry.paper
    return lsp.CompletionItem(
        label=key,
        kind=lsp.CompletionItemKind.Reference,
        detail=detail(paper) if paper else None,
        documentation=None if lazy else documentation(paper, entry.why),
        data=({"key": key} | ({"why": list(entry.why)} if entry.why else {})) if lazy else None,
        label_details=lsp.CompletionItemLabelDetails(description=f"#{number + 1}" if entry.ranked else None),
        sort_text=f"{number:05d}",
        filter_text=key,
        text_edit=lsp.TextEdit(edit_range, key),
    )


def no_library_item(error: str | None, found: list[str], typed: str, edit_range: lsp.Range) -> lsp.CompletionItem:
    """The one item offered while there is no library: it changes nothing, and says why and where it looked."""
    lines = [f"**citerec has no library**: {escape(error or 'it is still loading')}", "", "Looked at:"]
    lines += [f"- {escape(line)}" for line in found] or ["- nothing yet (no document opened)"]
    lines += ["", "Name a .bib with `\\bibliography{}` or `\\addbibresource{}`, or run `citerec lsp --bib refs.bib`."]
    return lsp.CompletionItem(
        label="citerec: no library",
        kind=lsp.CompletionItemKind.Text,
        documentation=lsp.MarkupContent(lsp.MarkupKind.Markdown, "\n".join(lines)),
        filter_text=typed or "citerec",
        sort_text="00000",
        text_edit=lsp.TextEdit(edit_range, typed),
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


def _title_of(paper: Paper | None) -> str:
    return paper.title.strip() if paper and paper.title.strip() else ""


def _removal(text: str, span: cursor.KeySpan) -> tuple[int, int, str]:
    """(start, end, title) of the edit that removes a cited key: with its comma, or the whole command (and the
    `~` or spaces before it) when it is the command's only key."""
    before = span.start
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    if before > 0 and text[before - 1] == ",":
        return before - 1, span.end, f"Remove '{span.key}' from the citation"
    after = span.end
    while after < len(text) and text[after] in " \t":
        after += 1
    if after < len(text) and text[after] == ",":
        after += 1
        while after < len(text) and text[after] in " \t":
            after += 1
        return span.start, after, f"Remove '{span.key}' from the citation"
    cit = span.citation
    start = cit.start
    while start > 0 and text[start - 1] in " \t~":
        start -= 1
    return start, cit.end, f"Remove {text[cit.start : cit.end]}"


def key_fixes(
    editor: EditorSession,
    uri: str,
    text: str,
    positions: Positions,
    span: cursor.KeySpan,
    diagnostic: lsp.Diagnostic | None,
) -> list[lsp.CodeAction]:
    """What to do with a key the library does not hold: replace it with a close library key, or remove it."""
    fixes = []
    key_range = positions.range(span.start, span.end)
    for paper, similar in editor.closest(span.key):
        title = _title_of(paper)
        fixes.append(
            lsp.CodeAction(
                title=f"Replace '{span.key}' with '{paper.key}'" + (f" — {title}" if title else ""),
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diagnostic] if diagnostic else None,
                is_preferred=similar or None,  # a likely typo; a key found by its words is only a guess
                edit=_edit(uri, key_range, paper.key),
            )
        )
    start, end, title = _removal(text, span)
    fixes.append(
        lsp.CodeAction(
            title=title,
            kind=lsp.CodeActionKind.QuickFix,
            diagnostics=[diagnostic] if diagnostic else None,
            edit=_edit(uri, positions.range(start, end), ""),
        )
    )
    return fixes


def _one_meaning(actions: list[lsp.CodeAction]) -> list[lsp.CodeAction]:
    """No two actions with the same edit, and only the first preferred one stays preferred."""
    kept: list[lsp.CodeAction] = []
    seen: set[str] = set()
    preferred = False
    for action in actions:
        edits = action.edit.changes if action.edit and action.edit.changes else {}
        signature = repr(sorted((uri, repr(e)) for uri, es in edits.items() for e in es))
        if signature in seen:
            continue
        seen.add(signature)
        if action.is_preferred and preferred:
            action.is_preferred = None
        preferred = preferred or bool(action.is_preferred)
        kept.append(action)
    return kept


def code_actions(
    editor: EditorSession,
    uri: str,
    text: str,
    positions: Positions,
    params: lsp.CodeActionParams,
    plan: str = "passage",
    where: Where | None = None,
) -> list[lsp.CodeAction]:
    """Fixes for keys missing from the library; else citations for the placeholder or the sentence at the cursor.

    On a missing key (the editor's diagnostics, or the cursor on it) only that key is fixed, replaced or
    removed: a citation appended after the sentence would leave the bad key in place.
    """
    offset = positions.offset(params.range.start)
    actions: list[lsp.CodeAction] = []
    fixed: set[int] = set()
    for diagnostic in params.context.diagnostics:
        if diagnostic.source != SOURCE or diagnostic.code != MISSING_KEY:
            continue
        span = cursor.key_at(text, positions.offset(diagnostic.range.start))
        if span is not None and span.start not in fixed and editor.missing([span.key]):
            fixed.add(span.start)
            actions += key_fixes(editor, uri, text, positions, span, diagnostic)
    here = cursor.key_at(text, offset)
    if here is not None and here.start not in fixed and editor.missing([here.key]):
        fixed.add(here.start)
        actions += key_fixes(editor, uri, text, positions, here, None)
    if fixed:
        return _one_meaning(actions)
    return _one_meaning(citation_actions(editor, uri, text, positions, offset, plan, where))


def citation_actions(
    editor: EditorSession,
    uri: str,
    text: str,
    positions: Positions,
    offset: int,
    plan: str,
    where: Where | None = None,
) -> list[lsp.CodeAction]:
    """The top suggestions for the placeholder at the cursor (the first preferred), or to cite its sentence."""
    citation = cursor.citation_at(text, offset)
    # From inside a cite argument, read the sentence from the command's start: the buffer as it is, so
    # offsets in the passage are offsets in the buffer.
    site = cursor.cite_at(text, offset)
    source, base, at = cursor.passage_source(text, site.start if site else offset)
    passage = _passage(source, at, editor.options.neighbours)
    if passage is None:
        return []
    ranked = [
        r
        for r in editor.rank(passage.query, sentence=passage.sentence, wide=passage.wide, plan=plan, where=where)
        if r.key not in passage.cited_keys
    ][:ACTIONS_LISTED]
    actions = []
    for number, item in enumerate(ranked, 1):
        if citation is not None and citation.placeholder and citation.command:
            # \cite{?} or \cite{known,?}: fill the argument, keeping the keys already there
            a, b = citation.arg_start, citation.arg_end
            new_text = ",".join((*citation.keys, item.key))
            result = text[citation.start : a] + new_text + text[b : citation.end]
            verb, kind = f"Replace {text[citation.start : citation.end]} with {result}", lsp.CodeActionKind.QuickFix
        elif citation is not None and citation.placeholder:  # [cite], \cn, \todo{cite}: becomes a \cite
            a, b, new_text = citation.start, citation.end, f"\\cite{{{item.key}}}"
            verb, kind = f"Replace {text[a:b]} with {new_text}", lsp.CodeActionKind.QuickFix
        else:
            a = b = sentence_end(text, base + passage.start, base + passage.end)
            new_text = f"~\\cite{{{item.key}}}"
            verb, kind = f"Add {new_text} at the end of the sentence", lsp.CodeActionKind.RefactorRewrite
        title = _title_of(item.paper)
        actions.append(
            lsp.CodeAction(
                title=f"{verb} (#{number}" + (f": {title})" if title else ")"),
                kind=kind,
                is_preferred=(number == 1 and kind == lsp.CodeActionKind.QuickFix) or None,
                edit=_edit(uri, positions.range(a, b), new_text),
            )
        )
    return actions
