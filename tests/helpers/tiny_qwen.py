"""A tiny random Qwen3 reranker (model + tokenizer) for offline tests.

Real Qwen3-Reranker weights are gigabytes and need the network; tests instead
build a two-layer `Qwen3ForCausalLM` with random weights and a small byte-level
BPE tokenizer that knows the chat special tokens and the single tokens "yes"
and "no". It loads through the same `from_pretrained` code as the real model,
so every code path except the weights themselves is exercised.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

_CORPUS = [
    "yes",
    "no",
    "yes no",
    "Yes",
    "No",
    "yes.",
    "no.",
    "Judge whether the Document meets the requirements based on the Query and the Instruct provided.",
    'Note that the answer can only be "yes" or "no".',
    "system user assistant",
    "<Instruct>: Given a passage from a scientific paper draft,",
    "judge whether the candidate paper should be cited in it",
    "<Query>: Transformers rely on self-attention to model long-range dependencies in text.",
    "<Document>: Attention Is All You Need. Vaswani, Shazeer, Parmar (2017), NeurIPS.",
    "We propose a new network architecture based solely on attention mechanisms, dispensing with recurrence.",
    "Deep residual learning for image recognition with convolutional networks and batch normalization.",
    "BERT: pre-training of deep bidirectional transformers for language understanding.",
    "Dense passage retrieval for open-domain question answering with dual encoders.",
    "BM25 ranking, sparse retrieval, reranking with large language models, citation recommendation.",
    "the of and to in a is that for on with as by we this are from be an which our",
    "0 1 2 3 4 5 6 7 8 9 2017 2018 2019 2020 2021 2022 2023 2024 2025",
]


def train_tiny_tokenizer(vocab_size: int = 600):
    """A byte-level BPE tokenizer with the chat special tokens and single 'yes'/'no' tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # "yes"/"no" repeated so that BPE learns them as whole tokens.
    tok.train_from_iterator(_CORPUS + ["yes no"] * 50, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        padding_side="left",
    )
    for word in ("yes", "no", *SPECIAL_TOKENS):
        if fast.convert_tokens_to_ids(word) is None:
            raise RuntimeError(f"tiny tokenizer lacks the token {word!r}")
    return fast


def build_tiny_qwen3_reranker(
    path: Path,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    seed: int = 0,
    vocab_size: int = 600,
    tie_word_embeddings: bool = False,
) -> Path:
    """Write a random Qwen3 causal LM + tokenizer to `path` (a folder) and return it.

    Weights are drawn with a larger spread than the default so that different
    prompts get clearly different yes/no scores (tests compare orderings).
    """
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tiny_tokenizer(vocab_size)
    heads = max(2, hidden_size // 16)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        head_dim=hidden_size // heads,
        max_position_embeddings=32768,
        initializer_range=0.2,
        tie_word_embeddings=tie_word_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    config.architectures = ["Qwen3ForCausalLM"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def reference_yes_probability(model_dir: Path, prompts: list[list[int]]) -> list[float]:
    """The contract computed the plain way: one unpadded full forward per prompt, logits over
    the whole vocabulary, log-softmax over ("yes", "no") at the last position."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for ids in prompts:
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
            out.append(torch.log_softmax(logits[[yes, no]].float(), dim=-1)[0].exp().item())
    return out
