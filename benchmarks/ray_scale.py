"""Index-build throughput: the local path vs the Ray engine with 1 and 2 workers, and a projection to arXiv.

Each variant builds the index of the same library from scratch (`--rebuild`)
in this process, one after the other, and reports papers/s two ways:
- end to end: papers / embedding time, Ray's start-up (actors, model loads) included;
- steady: papers/s between the first and the last finished vector shard, the
  rate a long build runs at once its workers are up (Ray variants only).
The baseline is the local path measured in the same run; ratios are against it.
Then, from the steady per-worker rate, the time to embed the 2.7M abstracts of
arXiv on N CPU workers, and on N GPU workers at an assumed per-GPU rate (no GPU
is measured here; pass `--gpu-rate` with a rate you measured, e.g. with
`citerec index build --engine ray --gpus-per-worker 1`).

    python benchmarks/ray_scale.py                          # 600 papers from the example and eval .bib files
    python benchmarks/ray_scale.py --bib DIR --papers 2000  # .bib files under DIR (e.g. ACM-CR's acm-dl folder)
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from citerec.engine import EngineConfig, build_index  # noqa: E402
from citerec.library import Library  # noqa: E402
from citerec.papers import Paper  # noqa: E402

ARXIV = 2_700_000
# Assumed, not measured here: all-MiniLM-L6-v2 in fp16 on one data-centre GPU (A100/H100 class) embeds
# roughly 3,000 abstracts/s at batch 128 and <=256 tokens (sentence-transformers' published speed for
# MiniLM-L6 is ~14k short sentences/s on a V100; abstracts are ~5x longer). Override with --gpu-rate.
ASSUMED_GPU_RATE = 3000.0


@dataclass(frozen=True)
class Row:
    variant: str
    workers: int
    papers: int
    seconds: float
    rate: float
    steady: float | None


def collect_papers(bib_dir: Path | None, count: int) -> list[Paper]:
    """`count` distinct papers with abstracts from .bib files (titles paired with rotated abstracts if short)."""
    from citerec.ingest import read_bibtex

    if bib_dir is not None:
        files = sorted(glob.glob(str(bib_dir / "**" / "*.bib"), recursive=True))
    else:
        eval_dir = REPO.parent / "shared" / "eval" / "papers"
        files = [
            str(REPO / "data" / "examples" / "refs.bib"),
            *sorted(glob.glob(str(eval_dir / "**" / "*.bib"), recursive=True)),
        ]
    real: list[Paper] = []
    for path in files:
        real.extend(p for p in read_bibtex(Path(path)).papers if p.title and p.abstract)
        if len(real) >= count:
            break
    if not real:
        raise SystemExit("no papers with abstracts found")
    papers = []
    for number in range(count):
        base = real[number % len(real)]
        rotation = number // len(real)
        abstract = real[(number + rotation) % len(real)].abstract
        papers.append(
            Paper(key=f"p{number:06d}", title=base.title, abstract=abstract, authors=base.authors, year=base.year)
        )
    return papers


def measure(library: Library, config: EngineConfig, label: str) -> Row:
    finished: list[tuple[float, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "embedding papers":
            finished.append((time.perf_counter(), done))

    _, report = build_index(library, config, rebuild=True, progress=progress)
    steady = None
    if not config.local:
        points = [(t, d) for t, d in finished if d > 0]
        if len(points) >= 3 and points[-1][0] > points[0][0]:
            steady = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
    workers = config.workers or 0
    return Row(label, workers, report.embedded, report.embed_seconds, report.embedded / report.embed_seconds, steady)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bib", type=Path, help="folder of .bib files (default: example + shared eval .bib files)")
    parser.add_argument("--papers", type=int, default=600)
    parser.add_argument("--workers", default="1,2", help="Ray pool sizes to measure")
    parser.add_argument("--shard-size", type=int, default=50)
    parser.add_argument("--ray-address", default=None, help="join this cluster instead of starting a local Ray")
    parser.add_argument("--gpu-rate", type=float, default=ASSUMED_GPU_RATE, help="papers/s per GPU worker")
    args = parser.parse_args()

    papers = collect_papers(args.bib, args.papers)
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(Path(tmp) / "lib")
        library.add(papers)
        rows = [measure(library, EngineConfig(), "local (this process)")]
        import ray

        from citerec.engine.ray_runtime import runtime_env

        if args.ray_address:
            ray.init(address=args.ray_address, runtime_env=runtime_env(), log_to_driver=False)
        else:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, runtime_env=runtime_env(), log_to_driver=False)
        for workers in (int(w) for w in args.workers.split(",")):
            config = EngineConfig("ray", address=args.ray_address, workers=workers, shard_size=args.shard_size)
            rows.append(measure(library, config, f"ray, {workers} worker{'s' if workers > 1 else ''}"))
        ray.shutdown()

    base = rows[0].rate
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nIndex build, {len(papers)} papers, {os.cpu_count()} CPUs, load average {load} at the end")
    print("(embedding time only; BM25 and FAISS are the same code for every variant)\n")
    head = ("variant", "seconds", "papers/s", "vs local", "steady papers/s", "steady vs local")
    print(f"{head[0]:<22} {head[1]:>8} {head[2]:>9} {head[3]:>9} {head[4]:>16} {head[5]:>16}")
    for row in rows:
        steady = f"{row.steady:16.1f}" if row.steady else f"{'-':>16}"
        ratio = f"{row.steady / base:16.2f}" if row.steady else f"{'-':>16}"
        print(f"{row.variant:<22} {row.seconds:8.1f} {row.rate:9.1f} {row.rate / base:9.2f} {steady} {ratio}")

    per_worker = [row.steady / row.workers for row in rows[1:] if row.steady]
    cpu_rate = max(per_worker) if per_worker else rows[1].rate
    print(f"\nProjection: {ARXIV:,} arXiv abstracts (embedding only, ideal linear scaling, no start-up)")
    print(f"  CPU worker: {cpu_rate:.1f} papers/s measured here (1 CPU reserved each)")
    print(f"  GPU worker: {args.gpu_rate:.0f} papers/s ASSUMED (MiniLM-L6 fp16, batch 128; not measured here)")
    print(f"{'workers':>8} {'CPU workers':>14} {'GPU workers':>14}")
    for n in (1, 8, 32, 128, 512):
        cpu_hours = ARXIV / (cpu_rate * n) / 3600
        gpu_hours = ARXIV / (args.gpu_rate * n) / 3600
        print(f"{n:8d} {_duration(cpu_hours):>14} {_duration(gpu_hours):>14}")


def _duration(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    if hours >= 1:
        return f"{hours:.1f} h"
    if hours * 60 >= 10:
        return f"{hours * 60:.0f} min"
    return f"{hours * 60:.1f} min"


if __name__ == "__main__":
    main()
