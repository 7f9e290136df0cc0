"""`citerec suggest DRAFT...`: suggestions for drafts as tables, JSON, annotated .tex or BibTeX.

Several drafts share one library, index and reranker, and all their passages
are ranked in one pass (with `--engine ray`, one pass over the actor pool).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from citerec.cli.common import (
    AllowOutsideIncludesOption,
    BackendOption,
    EmbedderOption,
    LibraryDirOption,
    ModeOption,
    RecallArgs,
    RerankerOption,
    RerankOption,
    StrictOption,
    announce_embedder,
    command_options,
    console,
    emit,
    fail,
    read_named_draft,
    read_warnings_caption,
    recall_options,
    rich_progress,
    stdout_console,
    user_errors,
    warn,
)
from citerec.cli.engine import EngineOption, GpusOption, RayAddressOption, WorkersOption, engine_config
from citerec.cli.enrich import MailtoOption, SourceOption, enrich_after_import
from citerec.rerank import DEFAULT_RERANKER
from citerec.suggest import Suggester, SuggestResult, open_library

if TYPE_CHECKING:
    from citerec.latex import Draft

FORMATS = ("table", "json", "tex", "bib")


@recall_options
def suggest(
    drafts: Annotated[
        list[str],
        typer.Argument(
            help="The draft(s): .tex files (includes are followed), .txt/.md abstracts, or - (stdin, alone).",
            show_default=False,
        ),
    ],
    bib: Annotated[
        list[Path],
        typer.Option(
            "--bib", "-b", help="BibTeX file(s) to import into the library first (only changes are re-indexed)."
        ),
    ] = [],  # noqa: B006
    enrich: Annotated[
        bool, typer.Option("--enrich", help="Fill what the library's entries leave out first (`library enrich`).")
    ] = False,
    source: SourceOption = None,
    mailto: MailtoOption = None,
    library_dir: LibraryDirOption = None,
    top: Annotated[int, typer.Option("--top", "-n", help="Suggestions per passage.")] = 5,
    rerank: RerankOption = "auto",
    reranker: RerankerOption = DEFAULT_RERANKER,
    backend: BackendOption = "hf",
    instruction: Annotated[
        str | None, typer.Option(help="Override the reranker's citation-domain instruction.")
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Minimum score to keep a suggestion (default 0.05 when reranked, none otherwise)."),
    ] = None,
    include_cited: Annotated[
        bool, typer.Option("--include-cited", help="Also suggest keys already cited in that passage.")
    ] = False,
    mode: ModeOption = "sentence",
    all_sentences: Annotated[
        bool,
        typer.Option("--all-sentences", help="Look at every sentence, not only those with citations or placeholders."),
    ] = False,
    embedder: EmbedderOption = None,
    expand_url: Annotated[
        str | None, typer.Option(help="--expand llm: an OpenAI-compatible server (e.g. http://localhost:8001/v1).")
    ] = None,
    expand_model: Annotated[str | None, typer.Option(help="--expand llm: the model name the server knows.")] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table, json, tex or bib.")] = "table",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="tex: folder for the annotated copy (default: stdout for a single file); bib/json: file to write.",
        ),
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="tex: rewrite the draft files themselves (atomically).")
    ] = False,
    allow_outside_includes: AllowOutsideIncludesOption = False,
    strict: StrictOption = False,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
    gpus_per_worker: GpusOption = 0.0,
    *,
    recall: RecallArgs,
) -> None:
    """Suggest \\cite keys for each passage of one or more drafts."""
    if output_format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {output_format!r}")
    with user_errors():
        options = command_options(
            recall,
            top_n=top,
            rerank=rerank,
            reranker=reranker,
            backend=backend,
            instruction=instruction,
            threshold=threshold,
            include_cited=include_cited,
            mode=mode,
            all_sentences=all_sentences,
            embedder=embedder,
            allow_outside_includes=allow_outside_includes,
            strict=strict,
            engine=engine_config(engine, ray_address, workers, gpus_per_worker),
            expand_url=expand_url,
            expand_model=expand_model,
        )
        if "-" in drafts and len(drafts) > 1:
            fail("- (stdin) must be the only draft")
        if len(set(drafts)) < len(drafts):
            fail("a draft is given twice")
        for draft in drafts:
            if draft != "-" and not Path(draft).is_file():
                fail(f"{draft}: no such file")
        announce_embedder(embedder)
        with rich_progress() as progress:
            library, imports = open_library(library_dir, bib=bib, near=None if drafts[0] == "-" else Path(drafts[0]))
            for bib_import, _report in imports:
                for problem in bib_import.problems:
                    warn(str(problem))
            if enrich:
                enrich_after_import(library, source or [], mailto, progress)
            parsed = [read_named_draft(draft, allow_outside_includes, strict, bib) for draft in drafts]
            suggester = Suggester(library, options=options, progress=progress)
            results = suggester.suggest_paths(parsed)
        _warn_notes(results, suggester.load_notes)
        if output_format == "table":
            for result in results:
                _print_table(result)
        elif output_format == "json":
            payload = results[0].to_json() if len(results) == 1 else [result.to_json() for result in results]
            _write(json.dumps(payload, indent=2, ensure_ascii=False), output)
        elif output_format == "bib":
            _write(_bibtex_for_new(results, library, bib), output)
        else:
            _write_tex(results, parsed, output, in_place)


def _warn_notes(results: list[SuggestResult], load_notes: tuple[str, ...]) -> None:
    """Each note once; with several drafts, a draft's own notes name it."""
    seen: set[str] = set()
    for result in results:
        for note in result.notes:
            text = note if len(results) == 1 or note in load_notes else f"{result.source}: {note}"
            if text not in seen:
                seen.add(text)
                warn(text)


