"""Research runs around the learned ranking: held-out models, ablations, metadata as features.

`citerec train ranker --papers DIR` trains the shipped model (and `make models`
runs it); this script reuses its rows (`citerec.train.ranker`) to measure what
is not shipped, leave one paper out:

    python scripts/train_ranker.py --papers DIR [--held-out DIR] [--ablation] [--metadata] [--ablation-models DIR]

`--held-out DIR` writes each paper's model fitted on the other papers (DIR/<paper>.json) for
`benchmarks/quality.py --ranker-dir DIR`. `--ablation` leaves each evidence source out in turn (finishing
reading); `--ablation-models DIR` writes models trained on every paper with each feature group zeroed, for other
collections (benchmarks/acm_cr.py --variant name:draft_evidence=true,ranker=DIR/name.json). `--metadata` measures
what the candidate's year and whether it has an abstract would add as features (not shipped).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from citerec.embed import DEFAULT_EMBEDDER
from citerec.evaluate import build_eval_library, merge_keymaps
from citerec.index import ensure_index
from citerec.library import Library
from citerec.linear import ModelInfo
from citerec.papers import normalise_key
from citerec.recall.features import FEATURES
from citerec.recall.learned import FINISHING, FRESH
from citerec.train.collection import paper_bounds, read_collection
from citerec.train.ranker import PaperRows, ReadingRows, fit, paper_rows, ranker_model, recall_at_10

ABLATIONS = {  # evidence sources, each left out in turn
    "no proximity prior": ("cited_elsewhere", "log_count", "proximity", "nearest", "same_paragraph", "same_section"),
    "no context expansion": ("context_cos", "context_lex"),
    "no added candidates": (),  # rows of papers recall missed dropped instead
    "no window plan": ("window_rank",),
}
METADATA = {"year": [0, 1], "has abstract": [2], "both": [0, 1, 2]}  # columns of `metadata_columns`


def without(paper: PaperRows, features: tuple[str, ...], drop_added: bool) -> PaperRows:
    """The paper's finishing rows with `features` zeroed (and the rows of papers recall missed dropped)."""
    rows = paper.rows[FINISHING]
    x, y, which, keys = rows.features.copy(), rows.labels, rows.passage, rows.keys
    x[:, [FEATURES.index(f) for f in features]] = 0.0
    if drop_added:
        starts = np.searchsorted(which, np.arange(len(keys)))
        spans = zip(starts, rows.recalled, strict=True)
        keep = np.concatenate([np.arange(s, s + n) for s, n in spans]).astype(int)
        x, y, which = x[keep], y[keep], which[keep]
        keys = tuple(k[:n] for k, n in zip(keys, rows.recalled, strict=True))
    return PaperRows(paper.name, {FINISHING: ReadingRows(x, y, which, keys, rows.recalled)}, paper.truths)


def without_everywhere(paper: PaperRows, features: tuple[str, ...]) -> PaperRows:
    """The paper's rows in both readings with `features` zeroed."""
    columns = [FEATURES.index(f) for f in features]
    rows = {}
    for reading, found in paper.rows.items():
        x = found.features.copy()
        x[:, columns] = 0.0
        rows[reading] = dataclasses.replace(found, features=x)
    return PaperRows(paper.name, rows, paper.truths)


def metadata_columns(library: Library, paper: PaperRows) -> dict[str, np.ndarray]:
    """Per reading, three columns for every row: the paper's year z-scored among the passage's candidates that
    have one (0 without), whether it has a year, whether it has an abstract."""
    wanted = {k for r in paper.rows.values() for ks in r.keys for k in ks}
    found = {normalise_key(p.key): p for p in library.get_many(wanted).values()}
    out = {}
    for reading, rows in paper.rows.items():
        blocks = []
        for passage_keys in rows.keys:
            papers = [found.get(k) for k in passage_keys]
            years = np.array([float(p.year) if p is not None and p.year else np.nan for p in papers])
            known = ~np.isnan(years)
            z = np.zeros(len(papers))
            if known.sum() >= 2 and np.nanstd(years) > 0:
                z[known] = (years[known] - np.nanmean(years)) / np.nanstd(years)
            abstract = [float(p is not None and bool(p.abstract)) for p in papers]
            blocks.append(np.column_stack([z, known.astype(float), abstract]) if papers else np.zeros((0, 3)))
        out[reading] = np.vstack(blocks)
    return out


