"""Training the small judge (`citerec train judge`): MiniLM fine-tuned as a cross-encoder on a corpus's citations.

1. **Recall lists.** Every cited passage of the split's train and dev papers is
   recalled as `citerec eval` recalls it (one pooled library of each part's
   .bib files, recall alone, both readings: finishing and fresh). A list's
   candidates are labelled by whether the passage cites them.
2. **Pairs.** Each train passage gives its cited candidates (positives) and a
   few uncited ones sampled from its own list, the higher ranked more often
   (hard negatives: what recall confuses with the right papers).
3. **Fine-tuning.** The bundled MiniLM's transformer with a one-logit head,
   binary cross-entropy, AdamW with a linear warm-up and decay, on CPU threads.
4. **Export.** torch → ONNX → ONNX Runtime's fused BERT kernels → int8 weights
   (the MatMuls per channel, the embedding table per tensor): under 30 MB.
5. **Fusion, on dev.** The int8 judge scores a seeded sample of dev passages;
   a logistic model of (judge logit, log recall rank) is fitted on them, and
   dev Recall@10 is measured for recall alone, the judge alone and the fusion.

The folder written (`model.onnx`, `tokenizer.json`, `fusion.json`) is what
`citerec.rerank.small` loads; `fusion.json` is a linear-model file whose `info`
names the base model, tokenizer, training papers, settings and dev metrics.
Collections used only for testing (the eval papers, ACM-CR) never come here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citerec import __version__
from citerec.linear import LinearModel, ModelInfo, Part, fit_standardised
from citerec.rerank.small import (
    FUSION_FEATURES,
    FUSION_FILE,
    FUSION_KIND,
    MAX_TOKENS,
    MODEL_FILE,
    QUERY_TOKENS,
    TOKENIZER_FILE,
    PairEncoder,
    SmallJudge,
    fusion_features,
    open_judge,
)
from citerec.train.judge_data import READINGS, RecallList, dev_sample, entry_texts, recall_lists, training_groups
from citerec.train.judge_net import FineTuning, export_int8, fine_tune

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JudgeSettings:
    """Everything that shapes the judge, recorded in its `info.hyperparameters`."""

    max_groups: int = 6000  # training groups (a cited entry, `negatives` uncited ones), sampled from all
    negatives: int = 3  # uncited candidates per group
    tuning: FineTuning = FineTuning()
    dev_passages: int = 40  # per dev paper and reading, for the fusion and the metrics
    fusion_l2: float = 1.0
    max_tokens: int = MAX_TOKENS
    query_tokens: int = QUERY_TOKENS
    seed: int = 35  # of the pairs and the dev sample (the network's is in `tuning`)
    papers: int = 0  # 0: every paper of each part; else the first N (the quick smoke run)


NO_INFO = ModelInfo(embedder="")
QUICK = JudgeSettings(max_groups=16, tuning=FineTuning(batch_size=4), dev_passages=8, papers=2)


# -- 5. fusion and metrics ----------------------------------------------------------------------
def judge_lists(
    judge: SmallJudge, lists: Sequence[RecallList], texts: dict[str, str], progress: Callable[[str], None]
) -> list[np.ndarray]:
    """The judge's score of every candidate of every list; a pair met in both readings is judged once."""
    memo: dict[tuple[str, str], float] = {}
    out = []
    for number, item in enumerate(lists, 1):
        todo = [k for k in item.ranked if (item.query, k) not in memo]
        for key, score in zip(todo, judge.score(item.query, [texts[k] for k in todo]), strict=True):
            memo[(item.query, key)] = score
        out.append(np.asarray([memo[(item.query, k)] for k in item.ranked]))
        if number % 100 == 0 or number == len(lists):
            progress(f"dev: {number}/{len(lists)} passages judged")
    return out


def fit_fusion(lists: Sequence[RecallList], scores: Sequence[np.ndarray], l2: float) -> Part:
    """The logistic model of (judge logit, log recall rank) → cited, over every dev candidate."""
    x = np.vstack([fusion_features(s) for s in scores])
    y = np.concatenate([item.labels() for item in lists]).astype(np.float64)
    mean, scale, weights, bias = fit_standardised(x, y, l2)
    return Part(tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, weights)), float(bias))


def recall_at_10(lists: Sequence[RecallList], orders: Sequence[np.ndarray]) -> dict[str, float]:
    """Recall@10 per reading, macro over papers (each paper the mean of its passages), as the benchmarks count."""
    by_paper: dict[tuple[str, str], list[float]] = {}
    for item, order in zip(lists, orders, strict=True):
        labels = item.labels()
        by_paper.setdefault((item.reading, item.paper), []).append(labels[order[:10]].sum() / len(item.truth))
    return {
        reading: round(float(np.mean([np.mean(v) for (r, _), v in by_paper.items() if r == reading])), 4)
        for reading in READINGS
        if any(r == reading for r, _ in by_paper)
    }


