"""The small CPU judge: trained from a clone (quick), loaded, fused with recall's order, used by --rerank auto."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.errors import ModelError
from citerec.linear import read_model
from citerec.rerank import SMALL_JUDGE, is_small_judge, load_reranker, recall_order_fusion
from citerec.rerank.cache import CachedReranker
from citerec.rerank.small import (
    FUSION_FILE,
    FUSION_KIND,
    MODEL_FILE,
    SHIPPED,
    PairEncoder,
    centre,
    load_small_judge,
)
from citerec.suggest import Suggester, SuggestOptions
from tests.conftest import EXAMPLES
from tests.test_models import _fixture_collection

runner = CliRunner()


@pytest.fixture(scope="module")
def quick_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A judge trained by `citerec train judge --quick` on two example papers (one train, one dev)."""
    root = tmp_path_factory.mktemp("judge")
    papers = _fixture_collection(root / "papers")
    split = root / "split.json"
    split.write_text(json.dumps({"seed": 0, "train": ["draft"], "dev": ["related"], "test": []}), encoding="utf-8")
    out = root / "judge"
    result = runner.invoke(
        app,
        ["train", "judge", "--papers", str(papers), "--split", str(split), "--out", str(out), "--quick"]
        + ["--cache", str(root / "cache")],
    )
    assert result.exit_code == 0, result.output
    assert "dev Recall@10" in result.output and f"wrote {out}" in result.output
    return out


def test_training_writes_a_judge_that_says_what_made_it(quick_judge: Path) -> None:
    assert {p.name for p in quick_judge.iterdir()} == {MODEL_FILE, "tokenizer.json", FUSION_FILE}
    fusion = read_model(quick_judge / FUSION_FILE, FUSION_KIND)
    info = fusion.info
    assert info.papers == ("draft",) and info.embedder.startswith("all-MiniLM-L6-v2")
    assert info.hyperparameters["base_model"] == "all-MiniLM-L6-v2"
    assert info.hyperparameters["dev_papers"] == ["related"]
    assert set(info.metrics["dev_recall@10"]) == {"recall", "judge", "fused"}
    assert (quick_judge / MODEL_FILE).stat().st_size < 30e6  # int8, embeddings included


def test_a_trained_judge_loads_by_folder_and_scores_pairs(quick_judge: Path) -> None:
    judge = load_reranker(str(quick_judge))
    assert judge.model_name.startswith(f"{SMALL_JUDGE}@")
    scores = judge.score("Dense retrieval with BERT encoders.", ["BERT: pre-training", "Soil moisture in Kenya"])
    assert len(scores) == 2 and all(0.0 < s < 1.0 for s in scores)
    assert judge.score("Dense retrieval with BERT encoders.", ["BERT: pre-training"])[0] == pytest.approx(scores[0])
    fuse = recall_order_fusion(CachedReranker(judge, quick_judge.parent / "cache.sqlite"))
    assert fuse is not None and len(fuse(scores)) == 2


def test_the_shipped_judge_reads_the_pair_and_keeps_recalls_order_on_ties() -> None:
    judge = load_reranker(SMALL_JUDGE)
    query = "Sparse retrieval with learned term weights scores documents by expanding the query terms."
    entries = [
        "SPLADE: Sparse Lexical and Expansion Model for First Stage Ranking\nThibault Formal (2021), SIGIR",
        "Glacier mass balance in the Alps from satellite gravimetry\nA. Author (2019), The Cryosphere",
    ]
    scores = judge.score(query, entries)
    assert all(0.0 < s < 1.0 for s in scores) and scores[0] != scores[1]
    assert judge.score(query.upper(), entries) == pytest.approx(scores, abs=1e-6)  # uncased word pieces
    fuse = recall_order_fusion(judge)
    assert fuse is not None
    fused = fuse([0.5, 0.5, 0.5])  # equal judge scores: recall's order decides
    assert fused[0] > fused[1] > fused[2]
    higher = fuse([0.5, 0.9, 0.5])  # a higher judge score lifts a candidate
    assert higher[1] > fused[1]


def test_the_shipped_judge_was_chosen_on_dev_above_recall_alone() -> None:
    fusion = read_model(SHIPPED / FUSION_FILE, FUSION_KIND)
    measured = fusion.info.metrics["dev_recall@10"]
    for reading in ("finishing", "fresh"):
        assert measured["fused"][reading] > measured["recall"][reading]
    assert fusion.info.hyperparameters["dev_papers"] and not set(fusion.info.papers) & set(
        fusion.info.hyperparameters["dev_papers"]
    )


def test_qwen3_scores_are_used_as_they_come() -> None:
    class Plain:
        model_name = "plain"

    assert recall_order_fusion(Plain()) is None


def test_the_passage_is_cut_around_its_middle() -> None:
    assert centre(list(range(10)), 4) == [3, 4, 5, 6]
    assert centre([1, 2], 4) == [1, 2]
    encoder = PairEncoder.from_file(SHIPPED / "tokenizer.json", max_tokens=24, query_tokens=8)
    ((ids, types),) = encoder.encode([("one two three four five six seven eight nine ten eleven twelve", "a b " * 40)])
    assert len(ids) == 24 and types.count(0) == 10 and ids[0] == encoder.cls_id and ids[-1] == encoder.sep_id


