"""The adaptation's rows, read once and masked per fold, are the rows rebuilt from that fold's citations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from citerec.index import Index
from citerec.library import Library
from citerec.recall import Passage, RecallSpec
from citerec.recall.features import FEATURES, PlanLists
from citerec.recall.folds import DraftRows
from citerec.recall.plans import recall_window, recall_with_plan
from tests.helpers.folds import masked_beside_rebuilt


def _overlapping_draft(library: Library) -> tuple[list[Passage], list[tuple[str, ...]]]:
    """Ten passages of one draft in three sections, each citing two of five papers (so papers are cited by
    several passages, near and far)."""
    papers = sorted(library.papers(), key=lambda p: p.key)[:5]
    passages, known = [], []
    for i in range(10):
        a, b = papers[i % 5], papers[(i * 2 + 1) % 5]
        sentence = f"Work on {a.title.lower()} and on {b.title.lower()} is related."
        passages.append(Passage(sentence, sentence, "", "draft.tex", 3 * i, i // 2, f"S{i // 4}"))
        known.append(tuple(dict.fromkeys((a.key, b.key))))
    return passages, known


def test_masked_rows_are_the_rebuilt_rows(example_library_dir: Path) -> None:
    library = Library(example_library_dir)
    index = Index.open(library)
    passages, known = _overlapping_draft(library)
    spec = RecallSpec(k=10, plan="passage")
    lists = PlanLists.of(passages, recall_with_plan(index, passages, spec), recall_window(index, passages, spec))
    cited = list(range(len(passages)))
    rows = DraftRows.read(index, lists, known, cited)
    lexical = FEATURES.index("context_lex")
    others = [f for f in range(len(FEATURES)) if f != lexical]
    for held in ({0, 5}, {3}, set()):
        for a, new, labels, old in masked_beside_rebuilt(index, lists, known, rows, held):
            bad = np.abs(new - old.features).max(axis=0)
            assert (bad[others] < 1e-5).all(), {f: float(v) for f, v in zip(FEATURES, bad, strict=True) if v >= 1e-5}
            # the wording's similarity is weighed by the whole draft's words, not the fold's: close, not equal
            assert np.allclose(new[:, lexical], old.features[:, lexical], atol=0.2)
            assert (labels == np.array([k in {x.lower() for x in known[a]} for k in old.keys])).all()


def test_an_unchanged_draft_reads_its_ranking_back_and_an_edit_ranks_again(
    example_library_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import citerec.recall.run as run
    from citerec.recall import recall

    library = Library(example_library_dir)
    index = Index.open(library)
    passages, known = _overlapping_draft(library)
    spec = RecallSpec(k=10)
    first = recall(index, passages, spec, known=known)
    assert any(item.why for item in first)

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("ranked again")

    monkeypatch.setattr(run, "rank_learned", refused)
    again = recall(index, passages, spec, known=known)
    assert again == first  # candidates, scores and reasons, read back
    edited = [*passages[:3], dataclasses.replace(passages[3], sentence="Something else entirely.")]
    with pytest.raises(AssertionError, match="ranked again"):
        recall(index, [*edited, *passages[4:]], spec, known=known)
    with pytest.raises(AssertionError, match="ranked again"):
        recall(index, passages, spec, known=[*known[:2], (), *known[3:]])  # a citation removed
