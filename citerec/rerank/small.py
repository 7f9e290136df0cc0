"""The small judge: a MiniLM cross-encoder fine-tuned on citing passages, int8 on ONNX Runtime, for any CPU.

Qwen3-Reranker needs a GPU and its weights; this judge ships inside the package
(`citerec/rerank/models/small/`, trained by `citerec train judge`) so that every
laptop has one. It reads (passage, candidate entry) as BERT reads a sentence
pair — `[CLS] passage [SEP] entry [SEP]`, at most `MAX_TOKENS` word pieces, the
passage cut around its middle (the citing sentence sits between its neighbours)
and the entry's tail cut first — and returns P(cited) for the pair alone.

Unlike Qwen3, it does not throw recall's order away: `with_recall_order` fuses
its logit with the candidate's recall rank through a logistic model fitted on
held-out papers (`fusion.json`, the linear-model format with its `info`), as
fine-tuned rerankers in the literature do. The pipeline calls it with each
passage's candidates in recall order.

Running needs only onnxruntime and `tokenizers` (no torch). Each pair runs
alone on worker threads that share one session (`citerec.onnx_tools`, as the
embedder runs): in a padded int8 batch a pair's score would depend on its
neighbours, and a re-run's cached score would not be the one a fresh run computes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citerec.errors import ModelError
from citerec.onnx_tools import WorkerPool, cached_session, default_workers
from citerec.progress import ProgressCallback
from citerec.rerank.base import BaseReranker
from citerec.storage import file_sha256

log = logging.getLogger(__name__)

SMALL_JUDGE = "citerec-small"
SHIPPED = Path(__file__).resolve().parent / "models" / "small"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
FUSION_FILE = "fusion.json"
FUSION_KIND = "judge-fusion"
FUSION_FEATURES = ("judge_logit", "log_recall_rank")
MAX_TOKENS = 128  # the whole pair; 50 candidates in about 0.3 s on two cores (benchmarks/rerank_speed.py)
QUERY_TOKENS = 72  # the passage's share; the entry gets the rest (title and byline fit in about 30)
_CHUNK = 64  # pairs between progress reports


@dataclass(frozen=True)
class PairEncoder:
    """Token ids of (passage, entry) pairs, the same in training (torch) and at run time (ONNX)."""

    tokenizer: Any  # a `tokenizers.Tokenizer` without padding or truncation
    cls_id: int
    sep_id: int
    max_tokens: int = MAX_TOKENS
    query_tokens: int = QUERY_TOKENS

    @classmethod
    def from_file(cls, path: Path, max_tokens: int = MAX_TOKENS, query_tokens: int = QUERY_TOKENS) -> PairEncoder:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise ModelError(f"{path}: not a BERT tokenizer ([CLS] or [SEP] missing)")
        return cls(tokenizer, cls_id, sep_id, max_tokens, query_tokens)

    def encode(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """(input ids, token type ids) of each pair; each distinct passage is tokenized once."""
        queries = list(dict.fromkeys(q for q, _ in pairs))
        query_ids = {
            q: centre(e.ids, self.query_tokens)
            for q, e in zip(queries, self.tokenizer.encode_batch(queries, add_special_tokens=False), strict=True)
        }
        documents = self.tokenizer.encode_batch([d for _, d in pairs], add_special_tokens=False)
        out = []
        for (query, _), document in zip(pairs, documents, strict=True):
            q = query_ids[query]
            d = document.ids[: max(0, self.max_tokens - 3 - len(q))]
            ids = [self.cls_id, *q, self.sep_id, *d, self.sep_id]
            out.append((ids, [0] * (len(q) + 2) + [1] * (len(d) + 1)))
        return out


def centre(ids: list[int], budget: int) -> list[int]:
    """At most `budget` ids from the middle of `ids`: a passage is its citing sentence between two neighbours."""
    if len(ids) <= budget:
        return ids
    start = (len(ids) - budget) // 2
    return ids[start : start + budget]


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def fusion_features(judge_scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """The fusion model's rows for one passage's candidates in recall order: judge logit, log of the recall rank."""
    scores = np.asarray(judge_scores, dtype=np.float64)
    ranks = np.arange(1, len(scores) + 1, dtype=np.float64)
    return np.column_stack([logit(scores), np.log(ranks)])


class SmallJudge(BaseReranker):
    """The shipped cross-encoder (or one in `folder`): P(cited) per pair, fused with recall's order on request."""

    def __init__(
        self, session: Any, encoder: PairEncoder, fusion: Any, folder: Path, *, model_sha256: str, workers: int
    ) -> None:
        self.session = session
        self.encoder = encoder
        self.fusion = fusion  # a citerec.linear.LinearModel of FUSION_KIND
        self.folder = folder
        self.pool = WorkerPool(workers, "citerec-judge")
        self.model_name = f"{SMALL_JUDGE}@{model_sha256[:12]}-{fusion.digest[:8]}"
        self._inputs = {i.name for i in session.get_inputs()}

    def _score_pairs(
        self, pairs: Sequence[tuple[str, str]], instruction: str, progress: ProgressCallback
    ) -> list[float]:
        """P(cited) of each pair; the instruction is Qwen3's and means nothing to this judge."""
        out: list[float] = []
        for start in range(0, len(pairs), _CHUNK):
            logits = self.pool.map(self._run, self.encoder.encode(pairs[start : start + _CHUNK]))
            out.extend(float(1.0 / (1.0 + np.exp(-z))) for z in logits)
            progress("Judging", len(out), len(pairs))
        return out

    def with_recall_order(self, scores: Sequence[float]) -> list[float]:
        """One passage's judge scores (candidates in recall order) fused with their recall ranks: P(cited)."""
        if len(scores) == 0:
            return []
        z = self.fusion.logit(fusion_features(scores))
        return [float(v) for v in 1.0 / (1.0 + np.exp(-z))]

    def _run(self, pair: tuple[list[int], list[int]]) -> float:
        ids, types = pair
        input_ids = np.asarray([ids], dtype=np.int64)
        feed = {
            "input_ids": input_ids,
            "attention_mask": np.ones_like(input_ids),
            "token_type_ids": np.asarray([types], dtype=np.int64),
        }
        return float(self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0].reshape(-1)[0])


