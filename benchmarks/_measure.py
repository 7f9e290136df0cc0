"""What the benchmarks share: running a citerec command in a child process and measuring it.

`run_measured` times a command and samples the resident memory of its whole
process tree (the command and the workers it starts) from /proc, so peak
memory of a parallel import is the sum over processes, not only the largest.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CITEREC = [sys.executable, "-c", "from citerec.cli import main; main()"]


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float  # whole process tree, sampled every 50 ms (0 where /proc is missing)
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system time of the whole tree: what the run costs on an idle machine


def _tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and its descendants, in MB (Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21])  # resident pages
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_measured(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run `args`, returning its time, peak memory and output."""
    started = time.perf_counter()
    cpu_before = _children_cpu_seconds()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd or REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})},
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            if os.path.isdir("/proc"):
                peak = max(peak, _tree_rss_mb(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return Measured(seconds, peak, proc.returncode, stdout, stderr, _children_cpu_seconds() - cpu_before)


def _children_cpu_seconds() -> float:
    """CPU time of finished child processes and the descendants they waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def citerec(*args: str, env: dict[str, str] | None = None) -> Measured:
    """`citerec ARGS` in a child process (the CLI as a user runs it), measured; fails loudly."""
    result = run_measured([*CITEREC, *args], env=env)
    if result.returncode != 0:
        sys.exit(f"citerec {' '.join(args[:3])} … failed:\n{result.stderr[-3000:]}")
    return result


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table (what the issue notes quote)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Cited:
    """What the query types need to know of a paper a query should find."""

    has_abstract: bool
    surnames: tuple[str, ...]

    @classmethod
    def of(cls, paper) -> Cited:
        from citerec.index.text import surname

        return cls(bool(paper.abstract), tuple(surname(a) for a in paper.authors))


QUERY_TYPES = ("all", "cited paper without abstract", "several papers cited", "short (< 15 words)", "author named")


def query_types(sentence: str, cited: list[Cited], n_cited: int) -> list[str]:
    """The analysis groups a citing sentence falls in (`cited`: the papers it cites that the library holds)."""
    import re

    types = ["all"]
    if any(not p.has_abstract for p in cited):
        types.append("cited paper without abstract")
    if n_cited > 1:
        types.append("several papers cited")
    if len(re.findall(r"\w+", sentence)) < 15:
        types.append("short (< 15 words)")
    names = {n for p in cited for n in p.surnames if len(n) > 2}
    if "et al" in sentence or any(re.search(rf"\b{re.escape(n)}\b", sentence) for n in names):
        types.append("author named")
    return types


def type_table(by_type: dict[str, dict[str, list[float]]], labels: list[str]) -> str:
    """Mean R@10 per query type (rows) and run (columns), with the group sizes."""
    rows = [
        [kind, str(len(by_type[kind][labels[0]]))]
        + [f"{sum(v) / len(v):.3f}" for v in (by_type[kind][label] for label in labels)]
        for kind in QUERY_TYPES
        if kind in by_type
    ]
    return table(["query type", "n", *labels], rows)
