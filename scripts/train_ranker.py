"""Train the learned ranking (citerec/recall/models/ranker-v1.json) on the eval papers, and measure it honestly.

Every cited passage of every eval paper (one pooled library, as benchmarks/quality.py
reads them) is recalled with the passage and the window plans; each candidate
becomes a row of `citerec.recall.features.FEATURES`, labelled by whether the
passage cites it. Two logistic regressions (scikit-learn) are fitted: *finishing*
(the draft's other citations known, leave-one-out exact) and *fresh* (nothing
known). ACM-CR is never used here: it stays a test set.

Its effect is measured leave-one-paper-out: each paper ranked by a model fitted
on the other papers. `--held-out DIR` writes those models (DIR/<paper>.json) for
`benchmarks/quality.py --ranker-dir DIR`, which runs them through the pipeline.

    python scripts/train_ranker.py [--papers DIR] [--held-out DIR] [--out FILE] [--ablation]

`--metadata` measures (leave-one-paper-out, both readings, not shipped) what the
paper's metadata would add as features: its year (z-scored among the passage's
candidates) and whether it has an abstract.

`--ablation` also measures (leave-one-paper-out, finishing reading, the shipped
model without the per-draft adaptation) each evidence source left out, and
`--ablation-models DIR` writes models trained on every paper with each feature
group left out (DIR/<name>.json, its weights 0), for other collections
(benchmarks/acm_cr.py --variant name:draft_evidence=true,ranker=DIR/name.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from quality import DEFAULT_PAPERS, libraries, read_manifest  # noqa: E402

from citerec.evaluate import ranking_metrics  # noqa: E402
from citerec.latex import extract_contexts, read_draft  # noqa: E402
from citerec.library import Library  # noqa: E402
from citerec.papers import normalise_key  # noqa: E402
from citerec.recall import Passage, RecallSpec  # noqa: E402
from citerec.recall.evidence import draft_evidence  # noqa: E402
from citerec.recall.features import FEATURES, PlanLists, candidate_rows  # noqa: E402
from citerec.recall.learned import FINISHING, FRESH, MODEL_FILE, MODEL_VERSION, Part, RankerModel  # noqa: E402
from citerec.recall.plans import recall_window, recall_with_plan  # noqa: E402
from citerec.suggest import Suggester, SuggestOptions  # noqa: E402

OUT = REPO / "citerec" / "recall" / "models" / MODEL_FILE
ABLATIONS = {  # evidence sources, each left out in turn
    "no proximity prior": ("cited_elsewhere", "log_count", "proximity", "nearest", "same_paragraph", "same_section"),
    "no context expansion": ("context_cos", "context_lex"),
    "no added candidates": (),  # rows of papers recall missed dropped instead
    "no window plan": ("window_rank",),
}


@dataclass
class PaperRows:
    """One paper's rows per reading: (features, labels, passage of each row) and each passage's truth."""

    name: str
    rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, ...]], list[int]]]
    truths: list[tuple[str, ...]]


def paper_rows(suggester: Suggester, tex: Path, keymap: dict[str, str], name: str) -> PaperRows:
    """Every cited passage's candidate rows, in both readings (as `citerec eval` reads the paper)."""
    contexts = [c for c in extract_contexts(read_draft(tex)) if c.cited_keys]
    passages, truths = [], []
    for context in contexts:
        truth = tuple(dict.fromkeys(keymap[k] for k in map(normalise_key, context.cited_keys) if k in keymap))
        if truth:
            passages.append(Passage.of(context))
            truths.append(truth)
    spec = RecallSpec(plan="passage")
    index = suggester.index
    recalled = recall_with_plan(index, passages, spec)
    window = recall_window(index, passages, spec)
    out = {}
    for reading, known in ((FINISHING, truths), (FRESH, ())):
        rows = candidate_rows(index, PlanLists.of(passages, recalled, window), draft_evidence(passages, known))
        labels = [
            np.asarray([k in {normalise_key(t) for t in truth} for k in r.keys])
            for r, truth in zip(rows, truths, strict=True)
        ]
        which = [np.full(len(r.keys), i) for i, r in enumerate(rows)]
        keys = [r.keys for r in rows]
        recalled_count = [sum(c is not None for c in r.recalled) for r in rows]
        features = np.vstack([r.features for r in rows])
        out[reading] = (features, np.concatenate(labels), np.concatenate(which), keys, recalled_count)
    return PaperRows(name, out, truths)


