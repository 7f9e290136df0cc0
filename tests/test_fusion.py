"""Fusion of the BM25 and dense lists: reciprocal rank and normalised score combinations."""

from __future__ import annotations

import pytest

from citerec.recall import FusionSettings
from citerec.recall.fusion import normalise, reciprocal_rank_fusion, score_fusion, sharpness
from tests.helpers.recalling import recall_many


def test_rrf_rewards_agreement_and_keeps_weights() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60))
    assert max(fused, key=fused.get) == "b"
    heavy = reciprocal_rank_fusion([["a", "b"], ["c", "d"]], k=60, weights=[1.0, 2.0])
    assert heavy[0][0] == "c"


def test_minmax_maps_each_list_onto_unit_interval() -> None:
    values, missing = normalise([10.0, 5.0, 0.0], "minmax")
    assert values == [1.0, 0.5, 0.0]
    assert missing == 0.0
    flat, _ = normalise([3.0, 3.0], "minmax")
    assert flat == [1.0, 1.0]


def test_zscore_centres_and_gives_missing_items_the_lowest_value() -> None:
    values, missing = normalise([3.0, 2.0, 1.0], "zscore")
    assert values[1] == pytest.approx(0.0)
    assert values[0] == pytest.approx(-values[2])
    assert missing == pytest.approx(values[2])
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise([1.0], "softmax")


def test_score_fusion_uses_the_margin_that_rrf_throws_away() -> None:
    # BM25 is sure of "a" (far ahead); dense barely prefers "b" over "a".
    bm25 = {"a": 30.0, "b": 2.0, "c": 1.0}
    dense = {"b": 0.81, "a": 0.80, "c": 0.10}
    by_rank = reciprocal_rank_fusion([list(bm25), list(dense)], k=60, weights=[1.0, 2.0])
    by_score = score_fusion([bm25, dense], how="minmax", weights=[1.0, 2.0])
    assert by_rank[0][0] == "b"
    assert by_score[0][0] == "a"
    assert [item for item, _ in by_score] == ["a", "b", "c"]


def test_score_fusion_weights_are_convex_and_missing_items_count_as_worst() -> None:
    fused = dict(score_fusion([{"a": 2.0, "b": 1.0}, {"c": 0.9, "a": 0.1}], how="minmax", weights=[3.0, 1.0]))
    assert fused["a"] == pytest.approx(0.75 * 1.0 + 0.25 * 0.0)
    assert fused["c"] == pytest.approx(0.25 * 1.0)  # absent from BM25: 0 there
    assert fused["b"] == pytest.approx(0.0)
    assert max(fused.values()) <= 1.0


def test_sharpness_weighting_trusts_the_list_with_a_clear_leader() -> None:
    others = "abcdefgh"
    confident = {"x": 9.0, "y": 1.0} | dict.fromkeys(others, 1.0)  # one clear leader
    guessing = dict(zip("yabcxdefgh", [0.59 - 0.01 * i for i in range(10)], strict=True))  # evenly spread
    assert sharpness(list(confident.values())) > sharpness(list(guessing.values()))
    fixed = score_fusion([confident, guessing], how="zscore", weights=[1.0, 3.0])
    sharp = score_fusion([confident, guessing], how="zscore", weights=[1.0, 3.0], weighting="sharpness")
    assert fixed[0][0] == "y"
    assert sharp[0][0] == "x"
    assert sharpness([1.0, 1.0, 1.0]) == 0.0


def test_bad_fusion_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="weights for"):
        score_fusion([{"a": 1.0}], weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="negative"):
        score_fusion([{"a": 1.0}], weights=[-1.0])
    with pytest.raises(ValueError, match="fusion must be one of rrf, minmax, zscore"):
        FusionSettings(fusion="borda")
    with pytest.raises(ValueError, match="sentence_weight must not be negative"):
        FusionSettings(sentence_weight=-0.5)
    with pytest.raises(ValueError, match="topic_weight must not be negative"):
        FusionSettings(topic_weight=-1.0)
    with pytest.raises(ValueError, match="must not all be 0"):
        FusionSettings(sentence_weight=0.0, window_weight=0.0, wide_weight=0.0)


@pytest.mark.parametrize("fusion", ["rrf", "minmax", "zscore"])
def test_every_fusion_recalls_from_a_real_index(example_library_dir, fusion: str) -> None:
    from citerec.index import Index
    from citerec.library import Library

    index = Index.open(Library(example_library_dir))
    settings = FusionSettings(fusion=fusion, bm25_weight=1.0, dense_weight=1.0)
    (candidates,) = recall_many(
        index, ["dense passage retrieval for open-domain question answering"], k=5, fusion=settings
    )
    assert len(candidates) == 5
    assert candidates[0].key == "karpukhin2020dense"
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(c.bm25_rank is not None or c.dense_rank is not None for c in candidates)
