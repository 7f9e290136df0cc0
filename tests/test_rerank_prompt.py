"""The prompt contract: exact template, document text, truncation that keeps prefix and suffix."""

from __future__ import annotations

import sys

import pytest

from citerec.papers import Paper
from citerec.rerank import DEFAULT_INSTRUCTION, format_document, format_prompt
from citerec.rerank.base import MIN_DOCUMENT_TOKENS, PREFIX, SUFFIX, PromptEncoder, truncate_body


@pytest.fixture(scope="module")
def tokenizer(tiny_reranker_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_reranker_dir)


def test_prompt_is_exactly_the_contract():
    prompt = format_prompt("Q text", "D text", "Do it")
    assert prompt == (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
        'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
        "<Instruct>: Do it\n<Query>: Q text\n<Document>: D text"
        "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert "cited" in DEFAULT_INSTRUCTION


def test_format_document_with_and_without_abstract():
    paper = Paper(
        key="vaswani2017",
        title="Attention Is All You Need",
        abstract="We propose the Transformer.",
        authors=("Ashish Vaswani", "Noam Shazeer"),
        year=2017,
        venue="NeurIPS",
    )
    assert format_document(paper) == (
        "Attention Is All You Need\nAshish Vaswani, Noam Shazeer (2017), NeurIPS\nWe propose the Transformer."
    )
    bare = Paper(key="x", title="Only a Title")
    assert format_document(bare) == "Only a Title"
    many = Paper(key="y", title="T", authors=tuple(f"A{i}" for i in range(9)))
    assert format_document(many) == "T\nA0, A1, A2, A3, A4, A5 et al."


def test_truncate_body_cuts_document_first_then_query():
    q, d = list(range(10)), list(range(100, 200))
    assert truncate_body(q, d, 500) == (q, d)
    q2, d2 = truncate_body(q, d, 50)
    assert q2 == q and d2 == d[:40]
    long_q = list(range(1000))
    q3, d3 = truncate_body(long_q, d, 300)
    assert len(q3) + len(d3) == 300 and len(d3) == MIN_DOCUMENT_TOKENS and q3 == long_q[: 300 - MIN_DOCUMENT_TOKENS]
    # a short document does not change how much of the query is kept (prefix reuse relies on it)
    assert truncate_body(long_q, [1, 2], 300)[0] == q3


def test_encoder_pieces_match_whole_prompt_tokenization(tokenizer):
    encoder = PromptEncoder.for_tokenizer(tokenizer)
    pairs = [("Self-attention models long-range dependencies.", "Attention Is All You Need\nVaswani (2017)")]
    (pair,) = encoder.encode(pairs, DEFAULT_INSTRUCTION)
    whole = tokenizer(format_prompt(*pairs[0], DEFAULT_INSTRUCTION), add_special_tokens=False)["input_ids"]
    assert pair.ids == whole


def test_suffix_survives_a_50k_token_document(tokenizer):
    encoder = PromptEncoder.for_tokenizer(tokenizer, max_length=8192)
    document = "yes " * 50_000
    assert len(tokenizer(document, add_special_tokens=False)["input_ids"]) >= 50_000
    (pair,) = encoder.encode([("a query", document)], DEFAULT_INSTRUCTION)
    ids = pair.ids
    prefix = tokenizer(PREFIX, add_special_tokens=False)["input_ids"]
    suffix = tokenizer(SUFFIX, add_special_tokens=False)["input_ids"]
    assert len(ids) == 8192
    assert ids[: len(prefix)] == prefix
    assert ids[-len(suffix) :] == suffix
    assert tokenizer.decode(ids).endswith("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert "<Query>: a query\n<Document>: yes yes" in tokenizer.decode(ids)


def test_import_does_not_load_torch():
    code = "import sys, citerec.rerank, citerec.cli.rerank; assert 'torch' not in sys.modules, 'torch loaded'"
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)
