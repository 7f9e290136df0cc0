"""Pairs/s of the hf reranker against the straightforward reference, same model and inputs, one run.

The reference is the plain recipe: prompts in input order, fixed left-padded
batches, a full forward of the causal LM with logits over the whole vocabulary
at every position, log-softmax over ("yes", "no") at the last one. The hf
backend is run with and without prefix reuse. Scores must agree (max |diff|).

Default: a random model with Qwen3-0.6B's dimensions (random weights, a tiny
tokenizer) on CPU. With `--model NAME_OR_FOLDER --device cuda`: real weights on
a GPU, where the table also gives the fraction of the GPU's bf16 dense peak
(2 x parameters x tokens FLOPs per pair).

    python benchmarks/rerank_speed.py --quick
    python benchmarks/rerank_speed.py --model Qwen/Qwen3-Reranker-0.6B --device cuda

`--small` times the small CPU judge shipped in the package instead: one passage's
50 candidates (real entries: the example library's), on one worker thread (the
baseline) and on every CPU; with `--draft FILE.tex --bib FILE.bib` also a whole
draft through `Suggester` (recall + judge) cold, then re-run unchanged (the
score cache answers).

    python benchmarks/rerank_speed.py --small
    python benchmarks/rerank_speed.py --small --draft THESIS/main.tex --bib THESIS/refs.bib
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from citerec.rerank.base import DEFAULT_INSTRUCTION, EncodedPair  # noqa: E402
from citerec.rerank.hf import HFReranker, load_hf_reranker  # noqa: E402

# bf16 dense peak TFLOPS by GPU name fragment (SXM parts).
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0, "L4": 121.0}

WORDS = (
    "attention transformer residual network retrieval dense sparse passage query document citation model "
    "training language vision graph neural learning representation benchmark dataset evaluation recall "
    "precision ranking embedding encoder decoder layer token sequence optimisation gradient convolution "
    "the of and to in a is that for on with as by we this are from be an which our results show"
).split()


def random_text(rng: random.Random, tokenizer, tokens: int) -> str:
    words: list[str] = []
    while len(tokenizer(" ".join(words), add_special_tokens=False)["input_ids"]) < tokens:
        words.extend(rng.choice(WORDS) for _ in range(16))
    return " ".join(words)


def random_qwen3_06b(device: str):
    """Qwen3-0.6B's shape with random weights, and the tests' tiny tokenizer (ids < its 600 tokens)."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from tests.helpers.tiny_qwen import train_tiny_tokenizer

    tokenizer = train_tiny_tokenizer()
    config = Qwen3Config(
        vocab_size=151669,
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=40960,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = Qwen3ForCausalLM(config).to(device=device, dtype=dtype).eval()
    return model, tokenizer


def reference_scores(reranker: HFReranker, encoded: list[EncodedPair], batch_size: int) -> list[float]:
    """The plain recipe: input order, fixed batches, full-vocabulary logits."""
    model, device = reranker.model, reranker.device
    out: list[float] = []
    for start in range(0, len(encoded), batch_size):
        batch = [p.ids for p in encoded[start : start + batch_size]]
        width = max(map(len, batch))
        ids = torch.full((len(batch), width), reranker.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(batch):
            ids[row, width - len(seq) :] = torch.tensor(seq)
            mask[row, width - len(seq) :] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits[:, -1, :]
            pair = torch.log_softmax(logits[:, [reranker.yes_id, reranker.no_id]].float(), dim=-1)
        out.extend(pair[:, 0].exp().tolist())
    return out


def timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def small_judge_rows(args: argparse.Namespace) -> None:
    """The shipped small judge: seconds per passage of 50 candidates, one thread against all; a draft cold and warm."""
    import os
    import tempfile

    from citerec.ingest import import_bibtex
    from citerec.latex import extract_contexts, read_draft
    from citerec.library import Library
    from citerec.onnx_tools import default_workers
    from citerec.rerank import SMALL_JUDGE, format_document
    from citerec.rerank.small import load_small_judge

    examples = Path(__file__).resolve().parents[1] / "data" / "examples"
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(Path(tmp) / "lib")
        import_bibtex(library, examples / "refs.bib")
        documents = [format_document(p) for p in library.papers()]
    passages = [c.text for c in extract_contexts(read_draft(examples / "draft.tex"))][: args.queries]
    candidates = [documents[i % len(documents)] for i in range(args.candidates)]
    print(f"small judge {SMALL_JUDGE}: {len(passages)} passages x {len(candidates)} candidates, {os.cpu_count()} CPUs")
    print(f"{'judge':32} {'s/passage':>10} {'pairs/s':>9} {'vs 1 thread':>12}")
    base = None
    for workers in sorted({1, default_workers()}):
        judge = load_small_judge(threads=workers)
        judge.score(passages[0], candidates[:4])  # warm-up
        start = time.perf_counter()
        for passage in passages:
            judge.score(passage, candidates)
        per_passage = (time.perf_counter() - start) / len(passages)
        base = base or per_passage
        label = f"small judge, {workers} worker thread{'s' if workers > 1 else ''}"
        print(f"{label:32} {per_passage:10.3f} {len(candidates) / per_passage:9.1f} {base / per_passage:11.2f}x")
    if args.draft:
        draft_rows(args.draft, args.bib)


def draft_rows(draft: Path, bib: Path) -> None:
    """A whole draft through the suggester, recall alone and with the small judge, each in a library of its own
    (nothing cached between them): cold (empty caches, index already built), then re-run unchanged."""
    import tempfile

    from citerec.ingest import import_bibtex
    from citerec.library import Library
    from citerec.rerank import SMALL_JUDGE
    from citerec.suggest import Suggester, SuggestOptions

    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("recall alone", "small judge"):
            library = Library(Path(tmp) / mode.replace(" ", "-"))
            import_bibtex(library, bib)
            judged = mode == "small judge"
            options = SuggestOptions(rerank="on", reranker=SMALL_JUDGE) if judged else SuggestOptions(rerank="off")
            suggester = Suggester(library, options=options)  # loads the index (built here) and the judge
            for run in ("cold", "unchanged"):
                start = time.perf_counter()
                result = suggester.suggest_path(draft)
                rows[f"{mode}, {run}"] = time.perf_counter() - start
    print(f"\ndraft {draft.name}: {len(result.contexts)} passages, {len(library)} entries")
    print(f"{'run':32} {'seconds':>9} {'vs recall alone':>16}")
    for label, secs in rows.items():
        baseline = rows[f"recall alone, {label.split(', ')[1]}"]
        print(f"{label:32} {secs:9.1f} {secs / baseline:15.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="Qwen3-Reranker name (local cache) or folder; default: random 0.6B shape")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--queries", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--doc-tokens", type=int, default=300)
    parser.add_argument("--query-tokens", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="2 queries x 12 candidates (for slow CPUs)")
    parser.add_argument("--peak-tflops", type=float, help="GPU bf16 dense peak (default: by GPU name)")
    parser.add_argument("--small", action="store_true", help="time the shipped small CPU judge instead")
    parser.add_argument("--draft", type=Path, help="with --small: a whole draft (.tex) through the suggester")
    parser.add_argument("--bib", type=Path, help="with --draft: its .bib file")
    args = parser.parse_args()
    if args.quick:
        args.queries, args.candidates = 2, 12
    if args.small:
        small_judge_rows(args)
        return

    torch.manual_seed(0)
    if args.model:
        reranker = load_hf_reranker(args.model, device=args.device, batch_size=args.batch_size)
        source = args.model
    else:
        model, tokenizer = random_qwen3_06b(args.device)
        reranker = HFReranker(model, tokenizer, model_name="random-qwen3-0.6b", batch_size=args.batch_size)
        source = "random weights, Qwen3-0.6B shape"
    tok = reranker.tokenizer
    rng = random.Random(0)
    pairs = []
    for _ in range(args.queries):
        query = random_text(rng, tok, args.query_tokens)
        for _ in range(args.candidates):
            # document lengths vary around the target, as titles + abstracts do
            pairs.append((query, random_text(rng, tok, int(args.doc_tokens * rng.uniform(0.5, 1.5)))))
    encoded = reranker.encoder.encode(pairs, DEFAULT_INSTRUCTION)
    mean_tokens = sum(map(len, encoded)) / len(encoded)
    params = sum(p.numel() for p in reranker.model.parameters())
    print(
        f"model: {source}; device {args.device}; {len(pairs)} pairs ({args.queries} queries x {args.candidates}), "
        f"mean {mean_tokens:.0f} tokens/pair; batch size {args.batch_size}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )

    # warm-up (allocators, kernels) on a few pairs with every method
    warm = pairs[: min(4, len(pairs))]
    reference_scores(reranker, encoded[: len(warm)], args.batch_size)
    for reuse in (False, True):
        reranker.prefix_reuse = reuse
        reranker.score_pairs(warm)

    ref, ref_s = timed(lambda: reference_scores(reranker, encoded, args.batch_size))
    rows = [("reference (full logits, unsorted)", ref_s, ref)]
    for reuse, label in ((False, "hf: yes/no rows, length-sorted"), (True, "hf: + shared-prefix KV reuse")):
        reranker.prefix_reuse = reuse
        scores, secs = timed(lambda: reranker.score_pairs(pairs))
        rows.append((label, secs, scores))

    peak = args.peak_tflops
    if args.device.startswith("cuda") and peak is None:
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    header = f"{'method':36} {'pairs/s':>9} {'vs ref':>7} {'max |diff|':>11}"
    if peak:
        header += f" {'% of bf16 peak':>15}"
    print(header)
    for label, secs, scores in rows:
        rate = len(pairs) / secs
        diff = max(abs(a - b) for a, b in zip(scores, ref, strict=True))
        line = f"{label:36} {rate:9.2f} {ref_s / secs:6.2f}x {diff:11.2e}"
        if peak:
            flops = 2 * params * mean_tokens * rate
            line += f" {100 * flops / (peak * 1e12):14.1f}%"
        print(line)


if __name__ == "__main__":
    main()