def dev_metrics(lists: Sequence[RecallList], scores: Sequence[np.ndarray], fusion: LinearModel) -> dict[str, Any]:
    recall_alone = [np.arange(len(s)) for s in scores]
    judge_alone = [np.argsort(-s, kind="stable") for s in scores]
    fused = [np.argsort(-fusion.logit(fusion_features(s)), kind="stable") for s in scores]
    return {
        "dev_passages": len({(x.paper, x.query) for x in lists}),
        "dev_recall@10": {
            "recall": recall_at_10(lists, recall_alone),
            "judge": recall_at_10(lists, judge_alone),
            "fused": recall_at_10(lists, fused),
        },
    }


# -- the whole road -----------------------------------------------------------------------------
@dataclass(frozen=True)
class JudgeReport:
    """What a training run made: the folder, its dev metrics and how long each stage took."""

    folder: Path
    metrics: dict[str, Any]
    seconds: dict[str, float]


def train_judge(
    folder: Path,
    split_file: Path,
    out: Path,
    cache: Path,
    *,
    settings: JudgeSettings = JudgeSettings(),
    progress: Callable[[str], None] | None = None,
) -> JudgeReport:
    """Train the small judge on the train part of `split_file`'s papers in `folder`, fuse and measure on dev, and
    write it to the folder `out` (replaced whole, only when everything succeeded)."""
    from citerec.embed import DEFAULT_EMBEDDER
    from citerec.embed.names import MINILM, resolve_model
    from citerec.train.collection import manifest_hash, read_collection
    from citerec.train.splits import read_split, select

    say = progress or (lambda message: log.info("%s", message))
    seconds: dict[str, float] = {}
    split = read_split(split_file)
    listed = read_collection(folder)
    parts = {}
    for part in ("train", "dev"):
        names = set(select([p.name for p in listed], split, part))
        chosen = [p for p in listed if p.name in names]
        parts[part] = chosen[: settings.papers] if settings.papers else chosen
        if not parts[part]:
            raise ValueError(f"the {part} part of {split_file} names no paper of {folder}")

    begun = time.perf_counter()
    train_lists, train_library = recall_lists(parts["train"], cache / "train", say)
    dev_lists, dev_library = recall_lists(parts["dev"], cache / "dev", say)
    seconds["recall"] = time.perf_counter() - begun

    _, base, _ = resolve_model(MINILM)
    base_folder = Path(base)
    encoder = PairEncoder.from_file(base_folder / TOKENIZER_FILE, settings.max_tokens, settings.query_tokens)
    texts = entry_texts(train_library, train_lists)
    groups = training_groups(
        train_lists, texts, negatives=settings.negatives, max_groups=settings.max_groups, seed=settings.seed
    )
    say(f"{len(groups)} training groups of {settings.negatives + 1} from {len(train_lists)} recalled passages")

    begun = time.perf_counter()
    model = fine_tune(groups, encoder, base_folder, settings.tuning, say)
    seconds["fine-tune"] = time.perf_counter() - begun

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        begun = time.perf_counter()
        export_int8(model, staging / MODEL_FILE)
        shutil.copyfile(base_folder / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        seconds["export"] = time.perf_counter() - begun

        begun = time.perf_counter()
        sample = dev_sample(dev_lists, settings.dev_passages, settings.seed)
        identity = LinearModel(FUSION_KIND, FUSION_FEATURES, {"default": Part((0, 0), (1, 1), (1, 0), 0)}, NO_INFO)
        judge = open_judge(staging, encoder, identity)
        scores = judge_lists(judge, sample, entry_texts(dev_library, sample), say)
        fitted = fit_fusion(sample, scores, settings.fusion_l2)
        seconds["dev"] = time.perf_counter() - begun

        info = ModelInfo(
            embedder=DEFAULT_EMBEDDER,
            papers=tuple(p.name for p in parts["train"]),
            manifest_hash=manifest_hash(parts["train"]),
            hyperparameters={
                **dataclasses.asdict(settings),
                "base_model": MINILM,
                "tokenizer": f"{MINILM} (BERT uncased word pieces)",
                "quantisation": "int8 dynamic: MatMul per channel, embeddings per tensor",
                "training_groups": len(groups),
                "loss": "listwise: cross-entropy of the cited entry within its group",
                "dev_papers": [p.name for p in parts["dev"]],
                "dev_manifest_sha256": manifest_hash(parts["dev"]),
                "split": split_file.name,
            },
            citerec_version=__version__,
            notes="fusion of the judge's logit and the recall rank, fitted on the dev sample; the recall lists "
            "came from the embedder named here",
        )
        fusion = LinearModel(FUSION_KIND, FUSION_FEATURES, {"default": fitted}, info)
        metrics = {**dev_metrics(sample, scores, fusion), "seconds": {k: round(v) for k, v in seconds.items()}}
        fusion = dataclasses.replace(fusion, info=dataclasses.replace(info, metrics=metrics))
        fusion.save(staging / FUSION_FILE)
        _replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return JudgeReport(out, metrics, seconds)


def _replace_folder(staging: Path, out: Path) -> None:
    """Put `staging` where `out` is: the old folder moved aside first, removed once the new one is in place."""
    aside = out.with_name(f".{out.name}.old")
    shutil.rmtree(aside, ignore_errors=True)
    if out.exists():
        os.replace(out, aside)
    os.replace(staging, out)
    shutil.rmtree(aside, ignore_errors=True)