def _names_the_shipped_judge(name: str) -> bool:
    """`citerec-small`, or a result's model name for it (`citerec-small@<digests>`)."""
    return name == SMALL_JUDGE or name.startswith(f"{SMALL_JUDGE}@")


def judge_folder(name: str) -> Path:
    """The folder of the judge called `name`: the shipped one for `citerec-small`, else a folder path."""
    if _names_the_shipped_judge(name):
        return SHIPPED
    folder = Path(name).expanduser()
    if folder.is_dir() and (folder / FUSION_FILE).is_file():
        return folder
    raise ModelError(f"no small judge called {name!r}: use {SMALL_JUDGE} or a folder written by citerec train judge")


def is_small_judge(name: str) -> bool:
    """Whether the reranker name `name` means a small judge (the shipped one or a trained folder)."""
    if _names_the_shipped_judge(name):
        return True
    folder = Path(name).expanduser()
    return folder.is_dir() and (folder / FUSION_FILE).is_file() and (folder / MODEL_FILE).is_file()


def open_judge(folder: Path, encoder: PairEncoder, fusion: Any, threads: int | None = None) -> SmallJudge:
    """The judge in `folder` with this encoder and fusion model (training scores its dev passages this way)."""
    model = folder / MODEL_FILE
    sha256 = file_sha256(model)  # read once: the session cache's key and the judge's name
    try:
        session = cached_session(str(model), sha256, 1)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a damaged file
        raise ModelError(f"small judge: {model} does not load ({exc})") from exc
    return SmallJudge(session, encoder, fusion, folder, model_sha256=sha256, workers=threads or default_workers())


def load_small_judge(
    name: str = SMALL_JUDGE,
    *,
    device: str | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    threads: int | None = None,
) -> SmallJudge:
    """The small judge `name` (see `judge_folder`), on CPU threads; device, batch size and Qwen3's max length do not
    apply to it (its pair budget is fixed by training)."""
    from citerec.linear import read_model

    folder = judge_folder(name)
    model = folder / MODEL_FILE
    for needed in (model, folder / TOKENIZER_FILE):
        if not needed.is_file():
            raise ModelError(f"small judge {name}: {needed.name} missing in {folder}")
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"the small judge needs onnxruntime and tokenizers ({exc})") from exc
    fusion = read_model(folder / FUSION_FILE, FUSION_KIND)
    limits = fusion.info.hyperparameters
    encoder = PairEncoder.from_file(
        folder / TOKENIZER_FILE,
        int(limits.get("max_tokens", MAX_TOKENS)),
        int(limits.get("query_tokens", QUERY_TOKENS)),
    )
    judge = open_judge(folder, encoder, fusion, threads)
    log.info("small judge loaded from %s", folder)
    return judge
