"""Leave-citations-out quality on a split of the training corpus: pooled library, both readings, by field.

The papers of one part of the corpus split (data/splits/corpus.json: train, dev or test) are evaluated as
benchmarks/quality.py evaluates the eval papers (the same code: `run_setting`), against one pooled library
of all their .bib files, in both readings: finishing (each passage knows the paper's other citations,
never its own) and fresh (nothing known: a first draft). Prints the overall table (Recall@1/5/10/20/50 and
MRR; macro over papers and micro over passages), a per-field and a per-paper table, the worst papers, and
the time taken; writes JSON (per-paper metrics; the passages only with --contexts).

    python benchmarks/corpus_quality.py --papers CORPUS/papers --split test            # the test split
    python benchmarks/corpus_quality.py --papers CORPUS/papers --split dev --sample 3  # a quick look
    python benchmarks/corpus_quality.py --papers CORPUS/papers --split dev \\
        --variant no-evidence:draft_evidence=false                                    # a variant against today

`CORPUS/papers` is the unpacked corpus (its README says how); the pooled library and its index are kept
under .bench-cache/ for the next run over the same papers. Choices are made on dev; test is touched once
per decision, at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import table  # noqa: E402
from quality import CORPUS_SPLIT, EvalPaper, parse_variant, read_manifest, run_setting  # noqa: E402

from citerec.evaluate import ContextEval, PaperEval  # noqa: E402
from citerec.suggest import SuggestOptions  # noqa: E402
from citerec.train.splits import PARTS, manifest_fields, read_split, select  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
READINGS = ("finishing", "fresh")
METRICS = ("recall@1", "recall@5", "recall@10", "recall@20", "recall@50", "mrr")
WORST = 5


def context_metrics(context: ContextEval) -> dict[str, float]:
    """The passage's metrics with Recall@50 added (the ranking holds the recalled candidates, 50 by default)."""
    truth = {key.lower() for key in context.truth}
    found = sum(key.lower() in truth for key in context.ranked[:50])
    return {**context.metrics, "recall@50": found / len(truth)}


@dataclasses.dataclass(frozen=True)
class Scored:
    """One paper in one reading with one method: its field and the per-passage metrics."""

    paper: str
    field: str
    contexts: tuple[dict[str, float], ...]

    def mean(self) -> dict[str, float]:
        return _mean(self.contexts)


