"""The hf backend against a plain reference computation of the contract, on a tiny random Qwen3."""

from __future__ import annotations

import pytest

from citerec.errors import ModelError
from citerec.rerank import DEFAULT_INSTRUCTION, format_prompt, load_reranker
from citerec.rerank.hf import HFReranker
from tests.helpers.tiny_qwen import build_tiny_qwen3_reranker, reference_yes_probability

QUERY = "Transformers rely on self-attention to model long-range dependencies in text."
DOCS = [
    "Attention Is All You Need\nVaswani, Shazeer (2017), NeurIPS\nWe propose a new network architecture.",
    "BM25",
    "Deep residual learning for image recognition with convolutional networks and batch normalization. " * 3,
    "Dense passage retrieval for open-domain question answering with dual encoders.",
    "yes no",
    "BERT: pre-training of deep bidirectional transformers for language understanding.",
    "Citation recommendation",
]


@pytest.fixture(scope="module")
def model_dir(tiny_reranker_dir):
    return tiny_reranker_dir


@pytest.fixture(scope="module")
def reranker(model_dir) -> HFReranker:
    return load_reranker(str(model_dir), device="cpu", batch_size=3)  # type: ignore[return-value]


def whole_prompt_ids(reranker: HFReranker, query: str, doc: str) -> list[int]:
    text = format_prompt(query, doc, DEFAULT_INSTRUCTION)
    return reranker.tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_single_pair_equals_reference(model_dir, reranker, prefix_reuse):
    reranker.prefix_reuse = prefix_reuse
    (score,) = reranker.score(QUERY, DOCS[:1])
    (expected,) = reference_yes_probability(model_dir, [whole_prompt_ids(reranker, QUERY, DOCS[0])])
    assert score == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_padded_batches_equal_reference_in_input_order(model_dir, reranker, prefix_reuse):
    reranker.prefix_reuse = prefix_reuse
    scores = reranker.score(QUERY, DOCS)
    expected = reference_yes_probability(model_dir, [whole_prompt_ids(reranker, QUERY, d) for d in DOCS])
    assert scores == pytest.approx(expected, abs=1e-5)
    # the scores are distinct enough that a permutation after length sorting would be caught
    assert min(abs(a - b) for i, a in enumerate(expected) for b in expected[i + 1 :]) > 1e-3
    assert scores[::-1] == pytest.approx(reranker.score(QUERY, DOCS[::-1]), abs=1e-5)


@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_score_pairs_with_mixed_queries(model_dir, reranker, prefix_reuse):
    reranker.prefix_reuse = prefix_reuse
    queries = [QUERY, "Residual networks", QUERY, "Residual networks", "Dense retrieval"]
    pairs = list(zip(queries, DOCS[:5], strict=True))
    scores = reranker.score_pairs(pairs, instruction="Is it relevant?")
    prompts = [
        reranker.tokenizer(format_prompt(q, d, "Is it relevant?"), add_special_tokens=False)["input_ids"]
        for q, d in pairs
    ]
    assert scores == pytest.approx(reference_yes_probability(model_dir, prompts), abs=1e-5)


def test_truncated_50k_token_document_scores_like_reference(model_dir):
    reranker = load_reranker(str(model_dir), device="cpu", max_length=300)
    document = "Deep residual learning " * 20_000
    for reuse in (True, False):
        reranker.prefix_reuse = reuse  # type: ignore[attr-defined]
        (score,) = reranker.score(QUERY, [document])
        (pair,) = reranker.encoder.encode([(QUERY, document)], DEFAULT_INSTRUCTION)  # type: ignore[attr-defined]
        assert len(pair) == 300
        assert reranker.tokenizer.decode(pair.ids).endswith(
            "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
        )  # type: ignore[attr-defined]
        assert score == pytest.approx(reference_yes_probability(model_dir, [pair.ids])[0], abs=1e-5)


def test_empty_list_makes_no_model_call(reranker, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("model called")

    monkeypatch.setattr(reranker, "_base", boom)
    assert reranker.score(QUERY, []) == []
    assert reranker.score_pairs([]) == []


def test_progress_reports_every_pair(reranker):
    seen = []
    reranker.score(QUERY, DOCS, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen[0] == ("rerank", 0, len(DOCS)) and seen[-1] == ("rerank", len(DOCS), len(DOCS))


@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_out_of_memory_halves_the_batch(reranker, monkeypatch, prefix_reuse):
    reranker.prefix_reuse = prefix_reuse
    expected = reranker.score(QUERY, DOCS)
    name = "_forward_tail" if prefix_reuse else "_forward_full"
    real = getattr(reranker, name)
    sizes = []

    def limited(*args):
        batch = args[-1]
        sizes.append(len(batch))
        if len(batch) > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args)

    monkeypatch.setattr(reranker, name, limited)
    assert reranker.score(QUERY, DOCS) == pytest.approx(expected, abs=1e-6)
    assert sizes[:3] == [3, 1, 1] and reranker.batch_size == 3


def test_other_errors_are_not_swallowed(reranker, monkeypatch):
    reranker.prefix_reuse = False

    def broken(batch):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(reranker, "_forward_full", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        reranker.score(QUERY, DOCS)


def test_tied_embeddings_model(tmp_path):
    path = build_tiny_qwen3_reranker(tmp_path / "tied", tie_word_embeddings=True, seed=3)
    reranker = load_reranker(str(path), device="cpu")
    prompts = [whole_prompt_ids(reranker, QUERY, d) for d in DOCS[:3]]  # type: ignore[arg-type]
    assert reranker.score(QUERY, DOCS[:3]) == pytest.approx(reference_yes_probability(path, prompts), abs=1e-5)


def test_missing_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_reranker(str(tmp_path / "no-such-model"), device="cpu")


def test_hub_name_not_cached_explains_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError) as info:
        load_reranker("Qwen/Qwen3-Reranker-0.6B", device="cpu")
    assert "huggingface-cli download Qwen/Qwen3-Reranker-0.6B" in str(info.value)
    assert "--rerank off" in str(info.value)


def test_not_a_causal_lm_is_a_model_error(tmp_path):
    from transformers import ViTConfig

    ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(
        tmp_path
    )
    with pytest.raises(ModelError, match="not a causal LM"):
        load_reranker(str(tmp_path), device="cpu")


def test_tokenizer_without_yes_no_is_a_model_error(tmp_path, model_dir):
    import shutil

    from transformers import AutoTokenizer

    target = tmp_path / "no-yes"
    shutil.copytree(model_dir, target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    tokenizer.unk_token = "<|endoftext|>"
    assert tokenizer.convert_tokens_to_ids("definitely-not-a-token") == tokenizer.unk_token_id
    from citerec.rerank.hf import token_id

    with pytest.raises(ModelError, match="no single token"):
        token_id(tokenizer, "definitely-not-a-token")


def test_unknown_backend():
    with pytest.raises(ModelError, match="unknown reranker backend"):
        load_reranker("whatever", backend="onnx")
