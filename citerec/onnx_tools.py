"""BERT graphs on ONNX Runtime: preparing an export for CPUs (operator fusion, int8 weights) and running one.

Shared by the ONNX embedder (`citerec.embed.onnx`) and the small judge (`citerec.rerank.small`, trained by
`citerec.train.judge`), so that both export with the same recipe, share the session cache, and run inputs
one at a time on worker threads the same way.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def fuse_bert(raw: Path, out: Path, *, num_heads: int, hidden_size: int) -> None:
    """Fuse attention, GELU and layer norms into ONNX Runtime's CPU kernels (same numbers, fewer passes)."""
    from onnxruntime.transformers import optimizer

    fused = optimizer.optimize_model(
        str(raw), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=1, use_gpu=False
    )
    fused.save_model_to_file(str(out))


def quantise_int8(fused: Path, out: Path, op_types: Sequence[str] = ("MatMul",)) -> None:
    """int8 weights of the `op_types` operators, one scale per output channel where the operator allows it;
    activations stay float and are scaled per input at run time (dynamic quantisation)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser advises pre-processing on the root logger; the fusion did that
    try:
        quantize_dynamic(
            str(fused),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=list(op_types),
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=8)
def cached_session(path: str, sha256: str, threads: int, providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> Any:
    """One session per model file and content (`sha256`): several indexes or suggesters opening it share it.
    `threads` per call: the callers' worker threads each run one input at a time."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=list(providers))


class WorkerPool:
    """Maps a function over inputs on `workers` threads, made on first use (none for one worker or one input).

    int8 dynamic quantisation scales activations over the whole input tensor, so the embedder and the judge run
    each input alone (a padded batch would make a result depend on its neighbours); two such calls on two
    threads were as fast, on a 2-core machine, as padded batches of 32 on a two-thread session."""

    def __init__(self, workers: int, name: str) -> None:
        self.workers = max(1, workers)
        self.name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def map(self, function: Callable[[T], R], inputs: Sequence[T]) -> list[R]:
        """`function` of each input, in input order."""
        if self.workers == 1 or len(inputs) <= 1:
            return [function(x) for x in inputs]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
        return list(self._pool.map(function, inputs))
