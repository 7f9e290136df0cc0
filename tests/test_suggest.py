"""The suggestion pipeline end to end on the example library (recall, rerank, cut, JSON)."""

from __future__ import annotations

import pytest

from citerec.errors import CiterecError, ModelError
from citerec.library import Library
from citerec.recall import RecallSpec
from citerec.suggest import SCHEMA, Suggester, SuggestOptions, suggest


def test_recall_only_suggests_library_keys_and_skips_cited(example_library_dir, examples_dir) -> None:
    library = Library(example_library_dir)
    result = suggest(examples_dir / "draft.tex", library=library, rerank="off", top_n=3)
    assert not result.reranked
    assert result.contexts, "the example draft has citations and placeholders"
    assert any(item.context.placeholder for item in result.contexts)
    for item in result.contexts:
        assert len(item.suggestions) <= 3
        cited = {k.lower() for k in item.context.cited_keys}
        for suggestion in item.suggestions:
            assert suggestion.key in library
            assert suggestion.key.lower() not in cited
        scores = [s.score for s in item.suggestions]
        assert scores == sorted(scores, reverse=True)


def test_include_cited_lets_cited_keys_back_in(example_library_dir, examples_dir) -> None:
    library = Library(example_library_dir)
    strict = suggest(examples_dir / "draft.tex", library=library, rerank="off", top_n=10)
    loose = suggest(examples_dir / "draft.tex", library=library, rerank="off", top_n=10, include_cited=True)
    cited_back = [s for item in loose.contexts for s in item.suggestions if s.already_cited]
    assert cited_back, "some cited paper should be recalled for its own sentence"
    assert not [s for item in strict.contexts for s in item.suggestions if s.already_cited]


def test_rerank_with_tiny_model_orders_by_rerank_score_and_caches(
    example_library_dir, examples_dir, tiny_reranker_dir
) -> None:
    library = Library(example_library_dir)
    options = SuggestOptions(
        rerank="on", reranker=str(tiny_reranker_dir), top_n=8, threshold=0.0, recall=RecallSpec(k=8)
    )
    suggester = Suggester(library, options=options)
    first = suggester.suggest_path(examples_dir / "draft.tex")
    assert first.reranked and first.reranker
    for item in first.contexts:
        scores = [s.rerank_score for s in item.ranking]
        assert all(s is not None and 0.0 < s < 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert sorted(s.recall_rank for s in item.ranking) == list(range(1, len(item.ranking) + 1))
    assert (example_library_dir / "rerank-cache.sqlite").exists()
    again = Suggester(library, options=options).suggest_path(examples_dir / "draft.tex")
    assert [[s.key for s in i.suggestions] for i in again.contexts] == [
        [s.key for s in i.suggestions] for i in first.contexts
    ]


def test_threshold_drops_low_scores(example_library_dir, examples_dir, tiny_reranker_dir) -> None:
    library = Library(example_library_dir)
    options = SuggestOptions(rerank="on", reranker=str(tiny_reranker_dir), threshold=1.01, recall=RecallSpec(k=5))
    result = Suggester(library, options=options).suggest_path(examples_dir / "draft.tex")
    assert all(not item.suggestions for item in result.contexts)


def test_auto_mode_falls_back_with_a_note_and_on_mode_fails(
    example_library_dir, examples_dir, tmp_path, monkeypatch
) -> None:
    library = Library(example_library_dir)
    missing = str(tmp_path / "no-such-reranker")
    result = suggest(examples_dir / "draft.tex", library=library, rerank="auto", reranker=missing)
    assert result.reranked and result.reranker.startswith("citerec-small@")  # the small CPU judge stood in
    assert any("ranked by the small judge" in note and missing in note for note in result.notes)
    monkeypatch.setattr("citerec.rerank.small.SHIPPED", tmp_path / "no-judge-either")
    result = suggest(examples_dir / "draft.tex", library=Library(example_library_dir), rerank="auto", reranker=missing)
    assert not result.reranked
    assert any("reranking skipped" in note and "the small judge" in note for note in result.notes)
    with pytest.raises(ModelError):
        suggest(examples_dir / "draft.tex", library=library, rerank="on", reranker=missing)


def test_plain_text_without_citations_uses_every_sentence(example_library_dir) -> None:
    library = Library(example_library_dir)
    text = "We retrieve passages with a dual encoder. Then a cross-encoder reranks them."
    result = suggest(text, library=library, rerank="off")
    assert len(result.contexts) == 2
    assert any("every sentence" in note for note in result.notes)


def test_json_is_versioned_and_complete(example_library_dir, examples_dir) -> None:
    library = Library(example_library_dir)
    data = suggest(examples_dir / "draft.tex", library=library, rerank="off").to_json()
    assert data["schema"] == SCHEMA
    assert data["reranked"] is False
    context = data["contexts"][0]
    assert {"file", "line_start", "line_end", "sentence", "cited_keys", "placeholder", "suggestions"} <= set(context)
    assert {"key", "title", "score", "rank", "recall_rank", "bm25_rank", "dense_rank"} <= set(context["suggestions"][0])


def test_empty_library_and_bad_options_are_clear_errors(tmp_path) -> None:
    with pytest.raises(CiterecError, match="empty"):
        Suggester(Library(tmp_path / "empty"))
    with pytest.raises(CiterecError, match="--rerank"):
        SuggestOptions(rerank="maybe")


def test_per_call_options_can_turn_reranking_on(example_library_dir, examples_dir, tiny_reranker_dir) -> None:
    """A suggester made without a reranker loads one when a call's options ask for it (evaluation does this)."""
    library = Library(example_library_dir)
    suggester = Suggester(library, options=SuggestOptions(rerank="off"))
    assert suggester.reranker is None
    on = SuggestOptions(rerank="on", reranker=str(tiny_reranker_dir), threshold=0.0, recall=RecallSpec(k=5))
    result = suggester.suggest_path(examples_dir / "draft.tex", options=on)
    assert result.reranked
    assert all(s.rerank_score is not None for item in result.contexts for s in item.ranking)
    assert not suggester.suggest_path(examples_dir / "draft.tex").reranked
