"""`citerec library …`: import BibTeX / Zotero / arXiv, list, get, export, remove, learn from your drafts.

A thin layer over `citerec.ingest` and `citerec.Library`: parse options, call
the library, print a summary on stderr (machine output on stdout only).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from citerec.cli.common import (
    AllowOutsideIncludesOption,
    LibraryDirOption,
    StrictOption,
    console,
    emit,
    fail,
    read_named_draft,
    rich_progress,
    stdout_console,
    user_errors,
    warn,
)
from citerec.cli.enrich import MailtoOption, SourceOption
from citerec.cli.enrich import enrich as enrich_command
from citerec.library import AddReport, Library, default_library_dir

app = typer.Typer(
    help="Manage the paper library (import BibTeX, Zotero and arXiv, enrich, list, export, remove, learn from your drafts).",
    no_args_is_help=True,
)
app.command("enrich")(enrich_command)


def _open(library_dir: Path | None) -> Library:
    return Library(library_dir or default_library_dir())


def _summary(added: int, updated: int, unchanged: int, duplicates: int) -> str:
    return f"{added} added, {updated} updated, {unchanged} unchanged, {duplicates} duplicates"


def _report_summary(report: AddReport) -> str:
    return _summary(len(report.added), len(report.updated), len(report.unchanged), len(report.duplicates))


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="BibTeX files (@strings carry over from one file to the next).")],
    strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero if any entry had a problem.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Read every file again, even those unchanged since their last import.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Worker processes for parsing many files (default: $CITEREC_JOBS, else one per CPU).",
        ),
    ] = None,
    enrich: Annotated[
        bool, typer.Option("--enrich", help="Then fill what the entries leave out (see `citerec library enrich`).")
    ] = False,
    source: SourceOption = None,
    mailto: MailtoOption = None,
    library_dir: LibraryDirOption = None,
) -> None:
    """Import BibTeX files in one transaction; broken entries are reported as file:line and skipped."""
    from citerec.ingest import import_bibtex_files

    with user_errors():
        library = _open(library_dir)
        with rich_progress() as progress:
            results = import_bibtex_files(library, files, reuse=not force, jobs=jobs, progress=progress)
    table = Table(title=f"Imported into {library.root}", title_justify="left")
    for column in ("file", "entries", "imported", "added", "updated", "duplicates", "problems"):
        table.add_column(column, justify="left" if column == "file" else "right", overflow="fold")
    problems = 0
    readable = 0
    for result, report in results:
        for problem in result.problems:
            console.print(str(problem), highlight=False, markup=False, soft_wrap=True)
        problems += len(result.problems)
        readable += len(result.papers) + result.unchanged
        if len(results) > 40 and not result.problems and not report.changed:
            continue  # a big import lists only the files that changed something or had problems
        imported = "unchanged" if result.unchanged else str(len(result.papers))
        table.add_row(
            result.file,
            str(result.entries),
            imported,
            str(len(report.added)),
            str(len(report.updated)),
            str(len(report.duplicates)),
            str(len(result.problems)),
        )
    console.print(table)
    console.print(
        f"{len(results)} file{'s' if len(results) != 1 else ''}: {sum(len(r.added) for _, r in results)} added, "
        f"{sum(r.unchanged for r, _ in results)} unchanged since their last import; the library holds {len(library)} papers",
        highlight=False,
    )
    if readable == 0:
        fail("no entries could be imported")
    if enrich:
        from citerec.cli.enrich import enrich_after_import

        with user_errors():
            enrich_after_import(library, source or [], mailto)
    if strict and problems:
        fail(f"{problems} problem{'s' if problems != 1 else ''} (--strict)")


@app.command("import-zotero")
def import_zotero(
    path: Annotated[
        Path | None,
        typer.Argument(help="Zotero's data folder, or its zotero.sqlite (default: ~/Zotero).", show_default=False),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option("--collection", help="Import only the collection of this name (and its subcollections)."),
    ] = None,
    enrich: Annotated[
        bool, typer.Option("--enrich", help="Then fill what the items leave out (see `citerec library enrich`).")
    ] = False,
    source: SourceOption = None,
    mailto: MailtoOption = None,
    library_dir: LibraryDirOption = None,
) -> None:
    """Import a Zotero library from zotero.sqlite (read from a copy, never changed), with Better BibTeX's keys.

    Notes, attachments, annotations and items in the trash are left out; an item
    without a Better BibTeX key gets a key like every keyless import, and keeps it.
    """
    from citerec.ingest.zotero import import_zotero as import_database
    from citerec.past_sentences import counted

    with user_errors():
        library = _open(library_dir)
        result = import_database(library, path, collection=collection)
    read, report = result.read, result.report
    bbt = " (better-bibtex.sqlite read)" if read.better_bibtex else ""
    console.print(
        f"{read.path} (Zotero schema {read.schema_version}): {counted(len(read.papers), 'item')} read, "
        f"{read.keyed} with a Better BibTeX key{bbt}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for warning in (*read.warnings, *result.warnings):
        warn(warning)
    if read.skipped:
        console.print(
            "skipped " + ", ".join(counted(n, what) for what, n in read.skipped), highlight=False, soft_wrap=True
        )
    for old, new in result.rekeyed:
        console.print(f"{old} is now {new} (its key changed in Zotero)", highlight=False, markup=False, soft_wrap=True)
    for incoming, existing in report.duplicates[:10]:
        console.print(
            f"{incoming}: already in the library as {existing}", highlight=False, markup=False, soft_wrap=True
        )
    if len(report.duplicates) > 10:
        console.print(f"… and {len(report.duplicates) - 10} more already in the library", highlight=False)
    console.print(
        f"{_report_summary(report)}; the library holds {len(library)} papers", highlight=False, soft_wrap=True
    )
    if not read.papers:
        fail("no items to import" + (f" in collection {collection!r}" if collection is not None else ""))
    if enrich:
        from citerec.cli.enrich import enrich_after_import

        with user_errors():
            enrich_after_import(library, source or [], mailto)


@app.command("add-arxiv")
def add_arxiv(
    ids: Annotated[
        list[str], typer.Argument(help="arXiv ids or URLs (1706.03762, hep-th/9901001, https://arxiv.org/abs/…).")
    ],
    library_dir: LibraryDirOption = None,
) -> None:
    """Fetch papers from arXiv by id and add them."""
    from citerec.ingest import add_papers_with_keys
    from citerec.ingest.arxiv import fetch_arxiv

    with user_errors():
        papers = fetch_arxiv(ids)
        library = _open(library_dir)
        report = add_papers_with_keys(library, papers)
    console.print(_report_summary(report), highlight=False)
    for key in report.added:
        emit(key)


@app.command("search-arxiv")
def search_arxiv(
    query: Annotated[str, typer.Argument(help="arXiv query (e.g. 'ti:citation AND abs:recommendation').")],
    max_results: Annotated[int, typer.Option("--max", min=1, help="How many results.")] = 10,
    add: Annotated[bool, typer.Option("--add", help="Add the results to the library.")] = False,
    library_dir: LibraryDirOption = None,
) -> None:
    """Search arXiv; show the results, or add them with --add."""
    from citerec.ingest import add_papers_with_keys
    from citerec.ingest.arxiv import search_arxiv as search

    with user_errors():
        papers = search(query, max_results)
        if not papers:
            warn("arXiv found nothing")
            return
        table = Table("arXiv id", "year", "first author", "title")
        for paper in papers:
            table.add_row(paper.arxiv_id, str(paper.year or ""), paper.authors[0] if paper.authors else "", paper.title)
        stdout_console.print(table)
        if add:
            report = add_papers_with_keys(_open(library_dir), papers)
            console.print(_report_summary(report), highlight=False)


@app.command("import-arxiv-snapshot")
def import_arxiv_snapshot(
    file: Annotated[Path, typer.Argument(help="arXiv metadata snapshot (JSON lines).")],
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Keep only these categories (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Stop after this many papers.")] = None,
    library_dir: LibraryDirOption = None,
) -> None:
    """Stream the arXiv metadata snapshot into the library (memory stays flat).

    It commits every 20,000 papers: an interrupted run keeps what it committed,
    and running it again merges papers already there instead of adding them twice.
    """
    import time

    from citerec.ingest import stream_papers_with_keys
    from citerec.ingest.snapshot import SnapshotProblem, iter_arxiv_snapshot

    problems: list[SnapshotProblem] = []
    started = time.perf_counter()
    with user_errors():
        library = _open(library_dir)
        with rich_progress() as progress:
            papers = iter_arxiv_snapshot(file, categories=category, limit=limit, progress=progress, problems=problems)
            counts = stream_papers_with_keys(library, papers)
    seconds = time.perf_counter() - started
    for problem in problems[:20]:
        console.print(str(problem), highlight=False, markup=False, soft_wrap=True)
    if len(problems) > 20:
        warn(f"{len(problems) - 20} more malformed lines")
    records = counts.added + counts.updated + counts.unchanged + counts.duplicates
    console.print(
        f"{_summary(counts.added, counts.updated, counts.unchanged, counts.duplicates)} "
        f"in {seconds:.1f}s ({records / max(seconds, 1e-9):.0f} records/s)",
        highlight=False,
    )


@app.command("list")
def list_(
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    query: Annotated[
        str | None,
        typer.Option("--query", "-q", help="Only papers whose key, title, authors or abstract contain this."),
    ] = None,
    abstracts: Annotated[bool, typer.Option("--abstract", help="Show abstracts in the table.")] = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Show at most this many papers (table default: 200; json: all)."),
    ] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many papers first (for paging).")] = 0,
    library_dir: LibraryDirOption = None,
) -> None:
    """List the library's papers, a page at a time."""
    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r} (expected table or json)")
    if limit is None and fmt == "table":
        limit = 200
    with user_errors():
        papers, total = _open(library_dir).page(offset=offset, limit=limit, query=query or "")
    if fmt == "json":
        emit(json.dumps([p.to_dict() for p in papers], ensure_ascii=False, indent=2))
        return
    table = Table("key", "year", "authors", "title", *(["abstract"] if abstracts else []))
    for paper in papers:
        authors = ", ".join(paper.authors[:2]) + (" et al." if len(paper.authors) > 2 else "")
        row = [paper.key, str(paper.year or ""), authors, paper.title]
        table.add_row(*row, *([paper.abstract] if abstracts else []))
    stdout_console.print(table)
    shown = f"{offset + 1}–{offset + len(papers)} of " if len(papers) < total else ""
    more = f"; --offset {offset + len(papers)} for more" if offset + len(papers) < total else ""
    console.print(f"{shown}{total} papers{more}", highlight=False)


