"""benchmarks/acm_cr.py's own logic: where a paper's topics stand as one draft, and the per-paper table."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from acm_cr import Topic, _placed, contexts_for, paper_table, sentences_before  # noqa: E402

PARAGRAPHS = [
    "Retrieval is old [1]. Dense retrieval is newer [2]. It needs training data.",
    "Rerankers judge pairs [3]. They are slow.",
]


def _topic(number: str, text: str) -> Topic:
    return Topic(number=number, paper="p", text=text, relevant=("10.1/x",))


def test_topics_stand_in_their_paragraphs_or_in_topic_order() -> None:
    topics = [_topic("1", "Dense retrieval is newer [2]."), _topic("2", "Rerankers judge pairs [3].")]
    per_topic = [contexts_for(t, "sentence", 0, {"p": PARAGRAPHS}, "p") for t in topics]
    assert [c[0].paragraph for c in per_topic] == [0, 1]
    assert sentences_before(PARAGRAPHS) == [0, 3]
    by_order = _placed(per_topic)
    assert [(c[0].id, c[0].paragraph) for c in by_order] == [(0, -1), (1, -1)]
    by_paragraph = _placed(per_topic, sentences_before(PARAGRAPHS))
    assert [(c[0].id, c[0].paragraph) for c in by_paragraph] == [(1, 0), (3, 1)]  # second sentence; fourth
    lost = [contexts_for(_topic("3", "Nowhere in a paragraph [4]."), "sentence", 0, {"p": PARAGRAPHS}, "p")]
    assert [c.id for c in _placed(per_topic + lost, sentences_before(PARAGRAPHS))[-1]] == [4]  # after the last


def test_paper_table_gives_each_runs_change_and_the_worst_paper() -> None:
    text = paper_table({"a": {"x": [0.5, 1.0], "y": [1.0, 1.0]}, "b": {"x": [1.0], "y": [0.0]}}, ["x", "y"])
    lines = text.splitlines()
    assert lines[2] == "| a | 2 | 0.750 | 1.000 | +0.250 |"
    assert lines[3] == "| b | 1 | 1.000 | 0.000 | -1.000 |"
    assert "| **worst paper** |  |  |  | -1.000 |" in lines and lines[-1].endswith("| 1 / 1 |")
