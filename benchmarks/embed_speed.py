"""Embedding speed and what it costs in recall: sentence-transformers (torch) against ONNX Runtime variants.

Speed: papers/s on a sample of ACM-CR documents (title + abstract, as the index
embeds them), for each variant: the sentence-transformers baseline (256
tokens), ONNX fp32 and int8, document caps of 64/128/256 tokens, and the
default at 1 and 2 threads. The sample is cut into rounds and every variant
embeds each round in turn, so a change of machine load during the run falls on
all variants alike; the ratio column is against the baseline of the same run.
The last column extrapolates to the 105,937 documents of the ACM-CR collection.

Quality (`--quality`): macro Recall@10/@20 of dense and hybrid recall on the
real papers of ../shared/eval/papers, pooled library (as benchmarks/quality.py
measures it), for the variants named there (each builds its own index).

    python benchmarks/embed_speed.py ACM_DIR [--sample 2000] [--quality base,default,...]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]  # this checkout's citerec, and quality.py beside this file

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from citerec.embed import DEFAULT_EMBEDDER, MINILM, load_embedder  # noqa: E402

ACM_DOCUMENTS = 105_937
BASELINE = "base"
# label -> (embedder name, threads, sentence-transformers max_seq_length); threads 0: the library's choice
VARIANTS: dict[str, tuple[str, int, int | None]] = {
    BASELINE: (MINILM, 0, None),
    "base-1thread": (MINILM, 1, None),
    "st-doc128": (MINILM, 0, 128),
    "fp32": (f"{MINILM}@onnx-fp32", 0, None),
    "fp32-doc128": (f"{MINILM}@onnx-fp32,doc128", 0, None),
    "int8": (f"{MINILM}@onnx-int8", 0, None),
    "default": (DEFAULT_EMBEDDER, 0, None),
    "int8-doc96": (f"{MINILM}@onnx-int8,doc96", 0, None),
    "int8-doc64": (f"{MINILM}@onnx-int8,doc64", 0, None),
    "default-1thread": (DEFAULT_EMBEDDER, 1, None),
}


def acm_sample(root: Path, size: int, seed: int = 0) -> list[str]:
    """`size` documents (title + abstract, or title alone) from randomly chosen ACM-CR .bib files."""
    from citerec.ingest.bibtex import read_bibtex

    files = sorted((root / "data" / "acm-dl").rglob("*.bib"))
    if not files:
        sys.exit(f"{root}: no data/acm-dl/**.bib (unpack acm-cr.tar.xz there)")
    random.Random(seed).shuffle(files)
    texts: list[str] = []
    for path in files:
        texts += [paper.document_text() for paper in read_bibtex(path).papers]
        if len(texts) >= size:
            break
    return texts[:size]


def load(label: str):
    """The embedder of a variant (the ONNX ones with their thread count)."""
    name, threads, max_tokens = VARIANTS[label]
    if "@" in name:
        from citerec.embed.onnx import load_onnx_embedder

        return load_onnx_embedder(name, threads=threads or None)
    embedder = load_embedder(name, device="cpu")
    if max_tokens or threads:
        return _TorchVariant(embedder, max_tokens, threads)
    return embedder


class _TorchVariant:
    """The torch baseline with documents cut at `max_tokens` (what the cap alone buys, without ONNX) and/or on
    `threads` threads (per-core speed, less sensitive to what else runs on the machine)."""

    def __init__(self, inner, max_tokens: int | None, threads: int) -> None:
        self.inner, self.max_tokens, self.threads = inner, max_tokens, threads

    def embed_documents(self, texts):
        import torch

        model, threads = self.inner.model, torch.get_num_threads()
        before = model.max_seq_length
        model.max_seq_length = self.max_tokens or before
        torch.set_num_threads(self.threads or threads)
        try:
            return self.inner.embed_documents(texts)
        finally:
            model.max_seq_length = before
            torch.set_num_threads(threads)


def measure_speed(texts: list[str], labels: list[str], rounds: int) -> dict[str, float]:
    """Seconds per variant to embed all of `texts`, interleaved round by round."""
    embedders = {label: load(label) for label in labels}
    for embedder in embedders.values():
        embedder.embed_documents(texts[:32])  # warm-up: first-call allocations, thread pools
    seconds = dict.fromkeys(labels, 0.0)
    size = -(-len(texts) // rounds)
    for start in range(0, len(texts), size):
        chunk = texts[start : start + size]
        for label, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed_documents(chunk)
            seconds[label] += time.perf_counter() - started
        print(f"  round {start // size + 1}/{rounds} done", file=sys.stderr)
    return seconds


def measure_quality(labels: list[str], papers_dir: Path, cache: Path) -> dict[str, dict[str, float]]:
    """Pooled macro Recall@10/@20 of dense and hybrid recall per variant (quality.py's protocol)."""

    import quality

    from citerec.evaluate import average
    from citerec.suggest import SuggestOptions

    papers = quality.read_manifest(papers_dir)
    out = {}
    for label in labels:
        name, _, max_tokens = VARIANTS[label]
        if max_tokens:
            continue  # the capped torch baseline has no name an index could record
        base = SuggestOptions(rerank="off", embedder=name)
        methods = {m: base.with_recall(method=m) for m in ("dense", "hybrid")}
        slug = name.replace("@", "-").replace(",", "-")
        results = quality.run_setting("pooled", papers, methods, cache / slug)
        out[label] = {}
        for method, evals in results.items():
            metrics = average([p.metrics for p in evals if p.n_contexts])
            out[label] |= {f"{method} R@10": metrics["recall@10"], f"{method} R@20": metrics["recall@20"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("acm", type=Path, help="the unpacked ACM-CR folder (holding data/)")
    parser.add_argument("--sample", type=int, default=2000, help="documents embedded per variant")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (spreads load changes)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"of: {', '.join(VARIANTS)}")
    parser.add_argument("--quality", default="", help="variants whose recall to measure (slow), e.g. base,default")
    parser.add_argument("--papers", type=Path, default=quality_papers_default())
    parser.add_argument("--cache", type=Path, default=REPO / ".bench-cache" / "embed-quality")
    parser.add_argument("--json", type=Path, default=REPO / ".bench-cache" / "embed_speed.json")
    args = parser.parse_args()
    labels = [v for v in args.variants.split(",") if v]
    if BASELINE not in labels:
        labels.insert(0, BASELINE)
    unknown = [v for v in labels + args.quality.split(",") if v and v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")

    texts = acm_sample(args.acm, args.sample)
    seconds = measure_speed(texts, labels, args.rounds)
    recall = measure_quality([v for v in args.quality.split(",") if v], args.papers, args.cache)

    console = Console(width=200)
    table = Table(title=f"Embedding {len(texts)} ACM-CR documents (title + abstract) on this CPU")
    columns = ["dense R@10", "dense R@20", "hybrid R@10", "hybrid R@20"]
    for column in ("variant", "embedder", "threads", "papers/s", "× base", f"{ACM_DOCUMENTS:,} docs", *columns):
        table.add_column(column, justify="left" if column in ("variant", "embedder") else "right")
    rows = []
    for label in labels:
        name, threads, max_tokens = VARIANTS[label]
        rate = len(texts) / seconds[label]
        shown = name + (f" (max {max_tokens} tokens)" if max_tokens else "")
        metrics = recall.get(label, {})
        row = {
            "variant": label,
            "embedder": shown,
            "threads": threads or "auto",
            "papers_per_s": rate,
            "ratio": seconds[BASELINE] / seconds[label],
            "acm_minutes": ACM_DOCUMENTS / rate / 60,
        } | metrics
        rows.append(row)
        cells = [f"{metrics[c]:.3f}" if c in metrics else "" for c in columns]
        table.add_row(
            label,
            shown,
            str(row["threads"]),
            f"{rate:.1f}",
            f"{row['ratio']:.2f}",
            f"{row['acm_minutes']:.0f} min",
            *cells,
        )
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"sample": len(texts), "rows": rows}, indent=2), encoding="utf-8")
    console.print(f"wrote {args.json}")


def quality_papers_default() -> Path:
    return REPO.parent / "shared" / "eval" / "papers"


if __name__ == "__main__":
    main()
