"""Load test of `citerec serve` on loopback: /v1/rerank with batching on vs off, a burst past the queue bound,
and /v1/suggest on a draft with the draft evidence on vs off.

Starts the server itself (in this process, on 127.0.0.1, a free port), with the
tiny random Qwen3 reranker from the test helpers unless `--reranker` names a
model folder or a cached model; the library is the example .bib unless
`--library-dir` is given. Every phase is bounded in requests and time.

    python benchmarks/serve_load.py [--requests 200] [--concurrency 8] [--docs 8] [--reranker PATH]
    python benchmarks/serve_load.py --library-dir LIB --suggest-tex chapter.tex [--suggest-requests 40]

The /v1/suggest phase posts the draft (the example draft unless `--suggest-tex`) with one citing sentence
added per request, so every request is a draft edited since the last one (its unchanged passages come
from the recall cache, the learned ranking is redone), recall only.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
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


def edited_draft(tex: str, i: int) -> str:
    """The draft with one more citing sentence (citing its first key), different in every request."""
    import re

    first = re.search(r"\\cite[a-zA-Z]*\{([^},]+)", tex)
    cite = f" \\cite{{{first.group(1)}}}" if first else ""
    sentence = " ".join(WORDS[(i * 5 + j) % len(WORDS)] for j in range(12)).capitalize()
    end = tex.rfind("\\end{document}")
    added = f"\n\n{sentence} (request {i}){cite}.\n"
    return tex[:end] + added + tex[end:] if end >= 0 else tex + added


def suggest_body(tex: str, evidence: bool, offset: int, i: int) -> dict:
    return {"tex": edited_draft(tex, offset + i), "rerank": "off", "draft_evidence": evidence}


async def run_load(
    url: str, requests: int, concurrency: int, docs: int, path: str = "/v1/rerank", body_of=None
) -> dict:
    """`requests` calls of `path` (`body_of(i)`: the i-th body; rerank requests by default), at most
    `concurrency` in flight; latencies and throughput."""
    import httpx

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    body_of = body_of or (lambda i: make_request(i, docs))

    async with httpx.AsyncClient(base_url=url, timeout=300) as client:

        async def worker() -> None:
            while not queue.empty():
                body = body_of(queue.get_nowait())
                started = time.perf_counter()
                response = await client.post(path, json=body)
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
    parser.add_argument("--suggest-tex", type=Path, default=REPO / "data" / "examples" / "draft.tex")
    parser.add_argument("--suggest-requests", type=int, default=40, help="/v1/suggest calls per evidence setting")
    parser.add_argument("--suggest-concurrency", type=int, default=2)
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

        tex = args.suggest_tex.read_text(encoding="utf-8", errors="replace")
        suggested = {}
        for evidence in (False, True):
            app = create_app(library, reranker=reranker, index=index, limits=ServeLimits())
            with serve_in_thread(app) as url:
                warm = functools.partial(suggest_body, tex, evidence, 10_000)  # other drafts than the measured
                asyncio.run(run_load(url, 2, 1, 0, "/v1/suggest", warm))  # the draft's passages recalled
                measured = functools.partial(suggest_body, tex, evidence, 0)
                suggested[evidence] = asyncio.run(
                    run_load(url, args.suggest_requests, args.suggest_concurrency, 0, "/v1/suggest", measured)
                )
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
    print(
        f"\n/v1/suggest: {args.suggest_tex.name} with one citing sentence added per request, recall only, "
        f"{args.suggest_requests} requests, {args.suggest_concurrency} concurrent\n"
    )
    print("| draft evidence | p50 ms | p95 ms | requests/s | statuses |")
    print("| --- | ---: | ---: | ---: | --- |")
    for evidence, row in suggested.items():
        print(
            f"| {'on' if evidence else 'off'} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['rps']:.1f} "
            f"| {row['statuses']} |"
        )
    print(f"\np95 ratio evidence on/off: {suggested[True]['p95_ms'] / suggested[False]['p95_ms']:.2f}x")


if __name__ == "__main__":
    main()
