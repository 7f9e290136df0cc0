"""What `citerec library learn` brings: the user's earlier writing as evidence for a new draft.

Each eval paper stands in for two drafts of one user: its first half (citing
sentences by position) is "the earlier paper", kept as past sentences in the
paper's own library, and its second half is "the new draft", ranked in the fresh reading
(nothing known of its own citations). The baseline ranks the same second half,
in the same run, with no past sentences. Recall@10 per paper and macro, with the
per-paper change; `--reading finishing` also ranks the second half knowing its
other citations (leave-one-out), with and without the first half's past sentences.

    python benchmarks/learn_from_drafts.py [--papers DIR] [--only NAME ...] [--reading fresh,finishing]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import DEFAULT_PAPERS, EvalPaper, read_manifest  # noqa: E402

from citerec.evaluate import build_eval_library, merge_keymaps, ranking_metrics  # noqa: E402
from citerec.latex import extract_contexts, read_draft  # noqa: E402
from citerec.papers import normalise_key  # noqa: E402
from citerec.past_sentences import CitingSentence  # noqa: E402
from citerec.suggest import Suggester, SuggestOptions  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CUTOFF = 10


def halves(paper: EvalPaper, keymap: dict[str, str]) -> tuple[list, list[tuple[str, ...]], list, list[tuple[str, ...]]]:
    """The paper's citing contexts with their truths as library keys, split by position into two halves."""
    contexts = [c for c in extract_contexts(read_draft(paper.tex)) if c.cited_keys]
    rows = []
    for context in sorted(contexts, key=lambda c: c.id):
        truth = tuple(dict.fromkeys(keymap[k] for k in map(normalise_key, context.cited_keys) if k in keymap))
        if truth:
            rows.append((context, truth))
    middle = len(rows) // 2
    first, second = rows[:middle], rows[middle:]
    return [c for c, _ in first], [t for _, t in first], [c for c, _ in second], [t for _, t in second]


def recall_at(suggester: Suggester, contexts: list, truths: list, known: list, options: SuggestOptions) -> float:
    ranked = suggester.rank(contexts, options, known=known)
    scores = [
        ranking_metrics([s.key for s in r.ranking], t)[f"recall@{CUTOFF}"] for r, t in zip(ranked, truths, strict=True)
    ]
    return sum(scores) / len(scores) if scores else math.nan


def run_paper(paper: EvalPaper, cache: Path, readings: list[str]) -> dict[str, tuple[float, float]] | None:
    """{reading: (R@10 without past sentences, R@10 with the first half's)} for the second half."""
    library, keymaps = build_eval_library(list(paper.bibs), cache / paper.name)
    keymap = merge_keymaps(keymaps)
    first, first_truths, second, second_truths = halves(paper, keymap)
    if not first or not second:
        return None
    options = dataclasses.replace(SuggestOptions(rerank="off"), include_cited=True, threshold=-math.inf)
    suggester = Suggester(library, options=options)
    source = f"{paper.tex.resolve()}#first-half"  # "the earlier paper": never the draft being ranked
    earlier = [
        CitingSentence(c.file, c.line_start, c.sentence or c.text, t) for c, t in zip(first, first_truths, strict=True)
    ]
    out = {}
    for reading in readings:
        known = second_truths if reading == "finishing" else [()] * len(second)
        library.forget(source)
        before = recall_at(suggester, second, second_truths, known, options)
        library.learn(source, earlier)
        after = recall_at(suggester, second, second_truths, known, options)
        out[reading] = (before, after)
    library.forget(source)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=Path, default=DEFAULT_PAPERS, help="folder with MANIFEST.tsv")
    parser.add_argument("--only", nargs="*", help="only these paper names")
    parser.add_argument("--reading", default="fresh", help="fresh and/or finishing, comma-separated")
    parser.add_argument("--cache", type=Path, default=REPO / ".bench-cache" / "learn", help="kept libraries")
    args = parser.parse_args()
    if not (args.papers / "MANIFEST.tsv").is_file():
        raise SystemExit(f"{args.papers}: no MANIFEST.tsv (the eval papers are not here)")
    readings = [r for r in args.reading.split(",") if r]
    papers = [p for p in read_manifest(args.papers) if not args.only or p.name in args.only]
    console = Console()
    table = Table(title=f"Second half of each paper, R@{CUTOFF}: no past sentences vs its first half's")
    table.add_column("paper")
    for reading in readings:
        for column in ("baseline", "past", "change"):
            table.add_column(f"{reading}\n{column}", justify="right")
    totals: dict[str, list[tuple[float, float]]] = {r: [] for r in readings}
    started = time.perf_counter()
    for paper in papers:
        found = run_paper(paper, args.cache, readings)
        if found is None:
            continue
        cells = [paper.name]
        for reading in readings:
            before, after = found[reading]
            totals[reading].append((before, after))
            cells += [f"{before:.3f}", f"{after:.3f}", f"{after - before:+.3f}"]
        table.add_row(*cells)
        print(f"  {paper.name} done", file=sys.stderr)
    cells = ["macro average"]
    for reading in readings:
        pairs = totals[reading]
        before, after = (sum(p[i] for p in pairs) / max(len(pairs), 1) for i in (0, 1))
        cells += [f"{before:.3f}", f"{after:.3f}", f"{after - before:+.3f}"]
    table.add_row(*cells, style="bold")
    console.print(table)
    console.print(f"{len(papers)} papers in {time.perf_counter() - started:.0f} s", highlight=False)


if __name__ == "__main__":
    main()