def metadata_trial(rows: list[PaperRows], metadata: list[dict[str, np.ndarray]]) -> dict[str, dict[str, list[float]]]:
    """Leave-one-paper-out R@10 in both readings with each metadata group added as features (none shipped)."""
    out = {}
    for name, columns in {"none": [], **METADATA}.items():
        papers = [
            PaperRows(
                p.name,
                {
                    r: dataclasses.replace(found, features=np.hstack([found.features, m[r][:, columns]]))
                    for r, found in p.rows.items()
                },
                p.truths,
            )
            for p, m in zip(rows, metadata, strict=True)
        ]
        scores: dict[str, list[float]] = {reading: [] for reading in (FRESH, FINISHING)}
        for i, paper in enumerate(papers):
            for reading in scores:
                scores[reading].append(recall_at_10(paper, reading, fit(papers[:i] + papers[i + 1 :], reading)))
        out[name] = scores
        cells = " ".join(f"{r} {np.mean(v):.3f} (lowest {min(v):.3f})" for r, v in scores.items())
        print(f"metadata {name:14} {cells}")
    return out


def ablation(rows: list[PaperRows]) -> dict[str, dict[str, float]]:
    """Leave-one-paper-out R@10 (finishing) with each evidence source left out, per paper and macro."""
    out = {}
    for name, features in ABLATIONS.items():
        papers = [without(p, features, drop_added=name == "no added candidates") for p in rows]
        scores = {}
        for i, paper in enumerate(papers):
            scores[paper.name] = recall_at_10(paper, FINISHING, fit(papers[:i] + papers[i + 1 :], FINISHING))
        scores["macro"] = float(np.mean(list(scores.values())))
        out[name] = scores
        print(f"{name:36} macro R@10 {scores['macro']:.3f}  lowest paper " + min(scores, key=scores.get))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=Path, required=True, help="folder with MANIFEST.tsv")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "citerec-train" / "ranker")
    parser.add_argument("--held-out", type=Path, default=None, help="write each paper's leave-one-out model here")
    parser.add_argument("--json", type=Path, default=None, help="write the tables here")
    parser.add_argument("--ablation", action="store_true", help="also leave each evidence source out in turn")
    parser.add_argument("--metadata", action="store_true", help="also measure year and has-abstract as features")
    parser.add_argument("--ablation-models", type=Path, default=None, help="write models without each feature group")
    args = parser.parse_args()

    papers = read_collection(args.papers)
    library, keymaps = build_eval_library([b for p in papers for b in p.bibs], args.cache / "pooled")
    index = ensure_index(library, embedder=DEFAULT_EMBEDDER)
    info = ModelInfo(index.embedder_name, tuple(p.name for p in papers))
    rows, metadata = [], []
    for paper, (a, b) in zip(papers, paper_bounds(papers), strict=True):
        rows.append(paper_rows(index, paper.tex, merge_keymaps(keymaps[a:b]), paper.name))
        if args.metadata:
            metadata.append(metadata_columns(library, rows[-1]))
        print(f"  {paper.name}: {len(rows[-1].truths)} passages", file=sys.stderr)
    report: dict[str, object] = {}
    if args.held_out is not None:
        for i, paper in enumerate(rows):
            ranker_model(rows[:i] + rows[i + 1 :], info).save(args.held_out / f"{paper.name}.json")
    if args.ablation_models is not None:
        for name, features in ABLATIONS.items():
            if features:
                ablated = ranker_model([without_everywhere(p, features) for p in rows], info)
                ablated.save(args.ablation_models / f"{name.replace(' ', '-')}.json")
    if args.ablation:
        report["ablation"] = ablation(rows)
    if args.metadata:
        report["metadata"] = metadata_trial(rows, metadata)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