def _mean(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {m: sum(row[m] for row in rows) / len(rows) if rows else 0.0 for m in METRICS}


def scored(evaluations: list[PaperEval], fields: dict[str, str]) -> list[Scored]:
    return [Scored(p.name, fields.get(p.name, "?"), tuple(map(context_metrics, p.contexts))) for p in evaluations]


def macro(papers: Sequence[Scored]) -> dict[str, float]:
    """Mean over papers (each paper's mean over its passages): every paper weighs the same."""
    return _mean([p.mean() for p in papers if p.contexts])


def micro(papers: Sequence[Scored]) -> dict[str, float]:
    """Mean over every passage: long theses weigh more."""
    return _mean([row for p in papers for row in p.contexts])


def _cells(values: dict[str, float], metrics: Sequence[str] = METRICS) -> list[str]:
    return [f"{values[m]:.3f}" for m in metrics]


def overall_table(runs: dict[tuple[str, str], list[Scored]]) -> str:
    """Rows: method × reading × average (macro over papers, micro over passages)."""
    rows = []
    for (method, reading), papers in runs.items():
        passages = sum(len(p.contexts) for p in papers)
        rows.append([method, reading, "papers (macro)", len(papers), passages, *_cells(macro(papers))])
        rows.append([method, reading, "passages (micro)", len(papers), passages, *_cells(micro(papers))])
    return table(["method", "reading", "average", "papers", "passages", *METRICS], rows)


def field_table(runs: dict[tuple[str, str], list[Scored]]) -> str:
    """R@10 and MRR of each field (macro over its papers) in each run."""
    fields = sorted({p.field for papers in runs.values() for p in papers})
    headers = ["field", "papers"] + [f"{m} {r} {x}" for m, r in runs for x in ("R@10", "MRR")]
    rows = []
    for field in fields:
        counts = {len([p for p in papers if p.field == field]) for papers in runs.values()}
        cells: list[object] = [field, max(counts)]
        for papers in runs.values():
            cells += _cells(macro([p for p in papers if p.field == field]), ("recall@10", "mrr"))
        rows.append(cells)
    return table(headers, rows)


def paper_table(runs: dict[tuple[str, str], list[Scored]]) -> str:
    """One row per paper: its field, passages, and R@10 / R@50 / MRR in each run."""
    first = next(iter(runs.values()))
    headers = ["paper", "field", "passages"] + [f"{m} {r} {x}" for m, r in runs for x in ("R@10", "R@50", "MRR")]
    rows = []
    for row, paper in enumerate(first):
        cells: list[object] = [paper.paper, paper.field, len(paper.contexts)]
        for papers in runs.values():
            cells += _cells(papers[row].mean(), ("recall@10", "recall@50", "mrr"))
        rows.append(cells)
    return table(headers, rows)


def worst_papers(runs: dict[tuple[str, str], list[Scored]], n: int = WORST) -> list[str]:
    """The `n` papers with the lowest R@10 in each run of the first method."""
    method = next(iter(runs))[0]
    lines = []
    for (name, reading), papers in runs.items():
        if name != method:
            continue
        ranked = sorted((p for p in papers if p.contexts), key=lambda p: p.mean()["recall@10"])[:n]
        shown = ", ".join(f"{p.paper} ({p.field}, {p.mean()['recall@10']:.3f})" for p in ranked)
        lines.append(f"worst R@10, {method}, {reading}: {shown}")
    return lines


def chosen_papers(folder: Path, split_file: Path, part: str, sample: int, seed: int) -> list[EvalPaper]:
    """The manifest's papers in `part` of the split ("all": every paper), or a seeded sample of them."""
    papers = read_manifest(folder)
    if part != "all":
        names = set(select([p.name for p in papers], read_split(split_file), part))
        papers = [p for p in papers if p.name in names]
    if sample and sample < len(papers):
        keep = set(random.Random(seed).sample(sorted(p.name for p in papers), sample))
        papers = [p for p in papers if p.name in keep]
    return papers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=Path, required=True, help="the unpacked corpus: a folder with MANIFEST.tsv")
    parser.add_argument("--split", choices=(*PARTS, "all"), default="test", help="which part of the split")
    parser.add_argument("--split-file", type=Path, default=CORPUS_SPLIT)
    parser.add_argument("--sample", type=int, default=0, help="a seeded sample of N papers of the part")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--reading", default=",".join(READINGS), help="finishing and/or fresh, comma-separated")
    parser.add_argument(
        "--variant", action="append", default=[], help="name:field=value,... compared against today; repeatable"
    )
    parser.add_argument("--cache", type=Path, default=REPO / ".bench-cache" / "corpus-quality", help="kept libraries")
    parser.add_argument("--json", type=Path, default=REPO / ".bench-cache" / "corpus-quality.json")
    parser.add_argument("--contexts", action="store_true", help="write every passage's truth and ranking in the JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    if not (args.papers / "MANIFEST.tsv").is_file():
        raise SystemExit(f"{args.papers}: no MANIFEST.tsv (give the unpacked corpus's papers folder)")
    readings = [r for r in args.reading.split(",") if r]
    if not readings or set(readings) - set(READINGS):
        raise SystemExit(f"--reading: expected finishing and/or fresh, not {args.reading!r}")
    fields = manifest_fields(args.papers / "MANIFEST.tsv")
    papers = chosen_papers(args.papers, args.split_file, args.split, args.sample, args.seed)
    base = SuggestOptions(rerank="off")
    methods = {"today": base} | dict(parse_variant(spec, base) for spec in args.variant)
    # One kept library per set of papers: a sample and the whole split do not rebuild each other's index.
    digest = hashlib.sha256("\n".join(p.name for p in papers).encode()).hexdigest()[:10]
    cache = args.cache / f"{args.split}-{len(papers)}-{digest}"
    print(f"{len(papers)} papers of the {args.split} split: {', '.join(p.name for p in papers)}", file=sys.stderr)

    started = time.perf_counter()
    runs: dict[tuple[str, str], list[Scored]] = {}
    evaluations: dict[tuple[str, str], list[PaperEval]] = {}
    seconds: dict[str, float] = {}
    for reading in readings:
        begun = time.perf_counter()
        results, _ = run_setting("pooled", papers, methods, cache, reading=reading)
        seconds[reading] = time.perf_counter() - begun
        for method, evaluated in results.items():
            runs[(method, reading)] = scored(evaluated, fields)
            evaluations[(method, reading)] = evaluated
    elapsed = time.perf_counter() - started

    candidates = next(iter(evaluations.values()))[0].n_candidates if papers else 0
    print(f"\n## Corpus {args.split} split: {len(papers)} papers, pooled library of {candidates} entries\n")
    print(overall_table(runs), "\n\n### Per field (macro over papers)\n", field_table(runs), sep="\n")
    print("\n### Per paper\n", paper_table(runs), "", *worst_papers(runs), sep="\n")
    times = ", ".join(f"{reading} {s:.0f} s" for reading, s in seconds.items())
    print(f"\ntime: {elapsed:.0f} s ({times})")
    report = {
        "config": {"split": args.split, "sample": args.sample, "seed": args.seed, "variants": args.variant},
        "papers": [p.name for p in papers],
        "candidates": candidates,
        "seconds": seconds,
        "runs": {
            f"{method}, {reading}": {
                "macro": macro(runs[(method, reading)]),
                "micro": micro(runs[(method, reading)]),
                "papers": [
                    {**p.to_json(with_contexts=args.contexts), "field": fields.get(p.name, "?")} for p in evaluated
                ],
            }
            for (method, reading), evaluated in evaluations.items()
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
