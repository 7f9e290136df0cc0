"""Completion latency of `citerec lsp` over JSON-RPC, against the in-process pipeline in the same run.

A real thesis chapter is opened in the language server (a child process on
stdio, driven by pygls' client as an editor would), with a library of about
2,000 entries (the thesis' own .bib pooled with other real .bib files), recall
only. The server reads the chapter's whole project (the root document that
includes it and every other chapter: the passages counted below), checks its
files and, with `--plan auto`, lets all of its citations choose the plan while
the completions run. The cursor is put inside each of the chapter's cite
commands in turn:

- server, new sentence: the first completion for a sentence (nothing cached:
  the recall cache is emptied first, so the query is embedded and recalled);
- server, keystroke: the argument emptied, then the first characters of its key
  typed one by one, each followed by a completion (what an editor sends on every
  keystroke while a key is typed);
- in process, new / cached: `Suggester.rank` on the very same query (the
  baseline: recall with nothing in between), cache emptied, then again;
- with the draft evidence: the completions start once the server has read the
  project's citing passages (it logs "… (the draft evidence)"), so each one ranks
  as a new passage of the project: the learned ranking over both plans' lists
  with what the other passages cite (the default; `--draft-evidence off` skips it).

Times are milliseconds per completion, warm (library and models loaded).

    python benchmarks/lsp_latency.py ../shared/eval/papers
    python benchmarks/lsp_latency.py PAPERS --library-dir /tmp/lsp-bench --passages 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import table  # noqa: E402

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # as the CLI sets it, so both sides tokenise alike

DEFAULT_DRAFT = "billington-thesis-cold-atoms/atomic_physics.tex"
DEFAULT_BIBS = (
    "billington-thesis-cold-atoms/zotero.bib",
    "dolson2019-modes-toolbox/paper/dolson_Zotero.bib",
    "sympy-paper/paper.bib",
    "amos-thesis-diffopt/refs.bib",
)


def empty_recall_cache(library_root: Path) -> None:
    """Forget every cached query vector and candidate list (a first visit to every sentence)."""
    from citerec.index.cache import CACHE_FILE

    path = library_root / CACHE_FILE
    if path.exists():
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM recall")
            conn.execute("DELETE FROM vectors")


def percentiles(samples: list[float]) -> tuple[float, float, float, float]:
    """p50, p95, mean and max."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, statistics.fmean(ordered), ordered[-1]


