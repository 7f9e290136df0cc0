"""`citerec eval PAPER.tex --bib PAPER.bib`: leave-citations-out metrics of the pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from citerec.cli.common import LibraryDirOption, console, fail, rich_progress, stdout_console, user_errors
from citerec.cli.engine import EngineOption, GpusOption, RayAddressOption, WorkersOption, engine_config
from citerec.rerank import DEFAULT_RERANKER
from citerec.suggest import SuggestOptions


def evaluate(
    tex: Annotated[Path, typer.Argument(help="The paper's main .tex file (includes are followed).")],
    bib: Annotated[list[Path], typer.Option("--bib", "-b", help="The paper's own .bib file(s): the truth and the candidate pool.")],
    pool: Annotated[list[Path], typer.Option("--pool", help="Other .bib files added to the candidates as distractors.")] = [],
    library_dir: LibraryDirOption = None,
    rerank: Annotated[str, typer.Option(help="auto, on or off (as for suggest).")] = "auto",
    reranker: Annotated[str, typer.Option(help="Reranker model name or local path.")] = DEFAULT_RERANKER,
    backend: Annotated[str, typer.Option(help="Reranker backend: hf, vllm or a server URL.")] = "hf",
    method: Annotated[str, typer.Option(help="Recall method: hybrid, bm25 or dense.")] = "hybrid",
    mode: Annotated[str, typer.Option(help="Context: sentence (with neighbours) or paragraph.")] = "sentence",
    neighbours: Annotated[int, typer.Option(help="Neighbour sentences on each side added to a sentence context.")] = 1,
    recall_k: Annotated[int, typer.Option("--recall-k", help="Candidates recalled (and reranked) per context.")] = 50,
    embedder: Annotated[str | None, typer.Option(help="Embedding model (default: the bundled all-MiniLM-L6-v2).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON to this file ('-' for stdout).")] = None,
    with_contexts: Annotated[bool, typer.Option("--contexts", help="Include every context's truth and ranking in the JSON.")] = False,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
    gpus_per_worker: GpusOption = 0.0,
) -> None:
    """Evaluate suggestions on a real paper by leaving its citations out."""
    from citerec.evaluate import evaluate as run_evaluation
    from citerec.storage import atomic_write_text

    for path in (tex, *bib, *pool):
        if not path.is_file():
            fail(f"{path}: no such file")
    with user_errors():
        options = SuggestOptions(
            rerank=rerank,
            reranker=reranker,
            backend=backend,
            method=method,
            mode=mode,
            neighbours=neighbours,
            recall_k=max(recall_k, 20),
            embedder=embedder,
            engine=engine_config(engine, ray_address, workers, gpus_per_worker),
        )
        with rich_progress() as progress:
            report = run_evaluation(
                [(tex, bib)], pool=pool, options=options, progress=progress, library_dir=library_dir
            )
    payload = json.dumps(report.to_json(with_contexts), indent=2)
    if json_path is not None and str(json_path) == "-":
        typer.echo(payload)
        return
    if json_path is not None:
        atomic_write_text(json_path, payload + "\n")
        console.print(f"wrote {json_path}")
    _print(report)


def _print(report) -> None:
    from citerec.evaluate import METRIC_NAMES

    table = Table(title="Leave-citations-out evaluation")
    for column in ("paper", "contexts", "candidates", *METRIC_NAMES):
        table.add_column(column, justify="left" if column == "paper" else "right")
    for paper in report.papers:
        table.add_row(
            paper.name, str(paper.n_contexts), str(paper.n_candidates), *(f"{paper.metrics[m]:.3f}" for m in METRIC_NAMES)
        )
    stdout_console.print(table)
