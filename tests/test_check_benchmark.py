"""The measures of benchmarks/citeworthiness.py: average precision, ROC AUC, the seeded 30 % hidden."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from citeworthiness import PaperData, hidden_mask, metrics, roc_auc  # noqa: E402

from citerec.check.features import read_sentences  # noqa: E402
from citerec.latex import read_draft  # noqa: E402
from tests.test_check import DRAFT  # noqa: E402


def test_ranking_measures_on_known_orders() -> None:
    positive = np.array([True, False, True, False, False])
    perfect = np.array([0.9, 0.1, 0.8, 0.2, 0.3])
    assert metrics(perfect, positive, None) == {"ap": 1.0, "p@n": 1.0, "auc": 1.0}
    reverse = -perfect
    assert roc_auc(reverse, positive) == 0.0
    # positives ranked 1st and 3rd: AP = (1/1 + 2/3) / 2
    assert metrics(np.array([5.0, 4.0, 3.0, 2.0, 1.0]), positive, None)["ap"] == pytest.approx(5 / 6)
    assert roc_auc(np.zeros(5), positive) == 0.5  # ties count half
    flagged = metrics(perfect, positive, perfect >= 0.25)
    assert (flagged["precision"], flagged["recall"], flagged["flagged"]) == (pytest.approx(2 / 3), 1.0, 3)


def test_hidden_share_is_seeded_and_taken_from_citing_sentences() -> None:
    rows = tuple(read_sentences(read_draft("x.tex", text=DRAFT))) * 10  # ten citing sentences among fifty
    paper = PaperData("x", rows, np.zeros((len(rows), 384)), np.zeros((len(rows), 4)))
    first, again = hidden_mask(paper), hidden_mask(paper)
    assert np.array_equal(first, again)
    assert first.sum() == round(0.3 * paper.cited.sum()) and not (first & ~paper.cited).any()
