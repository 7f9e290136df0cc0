"""Ranking metrics of the leave-citations-out evaluation, on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from citerec.evaluate import METRIC_NAMES, average, ranking_metrics


def test_perfect_ranking_scores_one_everywhere() -> None:
    metrics = ranking_metrics(["a", "b", "c"], ["a"])
    assert all(metrics[name] == 1.0 for name in METRIC_NAMES)


def test_recall_counts_the_share_of_true_keys_in_the_cutoff() -> None:
    ranked = ["x1", "a", "x2", "x3", "x4", "b"] + [f"y{i}" for i in range(20)]
    metrics = ranking_metrics(ranked, ["A", "b"])  # keys compare case-insensitively
    assert metrics["recall@1"] == 0.0
    assert metrics["recall@5"] == 0.5
    assert metrics["recall@10"] == 1.0
    assert metrics["mrr"] == 0.5


def test_ndcg_matches_the_formula() -> None:
    metrics = ranking_metrics(["x", "a", "y", "b"], ["a", "b"])
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert metrics["ndcg@10"] == pytest.approx(dcg / ideal)


def test_missing_truth_gives_zero_and_empty_truth_is_an_error() -> None:
    metrics = ranking_metrics(["x", "y"], ["a"])
    assert metrics["mrr"] == 0.0 and metrics["recall@20"] == 0.0
    with pytest.raises(ValueError):
        ranking_metrics(["x"], [])


def test_average_is_the_plain_mean() -> None:
    rows = [ranking_metrics(["a"], ["a"]), ranking_metrics(["x"], ["a"])]
    assert average(rows)["recall@1"] == 0.5
    assert average([])["mrr"] == 0.0
