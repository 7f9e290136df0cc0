"""The transformers backend: Qwen3-Reranker as a yes/no judge on CPU or CUDA.

Three things make it fast without changing a score:
- only the last position's hidden state is multiplied, and only by the two
  lm_head rows of "yes" and "no" (never logits over the 151k-token vocabulary);
- prompts are sorted by length into micro-batches, so little padding is computed;
- with `prefix_reuse`, the system prompt + instruction + query are run once per
  query and their KV cache is shared by all of that query's candidates.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from citerec.errors import ModelError
from citerec.progress import ProgressCallback, no_progress
from citerec.rerank.base import (
    DEFAULT_MAX_LENGTH,
    NO_TOKEN,
    YES_TOKEN,
    BaseReranker,
    EncodedPair,
    PromptEncoder,
    group_by_query,
)

logger = logging.getLogger(__name__)

STAGE = "rerank"


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def is_oom(exc: BaseException) -> bool:
    """CUDA (or other accelerator) out-of-memory, whichever exception type torch used."""
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom_type is not None and isinstance(exc, oom_type)) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


class HFReranker(BaseReranker):
    """Scores prompts with a transformers causal LM following the Qwen3-Reranker contract."""

    def __init__(
        self,
        model,
        tokenizer,
        *,
        model_name: str,
        batch_size: int | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        prefix_reuse: bool = True,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.device = next(model.parameters()).device
        self.batch_size = batch_size or (16 if self.device.type == "cuda" else 8)
        self.prefix_reuse = prefix_reuse
        self.max_length = max_length
        self.encoder = PromptEncoder.for_tokenizer(tokenizer, max_length)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        yes_id, no_id = token_id(tokenizer, YES_TOKEN), token_id(tokenizer, NO_TOKEN)
        self.yes_id, self.no_id = yes_id, no_id
        head = model.get_output_embeddings()
        # The two rows of lm_head that matter; logit_yes - logit_no = h @ (w_yes - w_no) (+ bias difference).
        rows = head.weight.detach()[[yes_id, no_id]].float()
        self._w_diff = rows[0] - rows[1]
        bias = getattr(head, "bias", None)
        self._b_diff = float(bias[yes_id] - bias[no_id]) if bias is not None else 0.0
        self._base = model.base_model  # the decoder without lm_head: hidden states only

    # -- the Reranker protocol ------------------------------------------------
    def _score_pairs(
        self, pairs: Sequence[tuple[str, str]], instruction: str, progress: ProgressCallback
    ) -> list[float]:
        encoded = self.encoder.encode(pairs, instruction)
        return self.score_encoded(encoded, groups=group_by_query(pairs), progress=progress)

    # -- scoring ---------------------------------------------------------------
    def score_encoded(
        self,
        encoded: Sequence[EncodedPair],
        *,
        groups: dict[str, list[int]] | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[float]:
        """Scores of already-encoded prompts, in input order."""
        progress = progress or no_progress
        scores: list[float | None] = [None] * len(encoded)
        done = 0
        progress(STAGE, 0, len(encoded))
        if self.prefix_reuse:
            for indices in (groups or {"": list(range(len(encoded)))}).values():
                for sub in _same_shared(encoded, indices):
                    for idx, values in self._run_group(encoded, sub):
                        for i, v in zip(idx, values, strict=True):
                            scores[i] = v
                        done += len(idx)
                        progress(STAGE, done, len(encoded))
        else:
            for idx, values in self._run_sorted(encoded, list(range(len(encoded))), self._forward_full):
                for i, v in zip(idx, values, strict=True):
                    scores[i] = v
                done += len(idx)
                progress(STAGE, done, len(encoded))
        return [float(s) for s in scores]  # type: ignore[arg-type]

    def _run_group(self, encoded: Sequence[EncodedPair], indices: list[int]) -> Iterator[tuple[list[int], list[float]]]:
        """One query's candidates: run the shared part once, then the tails against its KV cache."""
        shared = encoded[indices[0]].shared
        with torch.inference_mode():
            ids = torch.tensor([shared], device=self.device)
            out = self._base(input_ids=ids, use_cache=True)
        prefix_kv = _cache_tensors(out.past_key_values)
        del out

        def forward(batch: list[EncodedPair]) -> torch.Tensor:
            return self._forward_tail(prefix_kv, len(shared), [p.tail for p in batch])

        yield from self._run_sorted(encoded, indices, forward, key=lambda p: len(p.tail))

    def _run_sorted(self, encoded, indices, forward, key=len) -> Iterator[tuple[list[int], list[float]]]:
        """Length-sorted micro-batches (longest first, so an OOM shows early); halve the batch on OOM."""
        order = sorted(indices, key=lambda i: key(encoded[i]), reverse=True)
        batch_size, start = self.batch_size, 0
        while start < len(order):
            idx = order[start : start + batch_size]
            try:
                with torch.inference_mode():
                    logits = forward([encoded[i] for i in idx])
            except Exception as exc:
                if not is_oom(exc):
                    raise
                if batch_size == 1:
                    raise ModelError(f"out of memory scoring one prompt of {key(encoded[idx[0]])} tokens") from exc
                batch_size = max(1, batch_size // 2)
                logger.warning("out of memory; retrying with batch size %d", batch_size)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            start += len(idx)
            yield idx, torch.sigmoid(logits).tolist()

    def _yes_minus_no(self, hidden: torch.Tensor) -> torch.Tensor:
        """logit("yes") - logit("no") from last-position hidden states (batch, hidden)."""
        return hidden.float() @ self._w_diff + self._b_diff

    def _forward_full(self, batch: list[EncodedPair]) -> torch.Tensor:
        """Whole prompts, left-padded, position ids counted from each prompt's first real token."""
        width = max(len(p) for p in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, p in enumerate(batch):
            seq = p.ids
            ids[row, width - len(seq) :] = torch.tensor(seq)
            mask[row, width - len(seq) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        hidden = self._base(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            use_cache=False,
        ).last_hidden_state
        return self._yes_minus_no(hidden[:, -1])

    def _forward_tail(self, prefix_kv: list[tuple[torch.Tensor, torch.Tensor]], shared_len: int, tails) -> torch.Tensor:
        """Tails right-padded after the shared prefix: real tokens never see padding, positions stay exact."""
        n, width = len(tails), max(len(t) for t in tails)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, shared_len + width), dtype=torch.long)
        mask[:, :shared_len] = 1
        lengths = torch.tensor([len(t) for t in tails])
        for row, tail in enumerate(tails):
            ids[row, : len(tail)] = torch.tensor(tail)
            mask[row, shared_len : shared_len + len(tail)] = 1
        positions = (shared_len + torch.arange(width)).expand(n, width)
        cache = _cache_from([(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in prefix_kv])
        hidden = self._base(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            past_key_values=cache,
            use_cache=True,
        ).last_hidden_state
        last = hidden[torch.arange(n, device=hidden.device), (lengths - 1).to(hidden.device)]
        return self._yes_minus_no(last)


def _same_shared(encoded: Sequence[EncodedPair], indices: list[int]) -> list[list[int]]:
    """Split a query's indices by identical shared ids (they differ only if encodings were mixed)."""
    subs: dict[tuple[int, ...], list[int]] = {}
    for i in indices:
        subs.setdefault(encoded[i].shared, []).append(i)
    return list(subs.values())


def _cache_tensors(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(key, value) per layer from a transformers cache, across cache API versions."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache, strict=True))
    return [(k, v) for k, v in cache]


def _cache_from(kv: list[tuple[torch.Tensor, torch.Tensor]]):
    from transformers import DynamicCache

    if hasattr(DynamicCache, "from_legacy_cache"):
        return DynamicCache.from_legacy_cache(tuple(kv))
    return DynamicCache(ddp_cache_data=kv)


def token_id(tokenizer, token: str) -> int:
    """The id of a token that must be a single vocabulary entry ("yes", "no")."""
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or (tokenizer.unk_token_id is not None and tid == tokenizer.unk_token_id):
        raise ModelError(f"the tokenizer has no single token {token!r}: not a Qwen3-Reranker-like model")
    return int(tid)


# -- loading --------------------------------------------------------------------

_DOWNLOAD_HINT = (
    "download it with `huggingface-cli download {name}` on a machine with network access "
    "(or pass a local folder), or run without the judge with `--rerank off`"
)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(".")[:2] if x.isdigit())


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """The library never prints: silence transformers' loading bars while loading."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def load_hf_reranker(
    name: str,
    *,
    device: str | None = None,
    batch_size: int | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    prefix_reuse: bool = True,
) -> HFReranker:
    """Load a Qwen3-Reranker (hub name already in the local cache, or a folder); never downloads."""
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    path = Path(name).expanduser()
    local = path.is_dir()
    if not local and _looks_like_path(name):
        raise ModelError(f"reranker model folder not found: {name}")
    source = str(path) if local else name
    device = device or default_device()
    try:
        with _quiet_transformers():
            config = AutoConfig.from_pretrained(source, local_files_only=True)
            if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
                raise ModelError(f"{name} is a {config.model_type!r} model, not a causal LM like Qwen3-Reranker")
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, padding_side="left")
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            # transformers < 4.56 calls the dtype argument `torch_dtype`.
            dtype_arg = "dtype" if _version(transformers.__version__) >= (4, 56) else "torch_dtype"
            model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, **{dtype_arg: dtype})
    except ModelError:
        raise
    except (OSError, ValueError) as exc:
        if local:
            raise ModelError(f"cannot load a reranker from {name}: {exc}") from exc
        raise ModelError(f"reranker {name!r} is not available offline; " + _DOWNLOAD_HINT.format(name=name)) from exc
    model.to(device)
    logger.info("loaded reranker %s on %s (%s)", name, device, model.dtype)
    return HFReranker(
        model, tokenizer, model_name=name, batch_size=batch_size, max_length=max_length, prefix_reuse=prefix_reuse
    )