def cite_arguments(text: str, count: int) -> list[tuple[int, int]]:
    """(start, end) of the keys argument of `count` of the chapter's cite commands, spread over the chapter."""
    from citerec.latex.cites import find_citations
    from citerec.lsp.cursor import mask_comments

    found = [(c.arg_start, c.arg_end) for c in find_citations(mask_comments(text)) if c.keys and not c.is_nocite]
    step = max(1, len(found) // count)
    return found[::step][:count]


def in_process(library_root: Path, text: str, arguments: list[tuple[int, int]]) -> tuple[list[float], list[float]]:
    """`Suggester.rank` on the query the server would build, with the recall cache empty, then warm."""
    from citerec.latex import Context
    from citerec.library import Library
    from citerec.lsp.cursor import passage_at, passage_source
    from citerec.suggest import Suggester, SuggestOptions

    options = SuggestOptions(rerank="off", top_n=50, include_cited=True)
    suggester = Suggester(Library(library_root), options=options)
    index = suggester.index
    _ = index.embedder, index.bm25, index.dense
    contexts = []
    for offset, _ in arguments:
        passage = passage_at(*passage_source(text, offset)[::2])
        contexts.append(Context(0, passage.query if passage else "", "", "<buffer>", 1, 1, (), True))
    suggester.rank(contexts[:1], options)  # warm-up
    empty_recall_cache(library_root)
    timings: dict[str, list[float]] = {"new": [], "cached": []}
    for phase in ("new", "cached"):
        for context in contexts:
            started = time.perf_counter()
            suggester.rank([context], options)
            timings[phase].append((time.perf_counter() - started) * 1000)
    return timings["new"], timings["cached"]


async def over_json_rpc(
    library_root: Path,
    draft: Path,
    text: str,
    arguments: list[tuple[int, int]],
    keystrokes: int,
    plan: str,
    evidence: bool = False,
) -> tuple[list[float], list[float], float]:
    """Per cite command: empty its argument, complete (a new sentence), then type its first key a character
    at a time, completing after each (keystrokes); then put the argument back. `plan` goes to the server;
    with `evidence`, completions start once the server has read the project's draft evidence."""
    from lsprotocol import types as lsp
    from pygls.lsp.client import LanguageClient

    from citerec.lsp.positions import Positions

    client = LanguageClient("citerec-benchmark", "1")

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _diagnostics(params: lsp.PublishDiagnosticsParams) -> None: ...

    read = asyncio.Event()

    @client.feature(lsp.WINDOW_LOG_MESSAGE)
    def _log(params: lsp.LogMessageParams) -> None:
        if "(the draft evidence)" in params.message:
            read.set()

    # Like VS Code, Neovim and Helix: an item's abstract is fetched when the item is shown.
    completion = lsp.CompletionClientCapabilities(
        completion_item=lsp.ClientCompletionItemOptions(
            resolve_support=lsp.ClientCompletionItemResolveOptions(properties=["documentation", "detail"])
        )
    )
    capabilities = lsp.ClientCapabilities(text_document=lsp.TextDocumentClientCapabilities(completion=completion))
    command = ["-m", "citerec", "lsp", "--library-dir", str(library_root), "--no-workspace-bibs", "--poll", "0"]
    command += ["--plan", plan]
    started = time.perf_counter()
    await client.start_io(sys.executable, *command)
    await client.initialize_async(lsp.InitializeParams(capabilities=capabilities, root_uri=draft.parent.as_uri()))
    client.initialized(lsp.InitializedParams())
    uri = draft.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "latex", 1, text)))
    positions = Positions(text)
    version = 1

    async def complete(position: lsp.Position) -> float:
        begun = time.perf_counter()
        result = await client.text_document_completion_async(
            lsp.CompletionParams(lsp.TextDocumentIdentifier(uri), position)
        )
        assert result is not None and result.items, "no completion items"
        return (time.perf_counter() - begun) * 1000

    def change(start: lsp.Position, end: lsp.Position, new_text: str) -> None:
        nonlocal version
        version += 1
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(version, uri),
                [lsp.TextDocumentContentChangePartial(lsp.Range(start, end), new_text)],
            )
        )

    await complete(positions.position(arguments[0][0]))  # waits for the server to load library, index and models
    load_seconds = time.perf_counter() - started
    if evidence:
        await asyncio.wait_for(read.wait(), timeout=300)
    empty_recall_cache(library_root)
    new, keystroke = [], []
    for start, end in arguments:
        at, original = positions.position(start), text[start:end]
        change(at, positions.position(end), "")
        new.append(await complete(at))
        key = original.split(",")[0].strip()[:keystrokes]
        for typed, char in enumerate(key):
            here = lsp.Position(at.line, at.character + typed)
            change(here, here, char)
            keystroke.append(await complete(lsp.Position(at.line, at.character + typed + 1)))
            if os.environ.get("CITEREC_BENCH_TRACE") and keystroke[-1] > 200:
                print(f"slow keystroke: {keystroke[-1]:.0f} ms at {key[: typed + 1]!r}", file=sys.stderr)
        change(at, lsp.Position(at.line, at.character + len(key)), original)  # the chapter as it was
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return new, keystroke, load_seconds


