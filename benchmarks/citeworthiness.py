"""Where to cite, measured on the eval papers: does `citerec check` find the citations a writer left out?

Two readings of every paper, each scored leave-one-paper-out (the prior model of
a paper never saw it):

- finishing: the citation commands of a seeded 30 % of the citing sentences are
  hidden; the draft model reads the other 70 % (its paper's draft model was
  trained on the other eleven papers); every sentence without a citation is
  ranked, and the hidden ones are the positives;
- fresh: every citation is hidden (the fresh model alone: the prior's
  features and the library's pointers); every citing sentence is a positive.

Metrics: average precision (AP), precision at n (n = number hidden), ROC AUC,
and precision/recall/F1 at the default threshold (what a user sees), per paper
and macro; beside a random ranking (mean of 20 draws) and the cue-words rule,
measured in the same run.

`--library pooled` scores sentences recalled from one library of every
paper's .bib instead of the paper's own (which its draft cites in full): the
models still learn from the own libraries, so this reads how they carry to a
library holding many papers the draft never cites.

`--models DIR` scores every paper with the three model files in DIR instead
(the shipped ones: `--models shipped`); repeat it to compare model sets on the
same sentences in one run. With `--part train|dev|test` only that part of the
corpus split is read (`--papers` the unpacked corpus): models trained on the
train part are compared with the shipped ones on dev or test.

    python benchmarks/citeworthiness.py [--papers DIR] [--cache DIR] [--library own|pooled] [--json out.json]
    python benchmarks/citeworthiness.py --papers CORPUS --part test --models shipped --models trained/
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _measure import table  # noqa: E402

from citerec.check.detector import DEFAULT_THRESHOLD, recall_strength, score_rows  # noqa: E402
from citerec.check.features import cue_rule_scores  # noqa: E402
from citerec.linear import LinearModel, ModelInfo  # noqa: E402
from citerec.train.check import (  # noqa: E402
    L2,
    PaperData,
    average_precision,
    leave_one_out,
    leave_one_out_draft,
    load_papers,
)
from citerec.train.collection import read_collection  # noqa: E402
from citerec.train.splits import PARTS, read_split  # noqa: E402

DEFAULT_PAPERS = REPO.parent / "shared" / "eval" / "papers"
DEFAULT_CACHE = REPO / ".bench-cache" / "citeworthiness"
CORPUS_SPLIT = REPO / "data" / "splits" / "corpus.json"
SHIPPED = "shipped"

HIDE_SHARE = 0.30
SEED = 23
RANDOM_DRAWS = 20
CUE_RULE_CUT = 1.0  # the cue rule flags a sentence from this weighted cue count

log = logging.getLogger("citeworthiness")


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive outranks a negative (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def metrics(scores: np.ndarray, positive: np.ndarray, flagged: np.ndarray | None) -> dict[str, float]:
    n = int(positive.sum())
    top = np.argsort(-scores, kind="stable")[:n]
    out = {
        "ap": average_precision(scores, positive),
        "p@n": float(positive[top].mean()) if n else float("nan"),
        "auc": roc_auc(scores, positive),
    }
    if flagged is not None:
        hits = int((flagged & positive).sum())
        precision = hits / flagged.sum() if flagged.sum() else 0.0
        recall = hits / n if n else 0.0
        out |= {
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "flagged": int(flagged.sum()),
        }
    return out


def hidden_mask(paper: PaperData, share: float = HIDE_SHARE) -> np.ndarray:
    """A fixed, seeded `share` of the paper's citing sentences."""
    cited = np.flatnonzero(paper.cited)
    rng = np.random.default_rng(SEED + zlib.crc32(paper.name.encode()))
    chosen = rng.choice(cited, size=round(share * len(cited)), replace=False)
    mask = np.zeros(len(paper.rows), dtype=bool)
    mask[chosen] = True
    return mask


def evaluate(
    paper: PaperData, models: tuple[LinearModel, LinearModel, LinearModel], reading: str
) -> dict[str, dict[str, float]]:
    """One paper in one reading: the detector (its prior, fresh and draft models), the cue rule and random, on the
    same sentences."""
    model, fresh_model, draft_model = models
    hidden = hidden_mask(paper) if reading == "finishing" else paper.cited
    visible = paper.cited & ~hidden
    scores, adapted = score_rows(
        paper.rows,
        paper.embeddings,
        paper.strength,
        model=model,
        fresh_model=fresh_model,
        draft_model=draft_model,
        cited=visible,
    )
    pool = ~visible  # every sentence without a (visible) citation is ranked
    positive = hidden[pool]
    jitter = np.random.default_rng(SEED).random(len(paper.rows)) * 1e-6  # ties in the cue rule: random order
    cues = cue_rule_scores(paper.rows) + jitter
    rng = np.random.default_rng(SEED)
    draws = [metrics(rng.random(int(pool.sum())), positive, None) for _ in range(RANDOM_DRAWS)]
    return {
        "detector": metrics(scores[pool], positive, scores[pool] >= DEFAULT_THRESHOLD) | {"adapted": float(adapted)},
        "cue_rule": metrics(cues[pool], positive, cues[pool] >= CUE_RULE_CUT),
        "random": {k: float(np.mean([d[k] for d in draws])) for k in draws[0]},
        "counts": {"ranked": int(pool.sum()), "hidden": int(positive.sum())},
    }


