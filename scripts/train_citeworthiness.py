"""Train the cite-worthiness models shipped in citerec/check/ (model.json, fresh_model.json, draft_model.json), from the
eval papers only.

Each paper's sentences are read as `citerec check` reads them, embedded with the
bundled MiniLM and recalled against the paper's own .bib (cached under --cache,
keyed by the sentences, so a rerun only refits). Labels: a sentence cites or not.
The prior model and the fresh model (the prior's features and the library's
pointers) are each measured leave-one-paper-out first (average precision of the
cited sentences among all, per paper), then fitted on every paper and written.
The draft model is fitted on the same papers with a random 10-50 % of their
citing sentences hidden (DRAFT_DRAWS draws per paper): its features read the
visible citations, its positives are the hidden sentences, its negatives the
sentences that never cited. benchmarks/citeworthiness.py measures both
leave-one-paper-out.

    python scripts/train_citeworthiness.py [--papers DIR] [--cache DIR] [--out-dir citerec/check]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from quality import read_manifest  # noqa: E402

from citerec.check.detector import draft_inputs, embed_sentences, recall_strength  # noqa: E402
from citerec.check.features import POINTER_NAMES, SentenceRow, read_sentences, text_features  # noqa: E402
from citerec.check.model import DRAFT_MODEL_FILE, FRESH_MODEL_FILE, MODEL_FILE, CiteModel, load_model  # noqa: E402

DEFAULT_PAPERS = REPO.parent / "shared" / "eval" / "papers"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "citerec-citeworthiness"
VERSION = "2"  # 2: the fresh model (the library's pointers, detector.library_pointers) ships beside the prior
INPUTS_VERSION = "2"  # what the cache of a paper's vectors and library columns holds (bump when they change)
L2 = 1000.0  # chosen leave-one-paper-out: macro AP 0.290 at 30, 0.307 at 200, 0.324 at 1000, 0.322 at 3000
DRAFT_L2 = 10.0  # finishing-reading macro AP, leave-one-paper-out: 0.246 at 1, 0.249 at 10, 0.241 at 100
DRAFT_DRAWS = 3  # hidings drawn per paper
DRAFT_HIDDEN = (0.1, 0.5)  # the share hidden is drawn from this range: a finishing draft lacks an unknown share

log = logging.getLogger("train_citeworthiness")


@dataclass(frozen=True)
class PaperData:
    """One eval paper's sentences with the text-only inputs of the model (vectors, library strength)."""

    name: str
    rows: tuple[SentenceRow, ...]
    embeddings: np.ndarray
    strength: np.ndarray

    @property
    def cited(self) -> np.ndarray:
        return np.array([r.cited for r in self.rows], dtype=bool)

    def features(self) -> tuple[np.ndarray, list[str]]:
        return text_features(self.rows, self.embeddings, self.strength)


