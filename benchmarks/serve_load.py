"""Load test of `citerec serve`'s /v1/rerank on loopback: batching on vs off, then a burst past the queue bound.

Starts the server itself (in this process, on 127.0.0.1, a free port), with the
tiny random Qwen3 reranker from the test helpers unless `--reranker` names a
model folder or a cached model; the library is the example .bib unless
`--library-dir` is given. Every phase is bounded in requests and time.

    python benchmarks/serve_load.py [--requests 200] [--concurrency 8] [--docs 8] [--reranker PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.helpers.tiny_qwen when run from a checkout

WORDS = (
    "attention transformer retrieval dense sparse citation encoder passage query ranking judge "
    "language model pretraining residual convolution embedding index quantisation neural"
).split()


def make_request(i: int, docs: int) -> dict:
    """A deterministic, varied request: query and documents of realistic length."""

    def text(seed: int, n: int) -> str:
        return " ".join(WORDS[(seed * 7 + j * 3) % len(WORDS)] for j in range(n))

    return {"query": text(i, 24), "documents": [text(i * 31 + d, 60 + 5 * d) for d in range(docs)]}


async def run_load(url: str, requests: int, concurrency: int, docs: int) -> dict:
    """`requests` rerank calls, at most `concurrency` in flight; latencies and throughput."""
    import httpx

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def worker() -> None:
            while not queue.empty():
                body = make_request(queue.get_nowait(), docs)
                started = time.perf_counter()
                response = await client.post("/v1/rerank", json=body)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        health = (await client.get("/healthz")).json()
    latencies.sort()
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        "rps": requests / elapsed,
        "pairs_s": requests * docs / elapsed,
        "calls": health["queue"]["calls"],
        "statuses": dict(statuses),
    }


async def run_burst(url: str, requests: int, docs: int) -> dict:
    """Fire `requests` at once; count answers by status and check the server is still healthy."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/rerank", json=make_request(i, docs)) for i in range(requests)), return_exceptions=True
        )
        health = await client.get("/healthz")
    statuses = Counter(r.status_code if not isinstance(r, BaseException) else type(r).__name__ for r in responses)
    retry_after = sorted(
        {r.headers.get("Retry-After") for r in responses if not isinstance(r, BaseException) and r.status_code == 503}
    )
    return {
        "statuses": dict(statuses),
        "retry_after": retry_after,
        "healthy_after": health.status_code == 200,
        "queue_after": health.json()["queue"],
    }


def load_library(library_dir: Path | None, scratch: Path):
    from citerec.index import ensure_index
    from citerec.library import Library

    if library_dir is None:
        from citerec.ingest import import_bibtex

        library = Library(scratch / "library")
        import_bibtex(library, REPO / "data" / "examples" / "refs.bib")
    else:
        library = Library(library_dir)
    return library, ensure_index(library)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reranker", help="model folder or cached name (default: a tiny random Qwen3 reranker)")
    parser.add_argument("--library-dir", type=Path)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--docs", type=int, default=8, help="documents per request")
    parser.add_argument("--max-batch-pairs", type=int, default=64)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=64, help="requests fired at once in the overload phase")
    parser.add_argument("--burst-queue", type=int, default=64, help="max queued pairs during the burst")
    args = parser.parse_args()

    from citerec.rerank import load_reranker
    from citerec.serve import ServeLimits, create_app
    from citerec.serve.background import serve_in_thread

    with tempfile.TemporaryDirectory() as scratch:
        scratch_path = Path(scratch)
        if args.reranker:
            name = args.reranker
        else:
            from tests.helpers.tiny_qwen import build_tiny_qwen3_reranker

            name = str(build_tiny_qwen3_reranker(scratch_path / "tiny-reranker"))
        reranker = load_reranker(name)
        library, index = load_library(args.library_dir, scratch_path)
        print(
            f"reranker {reranker.model_name}; library {len(library)} papers; {args.requests} requests x "
            f"{args.docs} documents, {args.concurrency} concurrent",
            file=sys.stderr,
        )

        rows = {}
        for batching in (False, True):
            limits = ServeLimits(
                max_batch_pairs=args.max_batch_pairs, batch_wait_ms=args.batch_wait_ms, batching=batching
            )
            app = create_app(library, reranker=reranker, index=index, limits=limits)
            with serve_in_thread(app) as url:
                warmup = asyncio.run(run_load(url, 2 * args.concurrency, args.concurrency, args.docs))
                rows[batching] = asyncio.run(run_load(url, args.requests, args.concurrency, args.docs))
                rows[batching]["calls"] -= warmup["calls"]  # /healthz counts since start
            app.state.service.close()

        limits = ServeLimits(
            max_batch_pairs=args.max_batch_pairs, max_queued_pairs=args.burst_queue, batch_wait_ms=args.batch_wait_ms
        )
        app = create_app(library, reranker=reranker, index=index, limits=limits)
        with serve_in_thread(app) as url:
            burst = asyncio.run(run_burst(url, args.burst, args.docs))
        app.state.service.close()

    print("| batching | p50 ms | p95 ms | requests/s | pairs/s | model calls | statuses |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for batching, row in rows.items():
        print(
            f"| {'on' if batching else 'off'} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['rps']:.1f} "
            f"| {row['pairs_s']:.0f} | {row['calls']} | {row['statuses']} |"
        )
    print(
        f"\nthroughput ratio on/off: {rows[True]['rps'] / rows[False]['rps']:.2f}x; "
        f"p95 ratio on/off: {rows[True]['p95_ms'] / rows[False]['p95_ms']:.2f}x"
    )
    print(
        f"\nburst: {args.burst} requests x {args.docs} documents at once, queue bound {args.burst_queue} pairs: "
        f"statuses {burst['statuses']}, Retry-After {burst['retry_after']}, "
        f"healthy after: {burst['healthy_after']}, queued after: {burst['queue_after']['queued_pairs']}"
    )


if __name__ == "__main__":
    main()
