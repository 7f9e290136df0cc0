"""The small judge's network: MiniLM fine-tuned as a cross-encoder on CPU threads, then exported to int8 ONNX."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citerec.rerank.small import PairEncoder


@dataclass(frozen=True)
class FineTuning:
    """How the network is trained (recorded in the judge's `info.hyperparameters`)."""

    epochs: int = 1
    batch_size: int = 8  # groups per step (a cited entry and its uncited ones: 32 pairs with three)
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.1  # share of the steps
    seed: int = 35


def fine_tune(
    groups: Sequence[tuple[str, tuple[str, ...]]],
    encoder: PairEncoder,
    base: Path,
    settings: FineTuning,
    progress: Callable[[str], None],
) -> Any:
    """The base transformer, mean-pooled, with a one-logit head, trained on `groups` (passage, (cited entry,
    uncited …)); a torch module.

    The loss is listwise: cross-entropy of the cited entry among its group's logits, so the network learns to
    order a passage's candidates, which is all the ranking asks of it. (Pointwise binary cross-entropy on the
    same pairs stayed at the label prior's entropy for a whole epoch: most of recall's near misses look cited.)"""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from citerec.onnx_tools import default_workers

    hf_logging.set_verbosity_error()  # "some weights were newly initialised": the head, as intended
    hf_logging.disable_progress_bar()
    torch.manual_seed(settings.seed)
    torch.set_num_threads(default_workers())
    model = _mean_pooled_judge(AutoModel.from_pretrained(str(base)))
    size = len(groups[0][1])
    encoded = encoder.encode([(query, entry) for query, entries in groups for entry in entries])
    steps_per_epoch = (len(groups) + settings.batch_size - 1) // settings.batch_size
    total = max(1, steps_per_epoch * settings.epochs)
    warmup = max(1, int(total * settings.warmup))
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    rng = np.random.default_rng(settings.seed)
    model.train()
    step, started, running = 0, time.perf_counter(), 0.0
    for _ in range(settings.epochs):
        order = rng.permutation(len(groups))
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            ids, types, mask = _padded([encoded[g * size + j] for g in batch for j in range(size)])
            out = model(input_ids=ids, attention_mask=mask, token_type_ids=types).view(len(batch), size)
            loss = torch.nn.functional.cross_entropy(out, torch.zeros(len(batch), dtype=torch.long))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            value = float(loss.detach())
            running = 0.9 * running + 0.1 * value if step > 1 else value
            if step % 50 == 0 or step == total:
                elapsed = time.perf_counter() - started
                progress(f"step {step}/{total}: loss {running:.3f}, {elapsed:.0f} s")
    return model.eval()


def _mean_pooled_judge(encoder: Any) -> Any:
    """The judge's network: the transformer, mean pooling over the pair's tokens (what MiniLM was trained to make
    meaningful: on dev samples it learnt faster than a head on [CLS]), a linear layer to one logit."""
    import torch

    class MeanPooledJudge(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, 1)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head(pooled)[:, 0]

    return MeanPooledJudge(encoder)


def _padded(rows: Sequence[tuple[list[int], list[int]]]) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for r, (row_ids, row_types) in enumerate(rows):
        ids[r, : len(row_ids)] = row_ids
        types[r, : len(row_types)] = row_types
        mask[r, : len(row_ids)] = 1
    return torch.from_numpy(ids), torch.from_numpy(types), torch.from_numpy(mask)


def export_int8(model: Any, out: Path) -> None:
    """The trained module as an int8 ONNX file: export, ONNX Runtime's BERT fusion, int8 MatMuls and embeddings."""
    import warnings

    import torch

    from citerec.onnx_tools import fuse_bert, quantise_int8

    config = model.encoder.config
    sample = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        raw, fused = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape-dependent Python branches
            torch.onnx.export(
                model,
                (sample, sample, torch.zeros_like(sample)),
                str(raw),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["logit"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logit": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        fuse_bert(raw, fused, num_heads=config.num_attention_heads, hidden_size=config.hidden_size)
        quantise_int8(fused, out, op_types=("MatMul", "Gather"))
