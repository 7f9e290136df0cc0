"""Leave-citations-out quality of citerec on the real papers in shared/eval/papers.

Two settings: each paper against its own library, and against one pooled
library (every paper's .bib together). Methods: BM25 alone, dense alone,
hybrid, and hybrid + reranker when `--reranker NAME` is given. Prints one table
(rows: papers and the macro average; columns: method × metric) and writes JSON.

    python benchmarks/quality.py [--papers DIR] [--reranker NAME] [--json out.json]

Variants of the hybrid recall are compared in one run (the first is the baseline;
a second table gives each variant's per-paper R@10 change against it):

    python benchmarks/quality.py --settings pooled --methods hybrid \
        --variant today:fusion=rrf,rrf_k=30,dense_weight=2 --variant minmax:fusion=minmax,dense_weight=1

The corpus's papers of one part of its split (data/splits/corpus.json; benchmarks/corpus_quality.py adds
the per-field tables and both readings in one run):

    python benchmarks/quality.py --papers CORPUS/papers --split dev --settings pooled --methods hybrid

Two readings of every paper (`--reading`): finishing (each passage knows the paper's
other citations, never its own) and fresh (nothing known). `--draft-evidence on` (the default)
lets those citations count (the learned ranking); a learned ranking is measured
leave-one-paper-out with `--ranker-dir DIR` (each paper ranked by DIR/<paper>.json,
fitted on the other papers by scripts/train_ranker.py --held-out DIR):

    python benchmarks/quality.py --settings pooled --methods hybrid --reading finishing,fresh \
        --draft-evidence off --ranker-dir DIR --variant learned:plan=learned --variant evidence:draft_evidence=true
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Cited, query_types, type_table  # noqa: E402

from citerec.evaluate import (  # noqa: E402
    PaperEval,
    average,
    build_eval_library,
    evaluate_on_library,
    merge_keymaps,
)
from citerec.library import Library  # noqa: E402
from citerec.papers import normalise_key  # noqa: E402
from citerec.recall import FusionSettings, RecallSpec  # noqa: E402
from citerec.recall.learned import load_ranker  # noqa: E402
from citerec.suggest import Suggester, SuggestOptions  # noqa: E402
from citerec.train.collection import CollectionPaper as EvalPaper  # noqa: E402
from citerec.train.collection import read_collection as read_manifest  # noqa: E402
from citerec.train.splits import PARTS, read_split, select  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PAPERS = REPO.parent / "shared" / "eval" / "papers"
CORPUS_SPLIT = REPO / "data" / "splits" / "corpus.json"  # scripts/split_corpus.py
SHOWN_METRICS = ("recall@1", "recall@10", "recall@20", "mrr", "ndcg@10")


def without_abstracts(library: Library) -> Library:
    """The same papers with their abstracts dropped: measures what the abstracts bring."""
    library.add([dataclasses.replace(p, abstract="") for p in library.papers()])
    return library


def libraries(
    setting: str, papers: list[EvalPaper], cache: Path
) -> Iterator[tuple[Library, list[tuple[EvalPaper, dict[str, str]]]]]:
    """Each candidate library of a setting, with the papers evaluated against it and their key maps.

    own: one library per paper, from its own .bib files. pooled: one library
    from every paper's .bib files, shared by all papers.
    """
    if setting == "pooled":
        library, keymaps = build_eval_library([b for p in papers for b in p.bibs], cache / "pooled")
        bounds = itertools.pairwise(itertools.accumulate((len(p.bibs) for p in papers), initial=0))
        yield library, [(paper, merge_keymaps(keymaps[a:b])) for paper, (a, b) in zip(papers, bounds, strict=True)]
        return
    for paper in papers:
        library, keymaps = build_eval_library(list(paper.bibs), cache / "own" / paper.name)
        yield library, [(paper, merge_keymaps(keymaps))]


OPTION_FIELDS = {f.name for f in dataclasses.fields(SuggestOptions)} - {"recall"}
RECALL_FIELDS = {f.name for f in dataclasses.fields(RecallSpec)} - {"fusion"}


def parse_variant(spec: str, base: SuggestOptions) -> tuple[str, SuggestOptions]:
    """`name:field=value,...` → (name, options): fields of SuggestOptions, of its RecallSpec or of its
    FusionSettings."""
    name, _, assignments = spec.partition(":")
    changes: dict[str, dict[str, object]] = {"options": {}, "recall": {}, "fusion": {}}
    for assignment in filter(None, assignments.split(",")):
        field, _, raw = assignment.partition("=")
        if field in OPTION_FIELDS:
            part, current = "options", getattr(base, field)
        elif field in RECALL_FIELDS:
            part, current = "recall", getattr(base.recall, field)
        else:
            part, current = "fusion", getattr(base.recall.fusion, field)
        changes[part][field] = _parse_value(raw, current)
    fusion = dataclasses.replace(base.recall.fusion, **changes["fusion"])
    options = dataclasses.replace(base, **changes["options"])
    return name, options.with_recall(method="hybrid", fusion=fusion, **changes["recall"])


def _parse_value(raw: str, current: object) -> object:
    """`raw` as the type of the field's current value (`bool("false")` would be True)."""
    if isinstance(current, bool):
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise SystemExit(f"{raw!r} is not a boolean")
        return raw.lower() in ("true", "1", "yes", "on")
    return type(current)(raw) if current is not None else raw