def load_paper(name: str, tex: Path, bibs: tuple[Path, ...], cache: Path) -> PaperData:
    """Read, embed and recall one paper (from the cache when its sentences are unchanged)."""
    from citerec.evaluate import build_eval_library
    from citerec.latex import read_draft
    from citerec.suggest import Suggester, SuggestOptions

    rows = tuple(read_sentences(read_draft(tex)))
    texts = [r.text for r in rows]
    digest = hashlib.sha256("\0".join([INPUTS_VERSION, *texts]).encode()).hexdigest()[:16]
    stored = cache / f"{name}-{digest}.npz"
    if stored.is_file():
        data = np.load(stored)
        return PaperData(name, rows, data["embeddings"], data["strength"])
    library, _ = build_eval_library(list(bibs), cache / "libraries" / name)
    suggester = Suggester(library, options=SuggestOptions(rerank="off"))
    embeddings = embed_sentences(texts)
    strength = recall_strength(suggester, texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(stored, embeddings=embeddings, strength=strength)
    return PaperData(name, rows, embeddings, strength)


def load_papers(folder: Path, cache: Path) -> list[PaperData]:
    papers = []
    for paper in read_manifest(folder):
        data = load_paper(paper.name, paper.tex, paper.bibs, cache)
        log.info("%s: %d sentences, %d cited", paper.name, len(data.rows), int(data.cited.sum()))
        papers.append(data)
    return papers


def fit(papers: list[PaperData], *, l2: float = L2, pointers: bool = False) -> CiteModel:
    """The prior model (or, with `pointers`, the fresh model) fitted on these papers' sentences."""
    blocks = [p.features() for p in papers]
    names = blocks[0][1]
    keep = [i for i, name in enumerate(names) if pointers or name not in POINTER_NAMES]
    x = np.vstack([b[0][:, keep] for b in blocks])
    y = np.concatenate([p.cited for p in papers]).astype(np.float64)
    return CiteModel.fit(x, y, [names[i] for i in keep], l2=l2, version=VERSION)


def leave_one_out(
    papers: list[PaperData], *, l2: float = L2, cache: Path | None = None, pointers: bool = False
) -> dict[str, CiteModel]:
    """For each paper, the model fitted on every other paper (kept in `cache` while code and data stay the same)."""
    import citerec.check.detector as detector_module
    import citerec.check.features as features_module

    sources = (features_module.__file__, detector_module.__file__, __file__)
    code = b"".join(Path(source).read_bytes() for source in sources)
    inputs = repr((l2, pointers, [(p.name, len(p.rows)) for p in papers]))
    digest = hashlib.sha256(code + inputs.encode()).hexdigest()[:12]
    models = {}
    for paper in papers:
        stored = cache / f"lopo-{paper.name}-{digest}.json" if cache else None
        if stored is not None and stored.is_file():
            models[paper.name] = load_model(stored)
            continue
        models[paper.name] = fit([q for q in papers if q.name != paper.name], l2=l2, pointers=pointers)
        if stored is not None:
            models[paper.name].save(stored)
    return models


def draft_examples(paper: PaperData, prior: CiteModel) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The draft model's training rows from one paper: DRAFT_DRAWS seeded hidings of its citations; every
    sentence without a visible citation is a row, labelled by whether its citation was hidden."""
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


def fit_draft(papers: list[PaperData], prior: CiteModel, *, l2: float = DRAFT_L2) -> CiteModel:
    """The draft model fitted on these papers, reading `prior`'s logit (the prior fitted on the same papers)."""
    blocks = [draft_examples(p, prior) for p in papers]
    x = np.vstack([b[0] for b in blocks])
    y = np.concatenate([b[1] for b in blocks])
    return CiteModel.fit(x, y, blocks[0][2], l2=l2, version=VERSION)


def leave_one_out_draft(papers: list[PaperData], priors: dict[str, CiteModel]) -> dict[str, CiteModel]:
    """For each paper, the draft model fitted on every other paper over that paper's prior (which never saw it)."""
    return {p.name: fit_draft([q for q in papers if q.name != p.name], priors[p.name]) for p in papers}


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Average precision of the positives when ranked by score (ties broken by order)."""
    order = np.argsort(-scores, kind="stable")
    hits = positive[order].astype(np.float64)
    if hits.sum() == 0:
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=Path, default=DEFAULT_PAPERS)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out-dir", type=Path, default=MODEL_FILE.parent)
    parser.add_argument("--l2", type=float, default=L2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("citerec", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    papers = load_papers(args.papers, args.cache)
    for path, pointers in ((MODEL_FILE, False), (FRESH_MODEL_FILE, True)):
        aps = {}
        for name, held_out in leave_one_out(papers, l2=args.l2, cache=args.cache, pointers=pointers).items():
            paper = next(p for p in papers if p.name == name)
            aps[name] = average_precision(held_out.logit(*paper.features()), paper.cited)
            log.info("%-36s LOPO AP of cited sentences %.3f (base rate %.3f)", name, aps[name], paper.cited.mean())
        macro = float(np.nanmean(list(aps.values())))
        log.info("%s: macro LOPO AP %.3f", path.name, macro)
        fitted = fit(papers, l2=args.l2, pointers=pointers)
        info = {
            "trained_on": sorted(p.name for p in papers),
            "sentences": int(sum(len(p.rows) for p in papers)),
            "l2": args.l2,
            "embedder": "all-MiniLM-L6-v2 (bundled, ONNX int8)",
            "library_pointers": pointers,
            "lopo_average_precision": {k: round(v, 4) for k, v in aps.items()},
            "lopo_macro_average_precision": round(macro, 4),
        }
        fitted = CiteModel(fitted.names, fitted.mean, fitted.scale, fitted.coef, fitted.intercept, VERSION, info)
        fitted.save(args.out_dir / path.name)
        log.info("wrote %s (%d features)", args.out_dir / path.name, len(fitted.names))
        if not pointers:
            model = fitted
    draft = fit_draft(papers, model)
    draft_info = {
        "trained_on": sorted(p.name for p in papers),
        "l2": DRAFT_L2,
        "hidden_share": list(DRAFT_HIDDEN),
        "draws": DRAFT_DRAWS,
        "reads": "the prior's logit (model.json) and the draft's own citations",
    }
    draft = CiteModel(draft.names, draft.mean, draft.scale, draft.coef, draft.intercept, VERSION, draft_info)
    draft.save(args.out_dir / DRAFT_MODEL_FILE.name)
    log.info("wrote %s (%d features)", args.out_dir / DRAFT_MODEL_FILE.name, len(draft.names))


if __name__ == "__main__":
    main()
