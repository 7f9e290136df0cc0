"""Training the where-to-cite models (`citerec train check`): the prior, the fresh model and the draft model.

Each paper's sentences are read as `citerec check` reads them, embedded with the
index's embedder and recalled against the paper's own .bib (cached under the
cache folder, keyed by the sentences, so a rerun only refits). Labels: a
sentence cites or not. The prior and the fresh model (the prior's features and
the library's pointers) are measured leave-one-paper-out (average precision of
the cited sentences among all, per paper), then fitted on every paper. The draft
model is fitted on the same papers with a random 10-50 % of their citing
sentences hidden (DRAFT_DRAWS draws per paper): its features read the visible
citations, its positives are the hidden sentences, its negatives the sentences
that never cited.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citerec import __version__
from citerec.check.features import POINTER_NAMES, SentenceRow, read_sentences, text_features
from citerec.check.model import DRAFT_MODEL_FILE, FRESH_MODEL_FILE, KINDS, MODEL_FILE, fit_model
from citerec.linear import LinearModel, ModelInfo
from citerec.train.collection import CollectionPaper, manifest_hash, read_collection

log = logging.getLogger(__name__)

INPUTS_VERSION = "2"  # what the cache of a paper's vectors and library columns holds (bump when they change)
L2 = 100.0  # chosen on the corpus dev part, macro AP (finishing, fresh): 30 (.327, .408), 100 (.332, .411),
# 300 (.328, .411), 1000 (.322, .409), 3000 (.317, .407); on the twelve eval papers, leave one paper out, 1000 was best
DRAFT_L2 = 10.0  # finishing-reading macro AP: corpus dev (prior at 300) .3284 at 3, .3280 at 10, .3282 at 30;
# eval papers, leave one paper out, 0.246 at 1, 0.249 at 10, 0.241 at 100
DRAFT_DRAWS = 3  # hidings drawn per paper
DRAFT_HIDDEN = (0.1, 0.5)  # the share hidden is drawn from this range: a finishing draft lacks an unknown share


@dataclass(frozen=True)
class PaperData:
    """One paper's sentences with the text-only inputs of the model (vectors, library strength)."""

    name: str
    rows: tuple[SentenceRow, ...]
    embeddings: np.ndarray
    strength: np.ndarray

    @property
    def cited(self) -> np.ndarray:
        return np.array([r.cited for r in self.rows], dtype=bool)

    def features(self) -> tuple[np.ndarray, list[str]]:
        """The prior's features of every sentence, computed once (each leave-one-out fit reads them all)."""
        return self._features

    @functools.cached_property
    def _features(self) -> tuple[np.ndarray, list[str]]:
        return text_features(self.rows, self.embeddings, self.strength)


