"""What the small judge learns from: recall lists of a collection's cited passages, and pairs drawn from them.

A list is what `citerec eval` recalls for one cited passage (pooled library of the papers' .bib files, recall
alone, in both readings), labelled by the keys the passage cites. Lists are kept beside the pooled library, keyed
by the manifest rows, the ranking model and the citerec version, so a second training run does not recall again.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citerec import __version__
from citerec.evaluate import READINGS  # the lists are recalled as `citerec eval` reads a paper, in both readings

LISTS_FILE = "lists.json"
LISTS_FORMAT = 1  # bump when what a list holds changes: kept lists are then recomputed


@dataclass(frozen=True)
class RecallList:
    """One recalled passage: its paper, reading, text, cited keys and recall's ranking (library keys)."""

    paper: str
    reading: str
    query: str
    truth: tuple[str, ...]
    ranked: tuple[str, ...]

    def labels(self) -> np.ndarray:
        truth = {k.lower() for k in self.truth}
        return np.asarray([k.lower() in truth for k in self.ranked], dtype=bool)


def recall_lists(papers: Sequence[Any], root: Path, progress: Callable[[str], None]) -> tuple[list[RecallList], Any]:
    """Every cited passage of `papers` (CollectionPaper), recalled against their pooled library kept in `root`.

    The lists are kept beside the library, keyed by the manifest rows, the ranking model and the citerec version,
    so that a second run (or the dev part's re-scoring) does not recall again."""
    from citerec.evaluate import build_eval_library, merge_keymaps
    from citerec.recall.learned import load_ranker
    from citerec.suggest import Suggester, SuggestOptions
    from citerec.train.collection import manifest_hash, paper_bounds

    library, keymaps = build_eval_library([b for p in papers for b in p.bibs], root / "pooled")
    stamp = {
        "format": LISTS_FORMAT,
        "manifest_sha256": manifest_hash(papers),
        "ranker": load_ranker().digest,
        "citerec": __version__,
    }
    kept = root / LISTS_FILE
    if kept.is_file():
        data = json.loads(kept.read_text(encoding="utf-8"))
        if data.get("stamp") == stamp:
            return [
                RecallList(**{**row, "truth": tuple(row["truth"]), "ranked": tuple(row["ranked"])})
                for row in data["lists"]
            ], library
    from citerec.evaluate import evaluate_on_library

    suggester = Suggester(library, options=SuggestOptions(rerank="off"))
    lists = []
    for paper, (a, b) in zip(papers, paper_bounds(papers), strict=True):
        keymap = merge_keymaps(keymaps[a:b])
        for reading in READINGS:
            evaluation = evaluate_on_library(
                paper.tex, suggester, keymap, name=paper.name, reading=reading, bibs=paper.bibs
            )
            lists += [RecallList(paper.name, reading, c.query, c.truth, c.ranked) for c in evaluation.contexts]
        progress(f"{paper.name}: recalled")
    partial = kept.with_name(f".{kept.name}.partial")
    partial.write_text(json.dumps({"stamp": stamp, "lists": [dataclasses.asdict(x) for x in lists]}), "utf-8")
    os.replace(partial, kept)
    return lists, library


def entry_texts(library: Any, lists: Sequence[RecallList]) -> dict[str, str]:
    """What the judge reads of every candidate of `lists`: its entry as every reranker formats it."""
    from citerec.papers import normalise_key
    from citerec.rerank import format_document

    keys = {k for x in lists for k in x.ranked}
    papers = library.get_many(keys)
    return {k: format_document(papers[normalise_key(k)]) if normalise_key(k) in papers else k for k in keys}


def training_groups(
    lists: Sequence[RecallList], texts: dict[str, str], *, negatives: int, max_groups: int, seed: int
) -> list[tuple[str, tuple[str, ...]]]:
    """(passage, (cited entry, uncited entry, …)) groups: one per cited candidate of a list, with `negatives`
    uncited candidates of the same list (rank r drawn with weight 1/√r: recall's near misses more often); a
    passage's cited paper gives one group over both readings; then a seeded sample of `max_groups`."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[str, str]] = set()
    groups = []
    for item in lists:
        labels = item.labels()
        uncited = np.flatnonzero(~labels)
        if not labels.any() or len(uncited) < negatives:
            continue
        weights = 1.0 / np.sqrt(uncited + 1.0)
        for i in np.flatnonzero(labels):
            if (item.query, item.ranked[i]) in seen:
                continue
            seen.add((item.query, item.ranked[i]))
            drawn = rng.choice(uncited, size=negatives, replace=False, p=weights / weights.sum())
            groups.append((item.query, tuple(texts[item.ranked[j]] for j in (i, *drawn))))
    if len(groups) > max_groups:
        keep = rng.choice(len(groups), size=max_groups, replace=False)
        groups = [groups[i] for i in sorted(keep)]
    return groups


def dev_sample(lists: Sequence[RecallList], per_paper: int, seed: int) -> list[RecallList]:
    """A seeded sample of `per_paper` passages per paper; the same passages in both readings."""
    rng = np.random.default_rng(seed)
    by_paper: dict[str, list[RecallList]] = {}
    for item in lists:
        by_paper.setdefault(item.paper, []).append(item)
    out = []
    for items in by_paper.values():
        queries = sorted({x.query for x in items if x.labels().any()})
        keep = set(rng.permutation(queries)[:per_paper]) if len(queries) > per_paper else set(queries)
        out += [x for x in items if x.query in keep]
    return out
