"""Preparing an exported BERT graph for CPUs: ONNX Runtime's operator fusion, then int8 weights.

Shared by the ONNX embedder (`citerec.embed.onnx`) and the small judge's training (`citerec.train.judge`), so
that both run the same recipe.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path


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
