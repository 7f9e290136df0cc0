"""`citerec train …`: retrain the shipped models from a collection of papers (what `make models` runs).

A collection is a folder with a MANIFEST.tsv (the eval papers', the corpus's
format); `--split FILE --part train` picks one part of it. Each command writes
model files in citerec's one format, with the embedder, the papers and the
held-out metrics in their `info`, and prints the leave-one-paper-out table.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from citerec.cli.common import console, fail, user_errors

app = typer.Typer(help="Retrain citerec's shipped models from a collection of papers.", no_args_is_help=True)

PapersOption = Annotated[
    Path, typer.Option("--papers", help="A folder of papers with a MANIFEST.tsv (name, paths; .tex first, then .bib).")
]
SplitOption = Annotated[
    Path | None, typer.Option("--split", help="A split file (JSON with train/dev/test lists of paper names).")
]
PartOption = Annotated[str, typer.Option("--part", help="Which part of the split to train on.")]
CacheOption = Annotated[
    Path,
    typer.Option("--cache", help="Where libraries, indexes and embedded sentences are kept between runs."),
]
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "citerec-train"


def _names(split: Path | None, part: str) -> list[str] | None:
    from citerec.train.splits import read_split

    return list(read_split(split).names(part)) if split is not None else None


@app.command("ranker")
def ranker(
    papers: PapersOption,
    out: Annotated[
        Path | None, typer.Option("--out", help="The model file to write (default: the shipped one).")
    ] = None,
    split: SplitOption = None,
    part: PartOption = "train",
    cache: CacheOption = DEFAULT_CACHE / "ranker",
) -> None:
    """Train the learned ranking (both readings) and write it to --out."""
    from citerec.recall.learned import shipped_path
    from citerec.train.ranker import READINGS, train_ranker

    with user_errors():
        try:
            model, table = train_ranker(papers, cache, names=_names(split, part), progress=console.log)
        except ValueError as exc:
            fail(str(exc))
        console.print(f"{'paper':40} {'passage':>8} " + " ".join(f"{r:>9}" for r in READINGS))
        for name, row in table.items():
            console.print(f"{name:40} {row['passage']:8.3f} " + " ".join(f"{row[r]:9.3f}" for r in READINGS))
        macro = model.info.metrics["macro_recall@10"]
        console.print(
            f"{'macro (leave one paper out)':40} {macro['passage']:8.3f} "
            + " ".join(f"{macro[r]:9.3f}" for r in READINGS)
        )
        out = out or shipped_path()
        model.save(out)
        console.print(f"wrote {out} ({len(model.info.papers)} papers, embedder {model.info.embedder})")


@app.command("check")
def check(
    papers: PapersOption,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Where the three model files go (default: beside the shipped ones)."),
    ] = None,
    split: SplitOption = None,
    part: PartOption = "train",
    measure_on: Annotated[
        str,
        typer.Option("--measure-on", help="With --split: the part the models are measured on (held out of training)."),
    ] = "dev",
    cache: CacheOption = DEFAULT_CACHE / "check",
) -> None:
    """Train the where-to-cite models (prior, fresh, draft) and write them to --out-dir.

    Measured on the split's --measure-on part; without a split, leave one paper out."""
    from citerec.check.model import MODEL_FILE
    from citerec.train.check import train_check

    with user_errors():
        try:
            measured_on = _names(split, measure_on) if split is not None else None
            models = train_check(
                papers, cache, names=_names(split, part), measured_on=measured_on, progress=console.log
            )
        except ValueError as exc:
            fail(str(exc))
        for name, model in models.items():
            path = (out_dir or MODEL_FILE.parent) / name
            model.save(path)
            macro, how = model.info.metrics.get("macro_average_precision"), model.info.metrics.get("measured")
            measured = f", AP {macro:.3f} {how}" if macro is not None else ""
            console.print(f"wrote {path} ({len(model.features)} features{measured})")


@app.command("judge")
def judge(
    papers: PapersOption,
    split: Annotated[
        Path, typer.Option("--split", help="The split file: the judge trains on its train part, is fused on dev.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="The judge's folder to write (default: the shipped one).")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A smoke run: two papers per part, a few steps (CI checks the road).")
    ] = False,
    cache: CacheOption = DEFAULT_CACHE / "judge",
) -> None:
    """Train the small CPU judge (MiniLM cross-encoder, int8) and its fusion with recall's rank; write --out."""
    from citerec.rerank.small import SHIPPED
    from citerec.train.judge import QUICK, JudgeSettings, train_judge

    with user_errors():
        try:
            report = train_judge(
                papers,
                split,
                out or SHIPPED,
                cache,
                settings=QUICK if quick else JudgeSettings(),
                progress=console.log,
            )
        except ValueError as exc:
            fail(str(exc))
        console.print(f"{'dev Recall@10':16} " + " ".join(f"{r:>10}" for r in ("finishing", "fresh")))
        for name, row in report.metrics["dev_recall@10"].items():
            console.print(f"{name:16} " + " ".join(f"{row.get(r, float('nan')):10.3f}" for r in ("finishing", "fresh")))
        size = sum(f.stat().st_size for f in report.folder.iterdir()) / 1e6
        times = ", ".join(f"{stage} {s:.0f} s" for stage, s in report.seconds.items())
        console.print(f"wrote {report.folder} ({size:.1f} MB; {times})")