@app.command("export")
def export(
    keys: Annotated[list[str] | None, typer.Argument(help="Keys to export (default: all).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this .bib file (atomically) instead of stdout.")
    ] = None,
    library_dir: LibraryDirOption = None,
) -> None:
    """Export papers as BibTeX."""
    from citerec.ingest.bibtex_export import papers_to_bibtex
    from citerec.storage import atomic_write_text

    with user_errors():
        library = _open(library_dir)
        if keys:
            missing = [k for k in keys if k not in library]
            if missing:
                fail(f"not in the library: {', '.join(missing)}")
            papers = [library.get(k) for k in keys]
        else:
            papers = library.papers()
        text = papers_to_bibtex(p for p in papers if p is not None)
        if output is None:
            emit(text)
        else:
            atomic_write_text(output, text)
            console.print(f"wrote {len(papers)} entries to {output}", highlight=False)


@app.command("remove")
def remove(
    keys: Annotated[list[str], typer.Argument(help="Keys to remove.")],
    library_dir: LibraryDirOption = None,
) -> None:
    """Remove papers by key."""
    with user_errors():
        library = _open(library_dir)
        removed = library.remove(keys)
    missing = [k for k in keys if k.lower() not in {r.lower() for r in removed}]
    if removed:
        console.print(f"removed {', '.join(removed)}", highlight=False)
    if missing:
        fail(f"not in the library: {', '.join(missing)}")