def fit(papers: list[PaperRows], reading: str) -> Part:
    """A logistic regression on the rows of `papers` in one reading (standardised features)."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([p.rows[reading][0] for p in papers]).astype(np.float64)
    y = np.concatenate([p.rows[reading][1] for p in papers])
    if not y.any():
        raise SystemExit("no cited paper among the candidates: nothing to learn from")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model = LogisticRegression(max_iter=2000).fit((x - mean) / scale, y)
    return Part(tuple(mean.tolist()), tuple(scale.tolist()), tuple(model.coef_[0].tolist()), float(model.intercept_[0]))


def recall_at_10(paper: PaperRows, reading: str, part: Part | None) -> float:
    """Macro Recall@10 of a paper's passages ranked by `part` (None: the passage plan's own order)."""
    x, _, which, keys, recalled_count = paper.rows[reading]
    scores = part.logits(x) if part is not None else -np.arange(len(x), dtype=np.float64)
    values = []
    for i, truth in enumerate(paper.truths):
        mine = np.flatnonzero(which == i)
        if part is None:  # recalled papers first, in recall order; added ones never ranked
            mine = mine[: recalled_count[i]]
        order = mine[np.argsort(-scores[mine], kind="stable")]
        ranked = [keys[i][j - mine[0]] for j in order][:50] if len(mine) else []
        values.append(ranking_metrics(ranked, truth)["recall@10"])
    return float(np.mean(values)) if values else 0.0


def model_of(papers: list[PaperRows]) -> RankerModel:
    parts = {reading: fit(papers, reading) for reading in (FINISHING, FRESH)}
    return RankerModel(MODEL_VERSION, FEATURES, parts, tuple(p.name for p in papers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=Path, default=DEFAULT_PAPERS, help="folder with MANIFEST.tsv")
    parser.add_argument("--cache", type=Path, default=REPO / ".bench-cache" / "quality", help="kept libraries")
    parser.add_argument("--out", type=Path, default=OUT, help="where the model trained on every paper goes")
    parser.add_argument("--held-out", type=Path, default=None, help="write each paper's leave-one-out model here")
    parser.add_argument("--json", type=Path, default=None, help="write the leave-one-paper-out table here")
    parser.add_argument("--ablation", action="store_true", help="also leave each evidence source out in turn")
    parser.add_argument("--metadata", action="store_true", help="also measure year and has-abstract as features")
    parser.add_argument("--ablation-models", type=Path, default=None, help="write models without each feature group")
    args = parser.parse_args()

    papers = read_manifest(args.papers)
    rows: list[PaperRows] = []
    metadata: list[dict[str, np.ndarray]] = []
    for library, evaluated in libraries("pooled", papers, args.cache):
        suggester = Suggester(library, options=SuggestOptions(rerank="off"))
        for paper, keymap in evaluated:
            rows.append(paper_rows(suggester, paper.tex, keymap, paper.name))
            if args.metadata:
                metadata.append(metadata_columns(library, rows[-1]))
            print(f"  {paper.name}: {len(rows[-1].truths)} passages", file=sys.stderr)
    table = {}
    print(f"{'paper':36} {'passage':>8} {'fresh':>8} {'finishing':>9}")
    for i, paper in enumerate(rows):
        others = rows[:i] + rows[i + 1 :]
        model = model_of(others)
        if args.held_out is not None:
            args.held_out.mkdir(parents=True, exist_ok=True)
            (args.held_out / f"{paper.name}.json").write_text(json.dumps(model.to_json(), indent=1))
        table[paper.name] = {
            "passage": recall_at_10(paper, FRESH, None),
            FRESH: recall_at_10(paper, FRESH, model.parts[FRESH]),
            FINISHING: recall_at_10(paper, FINISHING, model.parts[FINISHING]),
        }
        cells = " ".join(f"{table[paper.name][c]:8.3f}" for c in ("passage", FRESH, FINISHING))
        print(f"{paper.name:36} {cells}")
    macro = {c: float(np.mean([t[c] for t in table.values()])) for c in ("passage", FRESH, FINISHING)}
    print(f"{'macro (leave-one-paper-out)':36} " + " ".join(f"{macro[c]:8.3f}" for c in ("passage", FRESH, FINISHING)))
    model = model_of(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n")
    print(f"wrote {args.out}")
    if args.ablation_models is not None:
        args.ablation_models.mkdir(parents=True, exist_ok=True)
        for name, features in ABLATIONS.items():
            if features:
                ablated = model_of([without_everywhere(p, features) for p in rows])
                path = args.ablation_models / f"{name.replace(' ', '-')}.json"
                path.write_text(json.dumps(ablated.to_json(), indent=1) + "\n")
    report: dict[str, object] = {"papers": table, "macro": macro}
    if args.ablation:
        report["ablation"] = ablation(rows)
    if args.metadata:
        report["metadata"] = metadata_trial(rows, metadata)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


def without(paper: PaperRows, features: tuple[str, ...], drop_added: bool) -> PaperRows:
    """The paper's finishing rows with `features` zeroed (and the rows of papers recall missed dropped)."""
    x, y, which, keys, recalled_count = paper.rows[FINISHING]
    x = x.copy()
    x[:, [FEATURES.index(f) for f in features]] = 0.0
    if drop_added:
        starts = np.searchsorted(which, np.arange(len(keys)))
        keep = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, recalled_count, strict=True)]).astype(int)
        x, y, which = x[keep], y[keep], which[keep]
        keys = [k[:n] for k, n in zip(keys, recalled_count, strict=True)]
    return PaperRows(paper.name, {FINISHING: (x, y, which, keys, recalled_count)}, paper.truths)