def run_setting(
    setting: str,
    papers: list[EvalPaper],
    methods: dict[str, SuggestOptions],
    cache: Path,
    title_only: bool = False,
    reading: str = "finishing",
    ranker_dir: Path | None = None,
) -> tuple[dict[str, list[PaperEval]], dict[str, dict[str, list[float]]]]:
    """Evaluate every paper with every method (options, fusion included) in one setting (own or pooled library).

    Also returns each method's per-context R@10 grouped by query type (`_measure.QUERY_TYPES`).
    """
    results: dict[str, list[PaperEval]] = {m: [] for m in methods}
    by_type: dict[str, dict[str, list[float]]] = {}
    for library, evaluated in libraries(setting, papers, cache):
        if title_only:
            library = without_abstracts(library)
        suggester = Suggester(library, options=next(iter(methods.values())))
        for paper, keymap in evaluated:
            for method, options in methods.items():
                if ranker_dir is not None and options.recall.learned:
                    held_out = ranker_dir / f"{paper.name}.json"
                    if not held_out.is_file():
                        raise SystemExit(f"{held_out}: no held-out model (scripts/train_ranker.py --held-out)")
                    options = options.with_recall(ranker=str(held_out))
                evaluation = evaluate_on_library(
                    paper.tex, suggester, keymap, options=options, name=paper.name, reading=reading, bibs=paper.bibs
                )
                results[method].append(evaluation)
                for context, types in zip(evaluation.contexts, context_types(library, evaluation), strict=True):
                    for kind in types:
                        by_type.setdefault(kind, {}).setdefault(method, []).append(context.metrics["recall@10"])
            print(f"  {setting} {paper.name} done", file=sys.stderr)
    return results, by_type


def context_types(library: Library, evaluation: PaperEval) -> list[list[str]]:
    """The query types of each evaluated context (its sentence, and the cited papers the library holds)."""
    keys = {key for context in evaluation.contexts for key in context.truth}
    papers = library.get_many(keys)
    cited = {key: Cited.of(paper) for key, paper in ((k, papers.get(normalise_key(k))) for k in keys) if paper}
    return [
        query_types(
            context.sentence or context.query, [cited[k] for k in context.truth if k in cited], len(context.truth)
        )
        for context in evaluation.contexts
    ]


def print_table(setting: str, results: dict[str, list[PaperEval]], console: Console) -> None:
    table = Table(title=f"Leave-citations-out quality — {setting} library")
    table.add_column("paper")
    table.add_column("ctx", justify="right")
    table.add_column("cands", justify="right")
    for method in results:
        for metric in SHOWN_METRICS:
            table.add_column(f"{method}\n{metric}", justify="right")
    first = next(iter(results.values()))
    for row, paper in enumerate(first):
        cells = [paper.name, str(paper.n_contexts), str(paper.n_candidates)]
        for evals in results.values():
            cells += [f"{evals[row].metrics[m]:.3f}" for m in SHOWN_METRICS]
        table.add_row(*cells)
    cells = ["macro average", str(sum(p.n_contexts for p in first)), ""]
    for evals in results.values():
        macro = average([p.metrics for p in evals if p.n_contexts])
        cells += [f"{macro[m]:.3f}" for m in SHOWN_METRICS]
    table.add_row(*cells, style="bold")
    console.print(table)


