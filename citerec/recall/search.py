"""Recalling candidate papers for passages: every reading searched, fused, mixed, remembered.

`recall_passages(index, passages, spec)` runs BM25 and dense search, each
`fusion.depth` deep, fuses the two lists (by rank or by normalised score), mixes
a passage's readings and adds its draft's topic when the spec asks. With
feedback, a second pass runs an RM3-expanded BM25 query and a Rocchio-moved
dense query. Lists already computed for the same text under the same settings
come from the index's recall cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from citerec.recall.feedback import feedback_lists, feedback_terms
from citerec.recall.fusion import combine, mix
from citerec.recall.readings import readings, with_topic
from citerec.recall.spec import RECALL_K, Candidate, FusionSettings, Passage, RecallSpec, candidates_key

if TYPE_CHECKING:
    from citerec.index import Index

_EMPTY = (np.zeros(0, np.int64), None)


def recall_passages(
    index: Index,
    passages: Sequence[Passage],
    spec: RecallSpec,
    topics: Sequence[np.ndarray | None] | None = None,
) -> list[list[Candidate]]:
    """The `spec.k` papers most likely cited by each passage, best first.

    Passages seen before come from the cache, the rest are batched. `topics` are
    the passages' draft topics (`readings.draft_topics`; None for none), used by
    hybrid recall when the spec gives the topic a weight.
    """
    k = min(spec.k, index.size)
    if k <= 0 or not passages:
        return [[] for _ in passages]
    fusion = spec.fusion
    read = [readings(passage, fusion) for passage in passages]
    if not spec.hybrid or fusion.topic_weight <= 0 or topics is None:
        topics = [None] * len(passages)
    if all(len(r) == 1 for r in read) and all(t is None for t in topics):
        return cached_lists(index, [r[0][0] for r in read], k, spec.method, spec.feedback, fusion)
    depth = max(k, fusion.depth)
    texts = list(dict.fromkeys(text for reading in read for text, _ in reading))
    lists = dict(zip(texts, cached_lists(index, texts, depth, spec.method, spec.feedback, fusion), strict=True))
    results = []
    for reading, topic in zip(read, topics, strict=True):
        if len(reading) == 1:
            candidates = lists[reading[0][0]]
        else:
            candidates = mix([lists[text] for text, _ in reading], [weight for _, weight in reading])
        if topic is not None:
            candidates = with_topic(index, candidates, topic, fusion.topic_weight)
        results.append(candidates[:k])
    return results


def recall_texts(index: Index, texts: Sequence[str], spec: RecallSpec) -> list[list[Candidate]]:
    """`recall_passages` for plain texts, each read as a single window."""
    return recall_passages(index, [Passage(text) for text in texts], spec)


def cached_lists(
    index: Index, texts: list[str], k: int, method: str, feedback: bool, fusion: FusionSettings
) -> list[list[Candidate]]:
    """Each text's `k` candidates, from the recall cache where it has them."""
    if index.cache is None:
        return _fresh(index, texts, k, method, feedback, fusion)
    keys = [candidates_key(index, method, k, fusion, feedback, text) for text in texts]
    found = index.cache.candidates(keys)
    missing = list(dict.fromkeys(i for i, key in enumerate(keys) if key not in found))
    if missing:
        fresh = _fresh(index, [texts[i] for i in missing], k, method, feedback, fusion)
        computed = {keys[i]: [dataclasses.asdict(c) for c in result] for i, result in zip(missing, fresh, strict=True)}
        index.cache.put_candidates(index.manifest.generation, computed.items())
        found.update(computed)
    return [[Candidate(**c) for c in found[key]] for key in keys]


def feedback_words(index: Index, texts: Sequence[str], spec: RecallSpec) -> list[tuple[str, ...]]:
    """The BM25 stems the feedback pass adds to each text (heaviest first): what feedback expands it with."""
    first = cached_lists(index, list(texts), min(spec.fusion.prf_docs, index.size), spec.method, False, spec.fusion)
    return feedback_terms(index, texts, first, spec.fusion)


def _fresh(
    index: Index, texts: list[str], k: int, method: str, feedback: bool, fusion: FusionSettings
) -> list[list[Candidate]]:
    depth = k if method != "hybrid" else max(k, fusion.depth)
    if feedback:
        first = cached_lists(index, texts, min(fusion.prf_docs, index.size), method, False, fusion)
        lexical, semantic = feedback_lists(index, texts, first, depth, method, fusion)
    else:
        lexical = index.bm25_lists(texts, depth) if method != "dense" else None
        semantic = index.dense_lists(index.query_vectors(texts), depth) if method != "bm25" else None
    return [
        combine(
            index.keys,
            lexical[i] if lexical is not None else _EMPTY,
            semantic[i] if semantic is not None else _EMPTY,
            k,
            method,
            fusion,
        )
        for i in range(len(texts))
    ]


def recall_text(index: Index, text: str, k: int = RECALL_K, method: str = "hybrid") -> list[Candidate]:
    """One plain text's `k` candidates with the default settings: a convenience for the CLI and scripts."""
    return recall_texts(index, [text], RecallSpec(method=method, k=k))[0]