def with_pooled_library(papers: list[PaperData], folder: Path, cache: Path) -> list[PaperData]:
    """The papers with their library columns recalled from one library of every (read) paper's .bib."""
    from citerec.evaluate import build_eval_library
    from citerec.suggest import Suggester, SuggestOptions

    listed = read_collection(folder, [p.name for p in papers])
    bibs = sorted({bib for paper in listed for bib in paper.bibs})
    library, _ = build_eval_library(bibs, cache / "libraries" / f"_pooled-{len(listed)}")
    suggester = Suggester(library, options=SuggestOptions(rerank="off"))
    return [dataclasses.replace(p, strength=recall_strength(suggester, [r.text for r in p.rows])) for p in papers]


def macro(per_paper: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for method in ("detector", "cue_rule", "random"):
        keys = next(iter(per_paper.values()))[method].keys()
        out[method] = {k: float(np.nanmean([p[method][k] for p in per_paper.values()])) for k in keys}
    return out


def _row(name: str, r: dict[str, dict[str, float]]) -> list[object]:
    d, c, z = r["detector"], r["cue_rule"], r["random"]
    return [
        name,
        r.get("counts", {}).get("ranked", ""),
        r.get("counts", {}).get("hidden", ""),
        f"{d['ap']:.3f}",
        f"{c['ap']:.3f}",
        f"{z['ap']:.3f}",
        f"{d['p@n']:.3f}",
        f"{c['p@n']:.3f}",
        f"{d['auc']:.3f}",
        f"{c['auc']:.3f}",
        f"{d['precision']:.3f}",
        f"{d['recall']:.3f}",
        f"{d['f1']:.3f}",
        f"{c['f1']:.3f}",
    ]


HEADERS = ["paper", "ranked", "hidden", "AP", "AP cue", "AP rand", "P@n", "P@n cue", "AUC", "AUC cue",
           "P@thr", "R@thr", "F1@thr", "F1 cue"]  # fmt: skip


def fixed_models(folder: str, papers: list[PaperData]) -> dict[str, tuple[LinearModel, LinearModel, LinearModel]]:
    """Every paper scored by the same three models: the ones in `folder` (`shipped`: citerec's own)."""
    from citerec.check.model import DRAFT_MODEL_FILE, FRESH_MODEL_FILE, MODEL_FILE
    from citerec.linear import load_model

    where = MODEL_FILE.parent if folder == SHIPPED else Path(folder)
    models = tuple(load_model(where / f.name) for f in (MODEL_FILE, FRESH_MODEL_FILE, DRAFT_MODEL_FILE))
    return {p.name: models for p in papers}  # type: ignore[misc]


def held_out_models(papers: list[PaperData], embedder: str) -> dict[str, tuple[LinearModel, LinearModel, LinearModel]]:
    """Each paper scored by models fitted on the other papers (leave one paper out)."""
    info = ModelInfo(embedder)
    models = leave_one_out(papers, info, l2=L2)
    fresh_models = leave_one_out(papers, info, l2=L2, pointers=True)
    draft_models = leave_one_out_draft(papers, models)
    return {p.name: (models[p.name], fresh_models[p.name], draft_models[p.name]) for p in papers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=Path, default=DEFAULT_PAPERS)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--library", choices=("own", "pooled"), default="own", help="what the sentences recall from")
    parser.add_argument("--part", choices=PARTS, help="only this part of the corpus split (--papers: the corpus)")
    parser.add_argument("--split-file", type=Path, default=CORPUS_SPLIT)
    parser.add_argument(
        "--models", action="append", help=f"a folder of the three model files ('{SHIPPED}': citerec's); repeatable"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("citerec", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    names = list(read_split(args.split_file).names(args.part)) if args.part else None
    papers, embedder = load_papers(read_collection(args.papers, names), args.cache)
    model_sets = (
        {folder: fixed_models(folder, papers) for folder in args.models}
        if args.models
        else {"leave one paper out": held_out_models(papers, embedder)}
    )
    if args.library == "pooled":
        papers = with_pooled_library(papers, args.papers, args.cache)
    report: dict[str, object] = {
        "library": args.library,
        "part": args.part,
        "seed": SEED,
        "hide_share": HIDE_SHARE,
        "threshold": DEFAULT_THRESHOLD,
    }
    for label, models in model_sets.items():
        report[label] = {}
        for reading in ("finishing", "fresh"):
            per_paper = {p.name: evaluate(p, models[p.name], reading) for p in papers}
            total = macro(per_paper)
            rows = [_row(name, r) for name, r in per_paper.items()] + [_row("**macro**", total)]
            what = "30 % of citing sentences hidden" if reading == "finishing" else "every citation hidden"
            print(f"\n### {label}: {reading} reading ({what})\n")
            print(table(HEADERS, rows))
            d, c, z = total["detector"], total["cue_rule"], total["random"]
            print(
                f"\nmacro AP {d['ap']:.3f} = {d['ap'] / z['ap']:.2f}× random ({z['ap']:.3f}), "
                f"{d['ap'] - c['ap']:+.3f} vs cue rule ({c['ap']:.3f}); "
                f"at threshold {DEFAULT_THRESHOLD}: precision {d['precision']:.3f}, recall {d['recall']:.3f}"
            )
            report[label][reading] = {"papers": per_paper, "macro": total}  # type: ignore[index]
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
