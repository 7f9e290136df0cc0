"""Training the learned ranking (`citerec train ranker`): rows from a collection's cited passages, two parts.

Every cited passage of every paper (one pooled library of all the papers' .bib
files, as `benchmarks/quality.py` reads them) is recalled with the passage and
window plans; each candidate becomes a row of `RANKER_FEATURES`, labelled by
whether the passage cites it. Two L2-penalised logistic regressions are fitted:
*finishing* (the draft's other citations known, leave-one-out exact) and *fresh*
(nothing known). Each paper is also ranked by a model fitted on the others
(leave one paper out): those Recall@10 figures are the metrics the model file
records. Collections used only for testing (ACM-CR) never come here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citerec import __version__
from citerec.linear import LinearModel, ModelInfo, Part, fit_standardised
from citerec.recall.learned import FINISHING, FRESH, KIND

log = logging.getLogger(__name__)

L2 = 1.0  # penalty on the standardised weights: the shipped ranking's since it was first trained
READINGS = (FINISHING, FRESH)


@dataclass(frozen=True)
class ReadingRows:
    """One reading's rows of a paper: features, labels, the passage of each row, candidate keys and how many of
    each passage's candidates recall found (the rest the evidence added)."""

    features: np.ndarray
    labels: np.ndarray
    passage: np.ndarray
    keys: tuple[tuple[str, ...], ...]
    recalled: tuple[int, ...]


@dataclass(frozen=True)
class PaperRows:
    """One paper's rows per reading and each cited passage's truth."""

    name: str
    rows: dict[str, ReadingRows]
    truths: tuple[tuple[str, ...], ...]


def paper_rows(index: object, tex: Path, keymap: dict[str, str], name: str, bibs: Sequence[Path] = ()) -> PaperRows:
    """Every cited passage's candidate rows, in both readings (as `citerec eval` reads the paper)."""
    from citerec.latex import extract_contexts, read_draft
    from citerec.papers import normalise_key
    from citerec.recall import Passage, RecallSpec
    from citerec.recall.evidence import draft_evidence
    from citerec.recall.features import FEATURES, PlanLists, candidate_rows
    from citerec.recall.plans import recall_window, recall_with_plan

    passages, truths = [], []
    for context in extract_contexts(read_draft(tex, bibs=bibs)):  # the .bib files mark the project's top
        truth = tuple(dict.fromkeys(keymap[k] for k in map(normalise_key, context.cited_keys) if k in keymap))
        if truth:
            passages.append(Passage.of(context))
            truths.append(truth)
    spec = RecallSpec(plan="passage")
    recalled = recall_with_plan(index, passages, spec)  # type: ignore[arg-type]
    window = recall_window(index, passages, spec)  # type: ignore[arg-type]
    out = {}
    for reading, known in ((FINISHING, truths), (FRESH, ())):
        lists = PlanLists.of(passages, recalled, window)
        rows = candidate_rows(index, lists, draft_evidence(passages, known))  # type: ignore[arg-type]
        labels = [
            np.asarray([k in {normalise_key(t) for t in truth} for k in r.keys], dtype=bool)
            for r, truth in zip(rows, truths, strict=True)
        ]
        out[reading] = ReadingRows(
            np.vstack([r.features for r in rows]) if rows else np.zeros((0, len(FEATURES)), np.float32),
            np.concatenate(labels) if labels else np.zeros(0, bool),
            np.concatenate([np.full(len(r.keys), i) for i, r in enumerate(rows)]) if rows else np.zeros(0, int),
            tuple(r.keys for r in rows),
            tuple(sum(c is not None for c in r.recalled) for r in rows),
        )
    return PaperRows(name, out, tuple(truths))


def fit(papers: Sequence[PaperRows], reading: str, l2: float = L2) -> Part:
    """A logistic regression on the rows of `papers` in one reading (standardised features)."""
    x = np.vstack([p.rows[reading].features for p in papers]).astype(np.float64)
    y = np.concatenate([p.rows[reading].labels for p in papers]).astype(np.float64)
    if not y.any():
        raise ValueError("no cited paper among the candidates: nothing to learn from")
    mean, scale, weights, bias = fit_standardised(x, y, l2)
    return Part(tuple(mean.tolist()), tuple(scale.tolist()), tuple(weights.tolist()), bias)


