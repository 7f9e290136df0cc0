"""Named feature rows: a model's features are one list of (name, function), and everything derives from it.

The names a model file records, the columns of a row, the shares a per-draft
adaptation re-weighs, all come from the one `FeatureSet`; training and inference
build rows by calling the same functions on the same kind of source, so a new
feature can never be misaligned with the weights that read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

Source = TypeVar("Source")


@dataclass(frozen=True)
class Feature(Generic[Source]):
    """One feature (a column) or one block of columns, computed from a source for all its rows at once.

    `compute` returns one value per row, or rows x width for a block; a block's columns are `columns` (fixed
    names) or, when `columns` is a string, that prefix numbered (`emb_0`, `emb_1`, … for a vector)."""

    name: str
    compute: Callable[[Source], np.ndarray]
    share: str = ""  # the group an adaptation re-weighs together ("" : none)
    columns: tuple[str, ...] | str = ()

    def names(self, width: int = 1) -> tuple[str, ...]:
        if isinstance(self.columns, str):
            return tuple(f"{self.columns}{i}" for i in range(width))
        return self.columns or (self.name,)


@dataclass(frozen=True)
class FeatureSet(Generic[Source]):
    """The features of one model, in the order of its columns."""

    features: tuple[Feature[Source], ...]

    def __post_init__(self) -> None:
        seen = [f.name for f in self.features]
        if len(set(seen)) != len(seen):
            raise ValueError(f"feature names repeat: {seen}")

    @property
    def names(self) -> tuple[str, ...]:
        """The column names of a set whose blocks all have fixed names."""
        out: list[str] = []
        for feature in self.features:
            if isinstance(feature.columns, str):
                raise TypeError(f"{feature.name}: a block's width is known only from a source")
            out.extend(feature.names())
        return tuple(out)

    def share(self, name: str) -> list[int]:
        """The columns of the features in share `name`."""
        names = self.names
        wanted = {n for f in self.features if f.share == name for n in f.names()}
        return [i for i, column in enumerate(names) if column in wanted]

    def of(self, *shares: str) -> tuple[str, ...]:
        """The names of the features in these shares, in column order."""
        return tuple(n for f in self.features if f.share in shares for n in f.names())

    def rows(self, source: Source, rows: int) -> tuple[np.ndarray, list[str]]:
        """The matrix (rows x columns, float64) and its column names: every feature computed on `source`."""
        blocks, names = [], []
        for feature in self.features:
            values = np.asarray(feature.compute(source), dtype=np.float64)
            values = values.reshape(rows, -1)
            blocks.append(values)
            names.extend(feature.names(values.shape[1]))
        matrix = np.hstack(blocks) if blocks else np.zeros((rows, 0))
        return matrix, names