def print_deltas(
    setting: str, results: dict[str, list[PaperEval]], console: Console, metric: str = "recall@10"
) -> None:
    """Each variant's per-paper change of `metric` against the first (the baseline)."""
    names = list(results)
    if len(names) < 2:
        return
    table = Table(title=f"{metric} change against {names[0]} — {setting} library")
    table.add_column("paper")
    table.add_column(names[0], justify="right")
    for name in names[1:]:
        table.add_column(f"{name}\nΔ", justify="right")
    base = results[names[0]]
    for row, paper in enumerate(base):
        cells = [paper.name, f"{paper.metrics[metric]:.3f}"]
        for name in names[1:]:
            delta = results[name][row].metrics[metric] - paper.metrics[metric]
            cells.append(f"[red]{delta:+.3f}[/]" if delta < -0.03 else f"{delta:+.3f}")
        table.add_row(*cells)
    macro = {n: average([p.metrics for p in evals if p.n_contexts])[metric] for n, evals in results.items()}
    cells = ["macro", f"{macro[names[0]]:.3f}"] + [f"{macro[n] - macro[names[0]]:+.3f}" for n in names[1:]]
    table.add_row(*cells, style="bold")
    worst = ["worst paper", ""] + [
        f"{min(r.metrics[metric] - b.metrics[metric] for r, b in zip(results[n], base, strict=True)):+.3f}"
        for n in names[1:]
    ]
    table.add_row(*worst)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=Path, default=DEFAULT_PAPERS, help="folder with MANIFEST.tsv")
    parser.add_argument("--only", nargs="*", help="evaluate only these paper names")
    parser.add_argument("--split", choices=PARTS, help="only this part of the corpus split (--papers: the corpus)")
    parser.add_argument("--split-file", type=Path, default=CORPUS_SPLIT)
    parser.add_argument("--settings", default="own,pooled")
    parser.add_argument("--methods", default="bm25,dense,hybrid")
    parser.add_argument("--reranker", help="also run hybrid + this reranker (name or local path)")
    parser.add_argument("--backend", default="hf")
    parser.add_argument("--mode", default="sentence")
    parser.add_argument("--neighbours", type=int, default=1)
    parser.add_argument("--embedder", default=None)
    parser.add_argument("--title-only", action="store_true", help="drop abstracts (what do they bring?)")
    parser.add_argument("--rrf-k", type=float, default=FusionSettings.rrf_k, help="hybrid: RRF k")
    parser.add_argument("--dense-weight", type=float, default=FusionSettings.dense_weight, help="hybrid: dense weight")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="name:field=value,... (FusionSettings or SuggestOptions fields) for a hybrid variant; repeatable",
    )
    parser.add_argument("--draft-evidence", choices=("on", "off"), default="on", help="the draft's citations count")
    parser.add_argument("--reading", default="finishing", help="finishing and/or fresh, comma-separated")
    parser.add_argument("--ranker-dir", type=Path, default=None, help="held-out ranking models, one per paper")
    parser.add_argument("--cache", type=Path, default=REPO / ".bench-cache" / "quality", help="kept libraries")
    parser.add_argument("--json", type=Path, default=REPO / ".bench-cache" / "quality.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    fusion = FusionSettings(rrf_k=args.rrf_k, dense_weight=args.dense_weight)
    papers = read_manifest(args.papers)
    if args.split:
        names = set(select([p.name for p in papers], read_split(args.split_file), args.split))
        papers = [p for p in papers if p.name in names]
    if args.only:
        papers = [p for p in papers if p.name in args.only]
    base = SuggestOptions(
        rerank="off",
        mode=args.mode,
        neighbours=args.neighbours,
        embedder=args.embedder,
        recall=RecallSpec(fusion=fusion, draft_evidence=args.draft_evidence == "on"),
    )
    methods = {m: base.with_recall(method=m) for m in args.methods.split(",") if m}
    trained_on = set(load_ranker().info.papers) if base.recall.learned else set()
    if args.ranker_dir is None and trained_on & {p.name for p in papers}:
        print(
            "warning: the shipped ranking model was trained on some of these papers: give --ranker-dir", file=sys.stderr
        )
    for spec in args.variant:
        name, options = parse_variant(spec, base)
        methods[name] = options
    if args.reranker:
        reranked = dataclasses.replace(base, rerank="on", reranker=args.reranker, backend=args.backend)
        methods["hybrid+rerank"] = reranked.with_recall(method="hybrid")
    console = Console(width=260)
    config = {"mode": args.mode, "neighbours": args.neighbours, "embedder": args.embedder}
    config |= {"title_only": args.title_only, "variants": args.variant} | dataclasses.asdict(fusion)
    config |= {"draft_evidence": args.draft_evidence, "ranker_dir": str(args.ranker_dir or "")}
    report: dict[str, object] = {"config": config}
    runs = [(s, r) for s in args.settings.split(",") for r in args.reading.split(",")]
    for setting_name, reading in runs:
        started = time.perf_counter()
        cache = args.cache.with_name(args.cache.name + "-title-only") if args.title_only else args.cache
        results, by_type = run_setting(setting_name, papers, methods, cache, args.title_only, reading, args.ranker_dir)
        setting = f"{setting_name}, {reading}"
        elapsed = time.perf_counter() - started
        print_table(setting, results, console)
        print_deltas(setting, results, console)
        console.print(f"R@10 per query type — {setting} library (contexts pooled over papers)")
        console.print(type_table(by_type, list(methods)), markup=False)
        console.print(f"{setting}: {elapsed:.0f} s")
        report[setting] = {
            method: {
                "papers": [p.to_json(with_contexts=True) for p in evals],
                "metrics": average([p.metrics for p in evals if p.n_contexts]),
            }
            for method, evals in results.items()
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