def test_names_and_backends(tmp_path: Path) -> None:
    assert is_small_judge(SMALL_JUDGE) and not is_small_judge("Qwen/Qwen3-Reranker-4B")
    with pytest.raises(ModelError, match="--backend is for Qwen3"):
        load_reranker(SMALL_JUDGE, backend="vllm")
    with pytest.raises(ModelError, match="not available offline"):
        load_reranker(f"{SMALL_JUDGE}-nope")  # neither the shipped name nor a judge's folder: a Qwen3 name
    (tmp_path / FUSION_FILE).write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="model.onnx missing"):
        load_small_judge(str(tmp_path))


def test_rerank_auto_falls_back_to_the_small_judge_and_says_so(example_library_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["suggest", str(EXAMPLES / "draft.tex"), "-L", str(example_library_dir)]
        + ["--reranker", "no-such/qwen3-model", "--format", "json", "--top", "3"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["reranked"] and data["reranker"].startswith(f"{SMALL_JUDGE}@")
    assert any("ranked by the small judge" in note for note in data["notes"])
    assert "ranked by the small judge" in result.stderr


def test_rerank_on_with_a_missing_qwen3_still_fails(example_library_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["suggest", str(EXAMPLES / "draft.tex"), "-L", str(example_library_dir)]
        + ["--reranker", "no-such/qwen3-model", "--rerank", "on"],
    )
    assert result.exit_code == 1 and "no-such/qwen3-model" in result.output


def test_the_pipeline_ranks_by_the_fused_score(example_library_dir: Path) -> None:
    from citerec.library import Library

    suggester = Suggester(Library(example_library_dir), options=SuggestOptions(rerank="on", reranker=SMALL_JUDGE))
    result = suggester.suggest_path(EXAMPLES / "draft.tex")
    assert result.reranked and result.reranker is not None and result.reranker.startswith(SMALL_JUDGE)
    for item in result.contexts:
        ranking = item.ranking
        scores = [s.score for s in ranking]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 < s < 1.0 for s in scores)
    judge = load_reranker(SMALL_JUDGE)
    fuse = recall_order_fusion(judge)
    assert fuse is not None
    item = result.contexts[0]
    by_recall = sorted(item.ranking, key=lambda s: s.recall_rank)
    papers = suggester.library.get_many([s.key for s in by_recall])
    from citerec.papers import normalise_key
    from citerec.rerank import format_document

    raw = judge.score(item.context.text, [format_document(papers[normalise_key(s.key)]) for s in by_recall])
    assert [s.score for s in by_recall] == pytest.approx(fuse(raw))


def test_the_server_fuses_the_small_judges_scores_as_suggest_does(example_library_dir: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from citerec.library import Library
    from citerec.serve import create_app

    library = Library(example_library_dir)
    judge = load_reranker(SMALL_JUDGE)
    text = "Sparse retrieval with learned term weights expands queries and documents."
    app = create_app(library, reranker=judge, options=SuggestOptions(rerank="on", reranker=SMALL_JUDGE))
    try:
        with TestClient(app) as client:
            response = client.post("/v1/suggest", json={"text": text, "top_n": 5})
            raw = client.post("/v1/rerank", json={"query": text, "documents": ["SPLADE", "Glaciers"]})
    finally:
        app.state.service.close()
    assert response.status_code == 200, response.text
    served = response.json()
    assert served["reranker"] == judge.model_name
    direct = Suggester(library, options=SuggestOptions(rerank="on", reranker=SMALL_JUDGE)).suggest_text(
        text, is_tex=False
    )
    assert [s["key"] for s in served["contexts"][0]["suggestions"]] == [s.key for s in direct.contexts[0].suggestions]
    assert [s["score"] for s in served["contexts"][0]["suggestions"]] == pytest.approx(
        [s.score for s in direct.contexts[0].suggestions]
    )
    assert [r["relevance_score"] for r in sorted(raw.json()["results"], key=lambda r: r["index"])] == pytest.approx(
        judge.score(text, ["SPLADE", "Glaciers"])
    )


def test_the_editor_judges_only_recalls_first_items(example_library_dir: Path) -> None:
    from citerec.lsp.editor import EditorSession
    from citerec.lsp.settings import EditorSettings

    query = "Transformers replace recurrence with self-attention for sequence transduction."
    judged = SuggestOptions(rerank="on", reranker=SMALL_JUDGE)
    settings = EditorSettings(library_dir=example_library_dir, workspace_bibs=False, options=judged, judged_items=5)
    engine = EditorSession(settings)
    engine.start([example_library_dir.parent]).result(timeout=120)
    try:
        ranked = engine.rank(query, sentence=query, limit=12)
        suggester = engine.suggester
        assert suggester is not None
        from citerec.latex import Context

        context = Context(0, query, query, "<buffer>", 1, 1, (), True)
        options = judged.with_recall(k=5)
        top = suggester.rank([context], dataclasses.replace(options, top_n=12, include_cited=True))[0].ranking
        recall = suggester.rank([context], dataclasses.replace(judged, rerank="off", include_cited=True))[0].ranking
    finally:
        engine.close()
    assert [r.rank for r in ranked] == list(range(1, 13))
    assert [r.key for r in ranked[:5]] == [s.key for s in top]  # the judge's order of recall's first five
    rest = [s.key for s in recall if s.key not in {r.key for r in ranked[:5]}]
    assert [r.key for r in ranked[5:]] == rest[:7]  # then recall's order