@app.command("get")
def get(
    key: Annotated[str, typer.Argument(help="The paper's key.")],
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    library_dir: LibraryDirOption = None,
) -> None:
    """Show one paper, with the sentences the library learned about it from your drafts (`library learn`) and
    those other papers cite it with (`library enrich --citing-contexts`)."""
    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r} (expected table or json)")
    with user_errors():
        library = _open(library_dir)
        paper = library.get(key)
        if paper is None:
            fail(f"not in the library: {key}")
        past = library.past_sentences([paper.key], others=False)
        filled = library.filled([paper.key])
        others = library.citing_contexts([paper.key])
    if fmt == "json":
        said = [{"source": s.source, "file": s.file, "line": s.line, "sentence": s.sentence} for s in past]
        provenance = [{k: v for k, v in dataclasses.asdict(f).items() if k not in ("key", "value")} for f in filled]
        cited = [{k: v for k, v in dataclasses.asdict(c).items() if k != "key"} for c in others]
        # the JSON key stays "learned" (what `library learn` kept): scripts read it
        extra = {"learned": said, "filled": provenance, "cited_by_others": cited}
        emit(json.dumps(paper.to_dict() | extra, ensure_ascii=False, indent=2))
        return
    table = Table("field", "value", title=paper.key, title_justify="left", show_header=False)
    for name, value in paper.to_dict().items():
        if value not in (None, "", [], {}) and name != "key":
            table.add_row(name, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    for fill in filled:
        table.add_row(f"{fill.field} from", f"{fill.source} ({fill.record}, by {fill.matched_by}, {fill.filled_at})")
    for sentence in past:
        table.add_row(f"learned {sentence.where}", sentence.sentence)
    for context in others:
        table.add_row(f"cited by {context.as_past().where}", context.sentence)
    stdout_console.print(table)
    from citerec.past_sentences import counted

    if past:
        drafts = counted(len({s.source for s in past}), "draft")
        console.print(f"{counted(len(past), 'sentence')} learned from {drafts}", highlight=False)
    if others:
        papers = counted(len({(c.citing_id, c.citing_title) for c in others}), "citing paper")
        console.print(f"{counted(len(others), 'sentence')} others cite it with, from {papers}", highlight=False)


@app.command("learn")
def learn(
    drafts: Annotated[list[Path], typer.Argument(help="Your finished drafts (.tex, includes followed).")],
    forget: Annotated[
        bool, typer.Option("--forget", help="Drop what was learned from these drafts instead of learning them.")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    allow_outside_includes: AllowOutsideIncludesOption = False,
    strict: StrictOption = False,
    library_dir: LibraryDirOption = None,
) -> None:
    """Keep the citing sentences of your drafts, so new drafts are ranked with how you described each paper.

    Learning a draft again replaces what it gave before; removing a paper removes its sentences.
    """
    from citerec.past_sentences import counted, source_name

    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r} (expected table or json)")
    with user_errors():
        library = _open(library_dir)
        if forget:
            dropped = [(source_name(d), library.forget(source_name(d))) for d in drafts]
        else:
            if len(library) == 0:
                fail(f"the library in {library.root} is empty: import a .bib first (citerec library import)")
            read = [read_named_draft(str(d), allow_outside_includes, strict) for d in drafts]
            reports = [library.learn_draft(draft) for draft in read]
    if forget:
        if fmt == "json":
            emit(json.dumps([{"source": s, "forgotten": n} for s, n in dropped], indent=2))
        for source, count in dropped:
            console.print(f"{source}: {counted(count, 'learned sentence')} dropped", highlight=False, soft_wrap=True)
        return
    if fmt == "json":
        emit(json.dumps([dataclasses.asdict(r) for r in reports], ensure_ascii=False, indent=2))
    for report in reports:
        console.print(report.summary(), highlight=False, markup=False, soft_wrap=True)