def load_paper(name: str, tex: Path, bibs: Sequence[Path], cache: Path) -> tuple[PaperData, str]:
    """Read, embed and recall one paper (from the cache when its sentences are unchanged), and the embedder."""
    from citerec.check.detector import embed_sentences, recall_strength
    from citerec.embed import DEFAULT_EMBEDDER
    from citerec.evaluate import build_eval_library
    from citerec.latex import read_draft
    from citerec.suggest import Suggester, SuggestOptions

    rows = tuple(read_sentences(read_draft(tex, bibs=bibs)))  # the .bib files mark the project's top
    texts = [r.text for r in rows]
    digest = hashlib.sha256("\0".join([INPUTS_VERSION, DEFAULT_EMBEDDER, *texts]).encode()).hexdigest()[:16]
    stored = cache / f"{name}-{digest}.npz"
    if stored.is_file():
        data = np.load(stored)
        return PaperData(name, rows, data["embeddings"], data["strength"]), DEFAULT_EMBEDDER
    library, _ = build_eval_library(list(bibs), cache / "libraries" / name)
    suggester = Suggester(library, options=SuggestOptions(rerank="off", embedder=DEFAULT_EMBEDDER))
    embeddings = embed_sentences(texts, suggester.index)
    strength = recall_strength(suggester, texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(stored, embeddings=embeddings, strength=strength)
    return PaperData(name, rows, embeddings, strength), suggester.index.embedder_name


def fit_prior(papers: Sequence[PaperData], info: ModelInfo, *, l2: float = L2, pointers: bool = False) -> LinearModel:
    """The prior model (or, with `pointers`, the fresh model) fitted on these papers' sentences."""
    blocks = [p.features() for p in papers]
    names = blocks[0][1]
    keep = [i for i, name in enumerate(names) if pointers or name not in POINTER_NAMES]
    x = np.vstack([b[0][:, keep] for b in blocks])
    y = np.concatenate([p.cited for p in papers]).astype(np.float64)
    kind = KINDS[(FRESH_MODEL_FILE if pointers else MODEL_FILE).name]
    return fit_model(x, y, [names[i] for i in keep], l2=l2, kind=kind, info=info)


def draft_examples(paper: PaperData, prior: LinearModel) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The draft model's training rows from one paper: DRAFT_DRAWS seeded hidings of its citations; every
    sentence without a visible citation is a row, labelled by whether its citation was hidden."""
    from citerec.check.detector import draft_inputs

    x, names = paper.features()
    logit = prior.logit(x, names)
    cited_at = np.flatnonzero(paper.cited)
    xs, ys, draft_names = [], [], []
    for draw in range(DRAFT_DRAWS):
        rng = np.random.default_rng(1000 + draw + zlib.crc32(paper.name.encode()))
        share = rng.uniform(*DRAFT_HIDDEN)
        hidden = np.zeros(len(paper.rows), dtype=bool)
        hidden[rng.choice(cited_at, size=max(1, round(share * len(cited_at))), replace=False)] = True
        visible = paper.cited & ~hidden
        features, draft_names = draft_inputs(paper.rows, x, names, paper.embeddings, visible, logit)
        xs.append(features[~visible])
        ys.append(hidden[~visible])
    return np.vstack(xs), np.concatenate(ys).astype(np.float64), draft_names


def fit_draft(papers: Sequence[PaperData], prior: LinearModel, info: ModelInfo, *, l2: float = DRAFT_L2) -> LinearModel:
    """The draft model fitted on these papers, reading `prior`'s logit (the prior fitted on the same papers)."""
    blocks = [draft_examples(p, prior) for p in papers if p.cited.any()]
    x = np.vstack([b[0] for b in blocks])
    y = np.concatenate([b[1] for b in blocks])
    return fit_model(x, y, blocks[0][2], l2=l2, kind=KINDS[DRAFT_MODEL_FILE.name], info=info)


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Average precision of the positives when ranked by score (ties broken by order)."""
    order = np.argsort(-scores, kind="stable")
    hits = positive[order].astype(np.float64)
    if hits.sum() == 0:
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def load_papers(listed: Sequence[CollectionPaper], cache: Path) -> tuple[list[PaperData], str]:
    """The papers of a collection read, embedded and recalled, and the embedder that read them."""
    papers, embedders = [], set()
    for paper in listed:
        data, embedder = load_paper(paper.name, paper.tex, paper.bibs, cache)
        log.info("%s: %d sentences, %d cited", paper.name, len(data.rows), int(data.cited.sum()))
        if not data.rows:
            log.warning("%s: %s gives no sentence; left out", paper.name, paper.tex)
            continue
        papers.append(data)
        embedders.add(embedder)
    if len(embedders) > 1:
        raise ValueError(f"the papers were embedded by several embedders: {sorted(embedders)}")
    return papers, embedders.pop() if embedders else ""


def leave_one_out(
    papers: Sequence[PaperData], info: ModelInfo, *, l2: float = L2, pointers: bool = False
) -> dict[str, LinearModel]:
    """For each paper, the prior (or fresh model) fitted on every other paper."""
    return {
        paper.name: fit_prior([*papers[:i], *papers[i + 1 :]], info, l2=l2, pointers=pointers)
        for i, paper in enumerate(papers)
    }


def leave_one_out_draft(papers: Sequence[PaperData], priors: dict[str, LinearModel]) -> dict[str, LinearModel]:
    """For each paper, the draft model fitted on every other paper over that paper's prior (which never saw it)."""
    return {
        p.name: fit_draft([q for q in papers if q.name != p.name], priors[p.name], priors[p.name].info) for p in papers
    }


def train_check(
    folder: Path,
    cache: Path,
    *,
    names: Sequence[str] | None = None,
    measured_on: Sequence[str] | None = None,
    l2: float = L2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, LinearModel]:
    """The three where-to-cite models (by file name) trained on the papers of `folder` (only `names`).

    `measured_on`: papers held out of training (a split's dev part) that the models are measured on. Without
    them each paper is measured by models fitted on the others (leave one paper out: twelve papers' way; on a
    corpus of a hundred, two hundred fits of 816 features would take an hour)."""
    listed = read_collection(folder, names)
    if len(listed) < 2:
        raise ValueError("training needs at least two papers (each is measured by a model fitted on the others)")
    papers, embedder = load_papers(listed, cache)
    held_out = load_papers(read_collection(folder, measured_on), cache)[0] if measured_on else None
    if progress is not None:
        progress(f"{len(papers)} papers read: {sum(len(p.rows) for p in papers)} sentences")
    base = ModelInfo(embedder, tuple(p.name for p in papers), manifest_hash(listed), citerec_version=__version__)
    how = f"on {len(held_out)} held-out papers" if held_out else "leave one paper out"
    models, priors = {}, {}
    for path, pointers in ((MODEL_FILE, False), (FRESH_MODEL_FILE, True)):
        hyper = {"l2": l2, "sentences": sum(len(p.rows) for p in papers), "library_pointers": pointers}
        fitted = fit_prior(papers, base, l2=l2, pointers=pointers)  # on every training paper
        held = {p.name: fitted for p in held_out} if held_out else leave_one_out(papers, base, l2=l2, pointers=pointers)
        priors[path.name] = held
        aps = {
            p.name: round(average_precision(held[p.name].logit(*p.features()), p.cited), 4) for p in held_out or papers
        }
        metrics = _measured(how, aps)
        if progress is not None:
            progress(f"{path.name}: macro AP {metrics['macro_average_precision']:.3f} ({how})")
        models[path.name] = dataclasses.replace(fitted, info=_with(base, hyper, metrics))
    hyper = {
        "l2": DRAFT_L2,
        "hidden_share": list(DRAFT_HIDDEN),
        "draws": DRAFT_DRAWS,
        "reads": "the prior's logit (model.json) and the draft's own citations",
    }
    prior = priors[MODEL_FILE.name]
    draft = fit_draft(papers, models[MODEL_FILE.name], base)
    if held_out:
        metrics = draft_metrics(held_out, prior, {p.name: draft for p in held_out}, how)
    else:
        metrics = draft_metrics(papers, prior, leave_one_out_draft(papers, prior), how)
    if progress is not None:
        progress(f"{DRAFT_MODEL_FILE.name}: macro AP {metrics['macro_average_precision']:.3f} ({how})")
    models[DRAFT_MODEL_FILE.name] = dataclasses.replace(draft, info=_with(base, hyper, metrics))
    return models


def _measured(how: str, aps: dict[str, float]) -> dict[str, object]:
    return {"measured": how, "average_precision": aps, "macro_average_precision": _macro(aps)}


def _macro(aps: dict[str, float]) -> float:
    return round(float(np.nanmean(list(aps.values()))), 4)


def draft_metrics(
    papers: Sequence[PaperData], priors: dict[str, LinearModel], drafts: dict[str, LinearModel], how: str
) -> dict[str, object]:
    """The draft model measured on held-out papers: each paper's seeded hidings (`draft_examples`, over a prior
    that never saw it) ranked by a draft model that never saw it (`drafts`); average precision of the hidden
    citations, and the prior's alone on the same rows (what reading the draft adds)."""
    from citerec.check.detector import PRIOR_LOGIT

    aps, prior_aps = {}, {}
    for paper in papers:
        if not paper.cited.any():
            continue
        x, y, names = draft_examples(paper, priors[paper.name])
        aps[paper.name] = round(average_precision(drafts[paper.name].logit(x, names), y.astype(bool)), 4)
        prior_aps[paper.name] = round(average_precision(x[:, names.index(PRIOR_LOGIT)], y.astype(bool)), 4)
    return _measured(how, aps) | {"prior_alone_macro_average_precision": _macro(prior_aps)}


def _with(info: ModelInfo, hyperparameters: dict[str, object], metrics: dict[str, object]) -> ModelInfo:
    return dataclasses.replace(info, hyperparameters=hyperparameters, metrics=metrics)
