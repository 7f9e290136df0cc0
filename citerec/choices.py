"""The fixed choices of citerec's settings, each defined once.

The command line, the HTTP schemas, the language server and the Python API all
take these values; each member is also its own string (`Method.HYBRID ==
"hybrid"`), so settings read from JSON or written by older callers compare equal.
"""

from __future__ import annotations

import enum

if hasattr(enum, "StrEnum"):  # Python 3.11+
    StrEnum = enum.StrEnum
else:  # pragma: no cover - Python 3.10

    class StrEnum(str, enum.Enum):  # type: ignore[no-redef]
        def __str__(self) -> str:
            return str(self.value)


class Method(StrEnum):
    """How candidates are recalled: BM25 and dense fused, or either alone."""

    HYBRID = "hybrid"
    BM25 = "bm25"
    DENSE = "dense"


class Fusion(StrEnum):
    """How the BM25 and dense lists are merged: by rank, or by normalised score."""

    RRF = "rrf"
    MINMAX = "minmax"
    ZSCORE = "zscore"


class Weighting(StrEnum):
    """Fixed list weights, or weights set per query by how far each list's leader stands out."""

    FIXED = "fixed"
    SHARPNESS = "sharpness"


class Plan(StrEnum):
    """How a passage is read: chosen per draft (auto), at three scales (passage), by its window, or both
    combined by the shipped ranking model (learned; what auto does with the draft evidence on)."""

    AUTO = "auto"
    PASSAGE = "passage"
    WINDOW = "window"
    LEARNED = "learned"


class Expansion(StrEnum):
    """What is added to a passage before recall: nothing, feedback terms (prf), or a chat model's rewrite."""

    NONE = "none"
    PRF = "prf"
    LLM = "llm"


class RerankMode(StrEnum):
    """Whether the judge reranks: when it can be loaded (auto), always (on: an error if not), or never."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class ContextMode(StrEnum):
    """What a context is: the citing sentence with its neighbours, or its whole paragraph."""

    SENTENCE = "sentence"
    PARAGRAPH = "paragraph"


def check_choice(choice: type[StrEnum], value: object, option: str, error: type[Exception] = ValueError) -> None:
    """Refuse a value that is not one of `choice`'s members with `error`, naming the option and the members."""
    if value not in {member.value for member in choice}:
        names = ", ".join(member.value for member in choice)
        raise error(f"{option} must be one of {names}, not {value!r}")