def recall_at_10(paper: PaperRows, reading: str, part: Part | None) -> float:
    """Macro Recall@10 of a paper's passages ranked by `part` (None: the passage plan's own order)."""
    from citerec.evaluate import ranking_metrics

    rows = paper.rows[reading]
    scores = part.logits(rows.features) if part is not None else -np.arange(len(rows.features), dtype=np.float64)
    values = []
    for i, truth in enumerate(paper.truths):
        mine = np.flatnonzero(rows.passage == i)
        if part is None:  # recalled papers first, in recall order; added ones never ranked
            mine = mine[: rows.recalled[i]]
        order = mine[np.argsort(-scores[mine], kind="stable")]
        ranked = [rows.keys[i][j - mine[0]] for j in order][:50] if len(mine) else []
        values.append(ranking_metrics(ranked, truth)["recall@10"])
    return float(np.mean(values)) if values else 0.0


def leave_one_paper_out(papers: Sequence[PaperRows], l2: float = L2) -> dict[str, dict[str, float]]:
    """Each paper's Recall@10 by the passage plan and by parts fitted on the other papers, both readings."""
    table = {}
    for i, paper in enumerate(papers):
        others = [*papers[:i], *papers[i + 1 :]]
        table[paper.name] = {"passage": recall_at_10(paper, FRESH, None)} | {
            reading: recall_at_10(paper, reading, fit(others, reading, l2)) for reading in READINGS
        }
    return table


def ranker_model(papers: Sequence[PaperRows], info: ModelInfo, l2: float = L2) -> LinearModel:
    from citerec.recall.features import FEATURES

    return LinearModel(KIND, FEATURES, {reading: fit(papers, reading, l2) for reading in READINGS}, info)


def train_ranker(
    folder: Path,
    cache: Path,
    *,
    names: Sequence[str] | None = None,
    l2: float = L2,
    progress: Callable[[str], None] | None = None,
) -> tuple[LinearModel, dict[str, dict[str, float]]]:
    """The ranking model trained on the papers of `folder` (only `names` when given), and its leave-one-paper-out
    table (also in the model's metrics)."""
    from citerec.embed import DEFAULT_EMBEDDER
    from citerec.evaluate import build_eval_library, merge_keymaps
    from citerec.index import ensure_index
    from citerec.train.collection import manifest_hash, paper_bounds, read_collection

    papers = read_collection(folder, names)
    if len(papers) < 2:
        raise ValueError("training needs at least two papers (each is measured by a model fitted on the others)")
    library, keymaps = build_eval_library([b for p in papers for b in p.bibs], cache / "pooled")
    index = ensure_index(library, embedder=DEFAULT_EMBEDDER)
    rows = []
    for paper, (a, b) in zip(papers, paper_bounds(papers), strict=True):
        rows.append(paper_rows(index, paper.tex, merge_keymaps(keymaps[a:b]), paper.name, paper.bibs))
        if progress is not None:
            progress(f"{paper.name}: {len(rows[-1].truths)} cited passages")
    table = leave_one_paper_out(rows, l2)
    macro = {column: round(float(np.mean([t[column] for t in table.values()])), 4) for column in ("passage", *READINGS)}
    info = ModelInfo(
        embedder=index.embedder_name,
        papers=tuple(p.name for p in papers),
        manifest_hash=manifest_hash(papers),
        hyperparameters={"l2": l2, "library": "pooled", "plans": ["passage", "window"]},
        metrics={
            "leave_one_paper_out_recall@10": {n: {c: round(v, 4) for c, v in t.items()} for n, t in table.items()},
            "macro_recall@10": macro,
        },
        citerec_version=__version__,
    )
    return ranker_model(rows, info, l2), table
