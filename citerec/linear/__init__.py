"""citerec's linear models: one fitter, one file format, named feature rows (see each module)."""

from citerec.linear.features import Feature, FeatureSet
from citerec.linear.fit import fit_logistic, fit_standardised, sigmoid
from citerec.linear.model import (
    DEFAULT_PART,
    EmbedderMismatch,
    LinearModel,
    ModelInfo,
    Part,
    embedder_family,
    load_model,
    read_model,
)

__all__ = [
    "DEFAULT_PART",
    "EmbedderMismatch",
    "Feature",
    "FeatureSet",
    "LinearModel",
    "ModelInfo",
    "Part",
    "embedder_family",
    "fit_logistic",
    "fit_standardised",
    "load_model",
    "read_model",
    "sigmoid",
]