def without_everywhere(paper: PaperRows, features: tuple[str, ...]) -> PaperRows:
    """The paper's rows in both readings with `features` zeroed."""
    columns = [FEATURES.index(f) for f in features]
    rows = {}
    for reading, (x, *rest) in paper.rows.items():
        x = x.copy()
        x[:, columns] = 0.0
        rows[reading] = (x, *rest)
    return PaperRows(paper.name, rows, paper.truths)  # type: ignore[arg-type]


METADATA = {"year": [0, 1], "has abstract": [2], "both": [0, 1, 2]}  # columns of `metadata_columns`


def metadata_columns(library: Library, paper: PaperRows) -> dict[str, np.ndarray]:
    """Per reading, three columns for every row: the paper's year z-scored among the passage's candidates that
    have one (0 without), whether it has a year, whether it has an abstract."""
    found = {
        normalise_key(p.key): p
        for p in library.get_many({k for r in paper.rows.values() for ks in r[3] for k in ks}).values()
    }
    out = {}
    for reading, (_, _, _, keys, _) in paper.rows.items():
        blocks = []
        for passage_keys in keys:
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
                p.name, {r: (np.hstack([x, m[r][:, columns]]), *rest) for r, (x, *rest) in p.rows.items()}, p.truths
            )
            for p, m in zip(rows, metadata, strict=True)
        ]
        scores = {reading: [] for reading in (FRESH, FINISHING)}
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
            part = fit(papers[:i] + papers[i + 1 :], FINISHING)
            scores[paper.name] = recall_at_10(paper, FINISHING, part)
        scores["macro"] = float(np.mean(list(scores.values())))
        out[name] = scores
        print(f"{name:36} macro R@10 {scores['macro']:.3f}  lowest paper " + min(scores, key=scores.get))
    return out


if __name__ == "__main__":
    main()
