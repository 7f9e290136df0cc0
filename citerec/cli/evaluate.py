"""`citerec eval PAPER.tex --bib PAPER.bib` or `--paper A.tex:A.bib --paper B.tex:B1.bib,B2.bib`.

Leave-citations-out metrics of the pipeline, per paper and their macro
average. Papers share one reranker (with `--engine ray`, one actor pool).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
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
    fail,
    read_warnings_caption,
    recall_options,
    rich_progress,
    stdout_console,
    user_errors,
    warn,
)
from citerec.cli.engine import EngineOption, GpusOption, RayAddressOption, WorkersOption, engine_config
from citerec.rerank import DEFAULT_RERANKER


@recall_options
def evaluate(
    tex: Annotated[
        Path | None, typer.Argument(help="The paper's main .tex file (includes are followed).", show_default=False)
    ] = None,
    bib: Annotated[
        list[Path], typer.Option("--bib", "-b", help="The paper's own .bib file(s): the truth and the candidate pool.")
    ] = [],  # noqa: B006
    paper: Annotated[
        list[str],
        typer.Option(
            "--paper", "-p", help="TEX:BIB[,BIB...]: a paper and its own .bib file(s); repeat for several papers."
        ),
    ] = [],  # noqa: B006
    pool: Annotated[
        list[Path], typer.Option("--pool", help="Other .bib files added to the candidates as distractors.")
    ] = [],
    library_dir: LibraryDirOption = None,
    rerank: RerankOption = "auto",
    reranker: RerankerOption = DEFAULT_RERANKER,
    backend: BackendOption = "hf",
    mode: ModeOption = "sentence",
    neighbours: Annotated[int, typer.Option(help="Neighbour sentences on each side added to a sentence context.")] = 1,
    embedder: EmbedderOption = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON to this file ('-' for stdout).")
    ] = None,
    with_contexts: Annotated[
        bool, typer.Option("--contexts", help="Include every context's truth and ranking in the JSON.")
    ] = False,
    allow_outside_includes: AllowOutsideIncludesOption = False,
    strict: StrictOption = False,
    reading: Annotated[
        str,
        typer.Option(
            "--reading",
            help="finishing: each passage knows the paper's other citations (never its own); fresh: nothing known.",
        ),
    ] = "finishing",
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
    gpus_per_worker: GpusOption = 0.0,
    *,
    recall: RecallArgs,
) -> None:
    """Evaluate suggestions on real papers by leaving their citations out."""
    from citerec.evaluate import evaluate as run_evaluation
    from citerec.storage import atomic_write_text

    papers = _papers(tex, bib, paper)
    for path in (*(p for t, bibs in papers for p in (t, *bibs)), *pool):
        if not path.is_file():
            fail(f"{path}: no such file")
    with user_errors():
        options = command_options(
            recall,
            rerank=rerank,
            reranker=reranker,
            backend=backend,
            mode=mode,
            neighbours=neighbours,
            embedder=embedder,
            engine=engine_config(engine, ray_address, workers, gpus_per_worker),
            allow_outside_includes=allow_outside_includes,
            strict=strict,
        )
        options = options.with_recall(k=max(options.recall.k, 20))  # Recall@20 needs 20 candidates
        announce_embedder(embedder)
        with rich_progress() as progress:
            report = run_evaluation(
                papers, pool=pool, options=options, progress=progress, library_dir=library_dir, reading=reading
            )
    for evaluated in report.papers:  # what reading skipped, and a paper that cites but gave no context
        for note in evaluated.notes:
            warn(note if len(report.papers) == 1 else f"{evaluated.name}: {note}")
    payload = json.dumps(report.to_json(with_contexts), indent=2)
    if json_path is not None and str(json_path) == "-":
        typer.echo(payload)
        return
    if json_path is not None:
        atomic_write_text(json_path, payload + "\n")
        console.print(f"wrote {json_path}")
    _print(report)


def _papers(tex: Path | None, bib: list[Path], specs: list[str]) -> list[tuple[Path, list[Path]]]:
    """The (tex, own .bib files) pairs asked for: TEX with --bib, and every --paper TEX:BIB[,BIB...]."""
    papers: list[tuple[Path, list[Path]]] = []
    if tex is not None:
        if not bib:
            fail(f"{tex}: give its .bib with --bib (or use --paper TEX:BIB)")
        papers.append((tex, bib))
    elif bib:
        fail("--bib needs the paper's .tex (or use --paper TEX:BIB)")
    for spec in specs:
        split = spec.find(":", 2)  # past a drive letter (C:\...)
        bibs = [Path(b) for b in spec[split + 1 :].split(",") if b.strip()] if split > 0 else []
        if not bibs or not spec[:split].strip():
            fail(f"--paper {spec!r}: expected TEX:BIB[,BIB...]")
        papers.append((Path(spec[:split]), bibs))
    if not papers:
        fail("nothing to evaluate: give PAPER.tex --bib PAPER.bib, or --paper TEX:BIB (repeatable)")
    return papers


def _print(report) -> None:
    from citerec.evaluate import METRIC_NAMES

    warnings = [warning for paper in report.papers for warning in paper.warnings]
    table = Table(
        title="Leave-citations-out evaluation", caption=read_warnings_caption(warnings), caption_justify="left"
    )
    for column in ("paper", "contexts", "candidates", *METRIC_NAMES):
        table.add_column(column, justify="left" if column == "paper" else "right")
    for paper in report.papers:
        table.add_row(
            paper.name,
            str(paper.n_contexts),
            str(paper.n_candidates),
            *(f"{paper.metrics[m]:.3f}" for m in METRIC_NAMES),
        )
    if len(report.papers) > 1:
        evaluated = sum(1 for paper in report.papers if paper.n_contexts)
        table.add_section()
        table.add_row(
            f"[bold]macro average ({evaluated} papers)[/]",
            str(sum(paper.n_contexts for paper in report.papers)),
            "",
            *(f"[bold]{report.metrics[m]:.3f}[/]" for m in METRIC_NAMES),
        )
    stdout_console.print(table)