def project_summary(draft: Path, text: str) -> str:
    """The project the server reads for this chapter, as it reads it: files, passages (sentences), citing ones."""
    from citerec.latex import extract_contexts
    from citerec.lsp.project import read_project

    project = read_project(draft, text)
    if project.draft is None:
        return f"project: {draft.name} alone (its root could not be read)"
    passages = extract_contexts(project.draft, all_sentences=True)
    citing = sum(1 for c in passages if c.cited_keys)
    return (
        f"project: {project.root.name} ({project.how}), {len(project.files)} files, "
        f"{len(passages)} passages, {citing} citing"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("papers", type=Path, help="the shared eval papers folder")
    parser.add_argument("--draft", default=DEFAULT_DRAFT, help="chapter to open, relative to PAPERS")
    parser.add_argument("--bib", action="append", help="library .bib, relative to PAPERS (repeatable)")
    parser.add_argument("--library-dir", type=Path, help="library folder to reuse (default: a new temporary one)")
    parser.add_argument("--passages", type=int, default=40, help="cite commands completed in")
    parser.add_argument("--keystrokes", type=int, default=3, help="characters typed into each key")
    args = parser.parse_args()

    from citerec.index import ensure_index
    from citerec.suggest import open_library

    draft = (args.papers / args.draft).resolve()
    bibs = [args.papers / b for b in (args.bib or DEFAULT_BIBS)]
    root = args.library_dir or Path(tempfile.mkdtemp(prefix="citerec-lsp-bench-")) / ".citerec"
    started = time.perf_counter()
    library, _ = open_library(root, bib=bibs)
    ensure_index(library)
    prepared = time.perf_counter() - started
    text = draft.read_text(encoding="utf-8")
    arguments = cite_arguments(text, args.passages)
    print(f"library: {len(library)} papers in {root} (import + index {prepared:.1f} s); draft {draft.name}")
    print(project_summary(draft, text))
    print(f"{len(arguments)} cite commands, {args.keystrokes} keystrokes each, recall only\n")

    base_new, base_cached = in_process(root, text, arguments)
    new, keystroke, load_seconds = asyncio.run(over_json_rpc(root, draft, text, arguments, args.keystrokes, "passage"))
    # The default: on open the server also lets the chapter's citations choose its plan, in the background,
    # while these completions run. That choice recalls the chapter's cited sentences, so some "new" sentences
    # below find their vectors cached: read this row for interference (p95, max), not for a cold sentence.
    new_auto, keystroke_auto, _ = asyncio.run(over_json_rpc(root, draft, text, arguments, args.keystrokes, "auto"))
    # The same once the project's citing passages are read (on open): every completion ranks with the draft
    # evidence (learned ranking, the window plan's list too), while the plan is still being chosen.
    run = over_json_rpc(root, draft, text, arguments, args.keystrokes, "auto", evidence=True)
    new_evidence, keystroke_evidence, _ = asyncio.run(run)
    rows = []
    base_new_p95 = percentiles(base_new)[1]
    for name, samples in (
        ("in process, new sentence (baseline)", base_new),
        ("in process, cached", base_cached),
        ("server over JSON-RPC, new sentence (--plan passage)", new),
        ("server over JSON-RPC, keystroke in a key (--plan passage)", keystroke),
        ("server, new sentence, plan chosen meanwhile (--plan auto)", new_auto),
        ("server, keystroke, plan chosen meanwhile (--plan auto)", keystroke_auto),
        ("server, new sentence, with the draft evidence (--plan auto)", new_evidence),
        ("server, keystroke, with the draft evidence (--plan auto)", keystroke_evidence),
    ):
        p50, p95, mean, most = percentiles(samples)
        ratio = f"{p95 / base_new_p95:.2f}"
        rows.append([name, len(samples), f"{p50:.1f}", f"{p95:.1f}", f"{mean:.1f}", f"{most:.1f}", ratio])
    print(table(["completion", "n", "p50 ms", "p95 ms", "mean ms", "max ms", "p95 / baseline p95"], rows))
    print(f"\nserver start to first answer (library, index and MiniLM loaded): {load_seconds:.1f} s")


if __name__ == "__main__":
    main()
