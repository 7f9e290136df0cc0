"""The vLLM backend without vLLM: the install hint, and that its score-API texts are the hf prompt."""

from __future__ import annotations

import sys

import pytest

from citerec.errors import ModelError
from citerec.rerank import DEFAULT_INSTRUCTION, load_reranker
from citerec.rerank.base import PromptEncoder, score_api_texts
from citerec.rerank.vllm import HF_OVERRIDES, VLLMReranker


@pytest.fixture(scope="module")
def hf(tiny_reranker_dir):
    return load_reranker(str(tiny_reranker_dir), device="cpu", max_length=200)


def test_missing_vllm_names_the_gpu_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm now raises ImportError
    with pytest.raises(ModelError, match=r"pip install 'citerec\[gpu\]'"):
        load_reranker("Qwen/Qwen3-Reranker-0.6B", backend="vllm")


def test_overrides_turn_yes_no_into_one_classifier():
    assert HF_OVERRIDES["classifier_from_token"] == ["no", "yes"]
    assert HF_OVERRIDES["architectures"] == ["Qwen3ForSequenceClassification"]


def test_score_api_texts_retokenize_to_the_hf_prompt(hf):
    """vLLM joins the two texts' tokens; that must be the truncated prompt the hf backend scores."""
    tokenizer = hf.tokenizer
    encoder = PromptEncoder.for_tokenizer(tokenizer, max_length=200)
    pairs = [("a passage about attention", "Attention Is All You Need " * 40), ("short", "BM25")]
    texts = score_api_texts(encoder, pairs, DEFAULT_INSTRUCTION, lambda ids: tokenizer.decode(list(ids)))
    for (query_side, doc_side), encoded in zip(texts, encoder.encode(pairs, DEFAULT_INSTRUCTION), strict=True):
        assert query_side.startswith("<|im_start|>system\n") and doc_side.startswith("<Document>: ")
        assert doc_side.endswith("<think>\n\n</think>\n\n")
        ids = tokenizer(query_side, add_special_tokens=False)["input_ids"]
        ids += tokenizer(doc_side, add_special_tokens=False)["input_ids"]
        assert ids == encoded.ids


class TransformersScoreLLM:
    """Stands in for `vllm.LLM` on CPU: `score(q, d)` computes P(yes) of the joined texts with the
    tiny model, which is what vLLM's converted Qwen3 classifier computes."""

    def __init__(self, hf):
        self.hf = hf
        self.calls = 0

    def get_tokenizer(self):
        return self.hf.tokenizer

    def score(self, queries, documents, use_tqdm=False):
        from types import SimpleNamespace

        from citerec.rerank.base import EncodedPair

        self.calls += 1
        tok = self.hf.tokenizer
        encoded = [
            EncodedPair(
                tuple(tok(q, add_special_tokens=False)["input_ids"]),
                tuple(tok(d, add_special_tokens=False)["input_ids"]),
            )
            for q, d in zip(queries, documents, strict=True)
        ]
        scores = self.hf.score_encoded(encoded)
        return [SimpleNamespace(outputs=SimpleNamespace(score=s)) for s in scores]


def test_vllm_reranker_matches_hf_in_order_and_chunks(hf):
    llm = TransformersScoreLLM(hf)
    reranker = VLLMReranker(llm, model_name="tiny", batch_size=2, max_length=200)
    pairs = [("q one", "doc a " * 100), ("q two", "doc b"), ("q one", "doc c"), ("q three", "doc d yes")]
    assert reranker.score_pairs(pairs) == pytest.approx(hf.score_pairs(pairs), abs=1e-5)
    assert llm.calls == 2
    assert reranker.score("q", []) == [] and llm.calls == 2
