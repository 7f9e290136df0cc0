"""`citerec index …`: build or update the recall index, show its state, query it."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from citerec.choices import Method
from citerec.cli.common import (
    EmbedderOption,
    LibraryDirOption,
    announce_embedder,
    console,
    emit,
    fail,
    rich_progress,
    stdout_console,
    user_errors,
    warn,
)
from citerec.cli.engine import (
    EngineOption,
    GpusOption,
    RayAddressOption,
    ShardSizeOption,
    WorkersOption,
    engine_config,
)
from citerec.engine.shards import DEFAULT_SHARD_SIZE
from citerec.library import Library, default_library_dir

app = typer.Typer(help="Build, inspect and query the recall index (BM25 + embeddings).", no_args_is_help=True)


class Format(str, Enum):
    table = "table"
    json = "json"


def open_library(library_dir: Path | None) -> Library:
    """The library at `library_dir` (or the default place); an error when it holds no papers."""
    library = Library(library_dir or default_library_dir())
    if not library.exists or len(library) == 0:
        fail(f"no papers in {library.root}; run `citerec library import refs.bib` first")
    return library


@app.command()
def build(
    library_dir: LibraryDirOption = None,
    embedder: EmbedderOption = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-embed every paper (needed to switch embedders).")
    ] = False,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
    gpus_per_worker: GpusOption = 0.0,
    shard_size: ShardSizeOption = DEFAULT_SHARD_SIZE,
) -> None:
    """Build the index, or update it: only new or changed papers are embedded."""
    from citerec.engine import build_index

    with user_errors():
        config = engine_config(engine, ray_address, workers, gpus_per_worker, shard_size)
        library = open_library(library_dir)
        announce_embedder(embedder)
        with rich_progress() as progress:
            index, report = build_index(library, config, embedder=embedder, rebuild=rebuild, progress=progress)
    if not report.written:
        console.print(
            f"index of {report.size} papers is up to date ({index.embedder_name})", highlight=False, soft_wrap=True
        )
        return
    rate = (
        f", {report.embedded / report.embed_seconds:.1f} papers/s" if report.embedded and report.embed_seconds else ""
    )
    console.print(
        f"indexed {report.size} papers with {index.embedder_name} ({index.manifest.dense.kind} FAISS index): "
        f"{report.embedded} embedded, {report.reused} re-used, {report.removed} removed "
        f"in {report.seconds:.1f}s{rate}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def status(library_dir: LibraryDirOption = None) -> None:
    """Show what the index was built with and whether the library changed since."""
    from citerec.index import diff_library, read_manifest

    with user_errors():
        library = open_library(library_dir)
        manifest = read_manifest(library.index_dir)
    if manifest is None:
        fail(f"no index in {library.index_dir}; run `citerec index build`")
    changes = diff_library(manifest, library)
    dense = manifest.dense
    kind = dense.kind if dense.kind == "flat" else f"{dense.kind} (nlist {dense.nlist}, nprobe {dense.nprobe})"
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("library", str(library.root)),
        ("papers indexed", str(len(manifest.papers))),
        ("embedder", f"{manifest.embedder} ({manifest.dimension}-d, normalised)"),
        ("FAISS index", kind),
        ("built", manifest.created),
        ("format", str(manifest.format_version)),
    ]
    if changes.stale:
        state = (
            f"[yellow]stale[/]: {len(changes.added)} new, {len(changes.changed)} changed, "
            f"{len(changes.removed)} removed; run `citerec index build`"
        )
    else:
        state = "[green]up to date[/]"
    rows.append(("status", state))
    for name, value in rows:
        table.add_row(name, value)
    stdout_console.print(table, highlight=False)


@app.command()
def query(
    text: Annotated[str, typer.Argument(help="A passage to find citations for ('-' reads it from stdin).")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Number of candidates.")] = 10,
    method: Annotated[Method, typer.Option("--method", "-m", help="Recall method.")] = Method.HYBRID,
    output: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    library_dir: LibraryDirOption = None,
) -> None:
    """Recall candidate papers for a passage (no reranking)."""
    from citerec.index import Index, diff_library
    from citerec.recall import recall_text

    if text == "-":
        text = sys.stdin.read()
    with user_errors():
        library = open_library(library_dir)
        index = Index.open(library)
        if diff_library(index.manifest, library).stale:
            warn("the library changed since the index was built; run `citerec index build`")
        candidates = recall_text(index, text, k=k, method=method.value)
    if output is Format.json:
        records = []
        for c in candidates:
            paper = library.get(c.key)
            records.append({**asdict(c), "title": paper.title if paper else "", "year": paper.year if paper else None})
        emit(json.dumps(records, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{method.value} recall", title_justify="left")
    for column in ("#", "key", "score", "bm25", "dense", "title"):
        table.add_column(column, justify="right" if column in ("#", "score", "bm25", "dense") else "left")
    for rank, c in enumerate(candidates, start=1):
        paper = library.get(c.key)
        table.add_row(
            str(rank),
            c.key,
            f"{c.score:.4f}",
            str(c.bm25_rank or "-"),
            str(c.dense_rank or "-"),
            paper.title if paper else "",
        )
    stdout_console.print(table, highlight=False)