def _write(text: str, output: Path | None) -> None:
    from citerec.storage import atomic_write_text

    if output is None:
        emit(text)
    else:
        atomic_write_text(output, text if text.endswith("\n") else text + "\n")
        console.print(f"wrote {output}")


def _print_table(result: SuggestResult) -> None:
    """One section per passage: where it is and what it says, then its ranked suggestions."""
    how = f"reranked by {result.reranker}" if result.reranked else "recall only, not reranked; score: share of the top"
    table = Table(
        title=f"Suggestions for {result.source} ({how})",
        title_justify="left",
        expand=True,
        caption=read_warnings_caption(result.warnings),
        caption_justify="left",
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("key", no_wrap=True, overflow="fold")
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("paper", ratio=1, overflow="fold")
    for item in result.contexts:
        ctx = item.context
        sentence = ctx.sentence if len(ctx.sentence) <= 240 else ctx.sentence[:237] + "..."
        flag = " [magenta]\\cite{?}[/]" if ctx.placeholder else ""
        cites = f" [dim](cites {', '.join(ctx.cited_keys)})[/]" if ctx.cited_keys else ""
        header = f"[bold cyan]{escape(ctx.file)}:{ctx.line_start}[/]{flag} {escape(sentence)}{cites}"
        table.add_row("", "", "", header)
        if item.expanded_query:
            table.add_row("", "", "", f"[dim]expanded: {escape(item.expanded_query)}[/]")
        if not item.suggestions:
            table.add_row("", "[dim]none above the threshold[/]", "", "", end_section=True)
            continue
        for number, suggestion in enumerate(item.suggestions, start=1):
            table.add_row(
                str(number),
                f"[green]{escape(suggestion.key)}[/]",
                f"{suggestion.confidence:.0%}" if not result.reranked else f"{suggestion.confidence:.3f}",
                escape(suggestion.title) + (f"\n[dim]{escape('; '.join(suggestion.why))}[/]" if suggestion.why else ""),
                end_section=number == len(item.suggestions),
            )
    stdout_console.print(table)


def _bibtex_for_new(results: list[SuggestResult], library, bib: list[Path]) -> str:
    """BibTeX for suggested papers that the user's .bib files do not have yet."""
    from citerec.ingest import papers_to_bibtex, read_bibtex
    from citerec.papers import normalise_key

    if bib:
        known = {normalise_key(p.key) for path in bib for p in read_bibtex(path).papers}
    else:
        known = {normalise_key(p.key) for p in library.papers() if p.source.startswith("bibtex:")}
    keys = dict.fromkeys(key for result in results for key in result.suggested_keys())
    papers = [library.get(key) for key in keys if normalise_key(key) not in known]
    if not papers:
        console.print("every suggested paper is already in your .bib")
    return papers_to_bibtex([p for p in papers if p is not None])


def _write_tex(results: list[SuggestResult], parsed: list[Draft], output: Path | None, in_place: bool) -> None:
    from citerec.texout import annotate, write_annotated

    outputs: dict[Path, str] = {}
    for result, draft in zip(results, parsed, strict=True):
        if not draft.main.is_file():
            fail("--format tex needs a draft file, not stdin")
        keys = {item.context.id: [s.key for s in item.suggestions] for item in result.contexts if item.suggestions}
        for path, text in annotate(draft, keys, mode=result.options.mode).items():
            if outputs.get(path, text) != text:
                fail(f"{path} is included by several drafts: annotate them one at a time")
            outputs[path] = text
    if in_place or output is not None:
        written = write_annotated(outputs, in_place=in_place, out_dir=output)
        for path in written:
            console.print(f"wrote {path}")
        return
    if len(parsed) > 1:
        fail("--format tex with several drafts needs --output DIR (or --in-place)")
    main = parsed[0].main
    if set(outputs) - {main}:
        fail("the suggestions touch included files too: pass --output DIR (or --in-place)")
    emit(outputs.get(main, main.read_text(encoding="utf-8")))
