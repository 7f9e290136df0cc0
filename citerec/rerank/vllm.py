"""The vLLM backend (extra `gpu`): offline `vllm.LLM` on the score path with prefix caching.

vLLM turns Qwen3-Reranker into a one-logit sequence classifier (the "yes" row
minus the "no" row of lm_head) when loaded with the overrides below, so it
computes exactly sigmoid(logit_yes - logit_no) without full-vocabulary logits;
`enable_prefix_caching` reuses the system prompt + query across candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from citerec.errors import ModelError
from citerec.progress import ProgressCallback
from citerec.rerank.base import DEFAULT_MAX_LENGTH, BaseReranker, PromptEncoder, score_api_texts

logger = logging.getLogger(__name__)

INSTALL_HINT = "the vllm backend needs vLLM on a CUDA machine: pip install 'citerec[gpu]'"
HF_OVERRIDES = {
    "architectures": ["Qwen3ForSequenceClassification"],
    "classifier_from_token": ["no", "yes"],
    "is_original_qwen3_reranker": True,
}


class VLLMReranker(BaseReranker):
    """Scores through `vllm.LLM.score` with the same (truncated) prompt strings as the hf backend."""

    def __init__(self, llm, *, model_name: str, batch_size: int | None = None, max_length: int = DEFAULT_MAX_LENGTH):
        self.llm = llm
        self.model_name = model_name
        self.max_length = max_length
        # vLLM schedules its own batches; chunks only pace progress reports.
        self.batch_size = batch_size or 512
        self.tokenizer = llm.get_tokenizer()
        self.encoder = PromptEncoder.for_tokenizer(self.tokenizer, max_length)

    def _score_pairs(
        self, pairs: Sequence[tuple[str, str]], instruction: str, progress: ProgressCallback
    ) -> list[float]:
        texts = score_api_texts(self.encoder, pairs, instruction, self._decode)
        scores: list[float] = []
        progress("rerank", 0, len(texts))
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            outputs = self.llm.score([q for q, _ in chunk], [d for _, d in chunk], use_tqdm=False)
            scores.extend(float(o.outputs.score) for o in outputs)
            progress("rerank", len(scores), len(texts))
        return scores

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)


def resolve_local(name: str) -> str:
    """A folder for `name` without touching the network (vLLM would otherwise try to download)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception as exc:  # huggingface_hub raises several types for "not cached"
        raise ModelError(
            f"reranker {name!r} is not available offline; download it with `huggingface-cli download {name}` "
            "on a machine with network access (or pass a local folder), or run with `--rerank off`"
        ) from exc


def load_vllm_reranker(
    name: str,
    *,
    device: str | None = None,
    batch_size: int | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    gpu_memory_utilization: float = 0.85,
) -> VLLMReranker:
    """Start an offline vLLM engine for a Qwen3-Reranker; `device` is ignored (vLLM picks the GPU)."""
    try:
        import vllm
    except ImportError as exc:
        raise ModelError(INSTALL_HINT) from exc
    source = resolve_local(name)
    common = dict(
        model=source,
        hf_overrides=HF_OVERRIDES,
        enable_prefix_caching=True,
        max_model_len=max_length,
        gpu_memory_utilization=gpu_memory_utilization,
    )
    try:
        llm = vllm.LLM(runner="pooling", **common)
    except TypeError:  # vLLM < 0.10 names the pooling runner by task
        llm = vllm.LLM(task="score", **common)
    logger.info("loaded reranker %s with vLLM %s", name, vllm.__version__)
    return VLLMReranker(llm, model_name=name, batch_size=batch_size, max_length=max_length)
