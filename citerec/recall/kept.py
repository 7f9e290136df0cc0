"""A draft's learned ranking kept between runs: a re-run of an unchanged draft reads it instead of ranking again.

The learned ranking of a whole draft (its evidence, the per-draft adaptation and
every candidate row) depends on the index generation, the request, the model,
every passage as read (text and place), the library keys each cites and the past
sentences of `library learn`; the key below is made from exactly those, so any
change ranks the draft again. The result is stored in the index's recall cache,
beside the candidates it was ranked from (dropped with them when the index
changes generation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from citerec.index.cache import cache_key
from citerec.recall.learned import Ranked
from citerec.recall.spec import Candidate, Passage, RecallSpec

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.linear import LinearModel
    from citerec.past_sentences import PastSentence

KEPT_VERSION = 2  # bump when the same inputs start to rank differently (2: a paper's clause stands for its sentence)


def ranking_key(
    index: Index,
    spec: RecallSpec,
    model: LinearModel,
    passages: Sequence[Passage],
    known: Sequence[Collection[str]],
    past: Sequence[PastSentence],
) -> str:
    """The key of one draft's learned ranking: everything it depends on."""
    return cache_key(
        "learned-ranking",
        KEPT_VERSION,
        index.manifest.generation,
        index.nprobe,
        dataclasses.asdict(spec),
        model.digest,
        [_values(p) for p in passages],
        [sorted(keys) for keys in known],
        [_values(s) for s in past],
    )


def _values(item: object) -> tuple[object, ...]:
    """A dataclass's field values, shallow: `dataclasses.astuple` deep-copies every nested value (a thesis's
    passages took a tenth of a second), and the JSON of the key is the same either way."""
    return tuple(getattr(item, field.name) for field in dataclasses.fields(item))  # type: ignore[arg-type]


def read_ranked(index: Index, key: str) -> list[Ranked] | None:
    """The draft's ranking kept under `key`, or None."""
    if index.cache is None:
        return None
    found = index.cache.candidates([key]).get(key)
    if found is None:
        return None
    return [
        Ranked(tuple(Candidate(*row) for row in item["candidates"]), {k: tuple(v) for k, v in item["why"].items()})
        for item in found
    ]


def keep_ranked(index: Index, key: str, ranked: Sequence[Ranked]) -> None:
    """Keep the draft's ranking under `key` until the index changes."""
    if index.cache is None:
        return
    value = [
        {
            "candidates": [_values(c) for c in item.candidates],
            "why": {k: list(v) for k, v in item.why.items()},
        }
        for item in ranked
    ]
    index.cache.put_candidates(index.manifest.generation, [(key, value)])
