"""How the recall index scales: FAISS flat vs IVF vs IVF-PQ at 10k-1M papers, and the real pipeline at 10k.

Part 1 (FAISS, synthetic): clustered random unit vectors (dimension 384, like
MiniLM; papers cluster by topic, which uniform noise would not), queries are
perturbed held-out points of the same mixture. For each size it builds the
exact flat index (the baseline), the approximate IVF index citerec chooses
above its threshold and the IVF-PQ index it chooses from 1M vectors (or 2 GB
of them), and prints build time, peak RSS growth during the build, the
index's own size in memory,
single-query latency, the speed-up over flat (the ratio against the baseline,
measured in the same run) and recall@10 agreement with flat.

Part 2 (real text): a library of N papers whose text is real titles and
abstracts from the shared evaluation .bib files (`../shared/eval/papers/`) and
the example library; there are fewer than 10k real abstracts, so titles are
paired with rotated abstracts to make every paper distinct (every paper has an
abstract, the slow case for embedding). It runs `update_index` (MiniLM
embedding + BM25 + FAISS) and times recall per method. The embedding
throughput is compared with a plain `SentenceTransformer.encode` baseline.

    python benchmarks/index_scale.py                 # 10k, 100k, 1M
    python benchmarks/index_scale.py --quick         # 10k, 100k; 1k real papers
    python benchmarks/index_scale.py --sizes 10000,50000 --real 2000
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from citerec.index.dense import DenseIndex, DenseSpec, choose_spec  # noqa: E402

DIM = 384


# -- measuring ---------------------------------------------------------------
def rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; else the peak so far)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Sample RSS every 5 ms while the block runs; yields a dict that gets `peak_mb` (growth over the start)."""
    result: dict[str, float] = {}
    start = rss_mb()
    peak = [start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak_mb"] = max(peak[0], rss_mb()) - start


def per_query_ms(search: Callable[[int], object], count: int) -> float:
    search(0)  # warm-up
    started = time.perf_counter()
    for i in range(count):
        search(i)
    return (time.perf_counter() - started) * 1000 / count


# -- part 1: FAISS on synthetic vectors ---------------------------------------
def clustered_vectors(n: int, seed: int, clusters: int = 2000) -> np.ndarray:
    """Unit vectors drawn around `clusters` topic centres (chunked to bound memory)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(12345).standard_normal((clusters, DIM)).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        chunk = centres[rng.integers(0, clusters, m)] + 0.8 * rng.standard_normal((m, DIM), dtype=np.float32)
        out[start : start + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def faiss_rows(size: int, queries: int) -> list[list[str]]:
    vectors = clustered_vectors(size, seed=size)
    probes = clustered_vectors(queries, seed=size + 1)
    import faiss

    rows = []
    flat_top, flat_ms = None, 0.0
    specs = (
        ("flat (exact)", DenseSpec("flat")),
        ("ivf", choose_spec(size, threshold=0, pq_threshold=size + 1, memory_budget=2**62)),
        ("ivfpq", choose_spec(size, threshold=0, pq_threshold=0)),  # what citerec picks from 1M or 2 GB of vectors
    )
    for label, spec in specs:
        if spec.kind != label.split()[0]:  # too few vectors to train product quantisation
            continue
        with peak_rss() as mem:
            started = time.perf_counter()
            index = DenseIndex.build(vectors, spec)
            build_s = time.perf_counter() - started
        # the memory the index needs: flat keeps the float32 vectors; IVF-PQ only its codes (+ the vectors on disk)
        index_mb = (
            vectors.nbytes / 2**20 if spec.kind == "flat" else len(faiss.serialize_index(index.cpu_index())) / 2**20
        )
        ms = per_query_ms(lambda i, index=index: index.search(probes[i : i + 1], 10), queries)
        _, top = index.search(probes, 10)
        if flat_top is None:
            flat_top, flat_ms = top, ms
        if spec.kind != "flat":
            label = f"{spec.kind} nlist={spec.nlist} nprobe={spec.nprobe}"
            label += f" PQ{spec.pq_m}x{spec.pq_bits}" if spec.kind == "ivfpq" else ""
        agreement = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(flat_top, top, strict=True)])
        rows.append(
            [f"{size:,}", label, f"{build_s:.2f}", f"{mem['peak_mb']:.0f}", f"{index_mb:.0f}", f"{ms:.2f}"]
            + [f"{flat_ms / ms:.2f}x", f"{agreement:.3f}"]
        )
        del index
    return rows


# -- part 2: the real pipeline on real text ---------------------------------------
def real_papers(count: int) -> list:
    """`count` distinct papers from real titles and abstracts (see the module docstring)."""
    from citerec.ingest import read_bibtex
    from citerec.papers import Paper

    bibs = sorted(glob.glob(str(REPO.parent / "shared" / "eval" / "papers" / "*" / "*.bib")))
    bibs += sorted(glob.glob(str(REPO / "data" / "examples" / "*.bib")))
    entries = []
    for bib in bibs:
        try:
            entries.extend(p for p in read_bibtex(bib).papers if p.title)
        except Exception as exc:  # noqa: BLE001 - one bad file should not stop the benchmark
            print(f"skipping {bib}: {exc}", file=sys.stderr)
    abstracts = [p.abstract.split(". ") for p in entries if len(p.abstract) > 200]
    if not entries or not abstracts:
        raise SystemExit("no real abstracts found under ../shared/eval/papers/")
    papers = []
    for i in range(count):
        base = entries[i % len(entries)]
        sentences = abstracts[(i * 7) % len(abstracts)]
        turn = (i // len(abstracts)) % len(sentences)
        abstract = ". ".join(sentences[turn:] + sentences[:turn])
        papers.append(Paper(f"p{i}", base.title, abstract, base.authors, base.year, base.venue))
    print(f"real text: {len(entries)} titles, {len(abstracts)} abstracts from {len(bibs)} .bib files", file=sys.stderr)
    return papers


def real_rows(count: int, queries: int, baseline_count: int) -> list[list[str]]:
    from citerec.embed import load_embedder
    from citerec.index import update_index
    from citerec.library import Library
    from citerec.recall import RecallSpec, recall_text, recall_texts

    papers = real_papers(count)
    embedder = load_embedder()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(Path(tmp) / "lib")
        library.add(papers)
        with peak_rss() as mem:
            index, report = update_index(library, embedder=embedder)
        rate = report.embedded / report.embed_seconds
        rows.append([f"{count:,}", "build (embed+BM25+FAISS)", f"{report.seconds:.1f} s", f"{mem['peak_mb']:.0f} MB"])
        rows.append([f"{count:,}", f"embed {embedder.name} ({embedder.model.device})", f"{rate:.1f} papers/s", ""])

        sample = [embedder.format_document(p) for p in papers[:baseline_count]]
        started = time.perf_counter()
        embedder.model.encode(sample, batch_size=32, show_progress_bar=False)
        base_rate = len(sample) / (time.perf_counter() - started)
        started = time.perf_counter()
        embedder.embed_documents(sample)
        ours = len(sample) / (time.perf_counter() - started)
        rows.append(
            [
                f"{len(sample):,}",
                "embed: citerec vs plain encode()",
                f"{ours:.1f} vs {base_rate:.1f} papers/s",
                f"{ours / base_rate:.2f}x",
            ]
        )
        texts = [f"As shown in prior work on {p.title.lower()}, results improve." for p in papers[:queries]]
        for method in ("bm25", "dense", "hybrid"):
            ms = per_query_ms(lambda i, m=method: recall_text(index, texts[i], k=50, method=m), queries)
            rows.append([f"{count:,}", f"recall k=50 {method}", f"{ms:.2f} ms/query", ""])
        started = time.perf_counter()
        recall_texts(index, texts, RecallSpec(k=50))
        many = (time.perf_counter() - started) * 1000 / len(texts)
        rows.append([f"{count:,}", f"recall_many hybrid ({len(texts)} queries)", f"{many:.2f} ms/query", ""])
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=None, help="comma-separated FAISS sizes (default 10000,100000,1000000)")
    parser.add_argument("--queries", type=int, default=None, help="queries per measurement (default 200; quick 50)")
    parser.add_argument("--real", type=int, default=None, help="papers in the real-text library (default 10000)")
    parser.add_argument("--quick", action="store_true", help="10k and 100k vectors, 1000 real papers")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("10000,100000" if args.quick else "10000,100000,1000000")).split(",")]
    queries = args.queries or (50 if args.quick else 200)
    real = args.real if args.real is not None else (1000 if args.quick else 10_000)

    import faiss

    print(f"machine: {os.cpu_count()} CPUs, faiss {faiss.__version__}, GPUs for faiss: {faiss.get_num_gpus()}")
    rows = []
    for size in sizes:
        rows += faiss_rows(size, queries)
        print(f"done {size:,}", file=sys.stderr)
    print("\nFAISS, synthetic clustered unit vectors, d=384, single-query latency (k=10); baseline = exact flat")
    header = ["papers", "index", "build s", "peak MB", "index MB", "ms/query", "speed-up", "recall@10 vs flat"]
    print(table(header, rows))
    if real:
        print(f"\nReal pipeline: {real:,} papers of real titles + abstracts, all-MiniLM-L6-v2, hybrid recall")
        print(table(["papers", "what", "result", "other"], real_rows(real, queries, min(real, 300))))


if __name__ == "__main__":
    main()
