"""A suggestion's "why" names what sets it apart from the passage's other suggestions, not what all share."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from citerec.library import Library
from citerec.recall.evidence import Citing, PaperEvidence
from citerec.recall.features import FEATURES, Rows
from citerec.recall.learned import WHY_SHOWN, _ranked, load_ranker
from citerec.recall.spec import Candidate, Passage
from citerec.suggest import Suggester, SuggestOptions
from tests.conftest import EXAMPLES


def test_the_reason_every_candidate_shares_is_not_given() -> None:
    """Two candidates alike in every reading; only one is cited in the next sentence. The cited one's reason is
    that citation, and the reading both share is no reason for either to stand apart."""
    part = load_ranker().parts["finishing"]
    features = np.zeros((2, len(FEATURES)), np.float32)
    features[:, FEATURES.index("fused_z")] = 2.0  # both recalled alike, high
    cited = FEATURES.index("cited_elsewhere")
    features[0, cited : cited + 6] = [1.0, np.log1p(1), 0.5, 0.5, 1.0, 1.0]
    citing = Citing(1, 1, True, True, False, "Earlier words about it.")
    evidence = (PaperEvidence("a", (citing,)), None)
    candidates = (Candidate("a", 1.0, 1, 1, 1.0, 1.0), Candidate("b", 0.9, 2, 2, 0.9, 0.9))
    rows = Rows(("a", "b"), features, candidates, evidence, (-1, -1))
    passages = [Passage("Here.", "Here."), Passage("Earlier words about it.", "Earlier words about it.")]
    ranked = _ranked(passages, rows, part, 2, np.array([1.0, 1.0, 1.0, 0.0]))
    assert ranked.why["a"][0].startswith("cited 1 sentence later")
    assert "among the passage's closest matches" not in ranked.why["a"]


def test_reasons_are_few_and_differ_between_suggestions(example_library_dir: Path) -> None:
    suggester = Suggester(Library(example_library_dir), options=SuggestOptions(rerank="off"))
    result = suggester.suggest_path(EXAMPLES / "draft.tex")
    whys = [s.why for item in result.contexts for s in item.suggestions if s.why]
    assert whys and all(len(why) <= WHY_SHOWN for why in whys)
    counts = collections.Counter(reason for why in whys for reason in why)
    # before, the reason every candidate shares ("recalled by the passage") was on nine suggestions in ten
    assert counts.most_common(1)[0][1] <= 0.7 * len(whys), counts.most_common(3)
