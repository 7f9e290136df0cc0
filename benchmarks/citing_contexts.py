"""What other papers' citing sentences bring: a cited paper's profile from how *others* cite it, offline.

`citerec library enrich --citing-contexts` keeps, for each library entry, up to N sentences other papers
cite it with (from Semantic Scholar), and recall reads them as it reads the past sentences of
`citerec library learn`. This benchmark measures that without the network, on the training corpus:

- every corpus paper (all parts of the split) is read once; each of its citing sentences is tied to the
  .bib entries it cites;
- the papers of one part (dev chooses N, test reports) are evaluated against their pooled library, as
  benchmarks/corpus_quality.py does, in both readings;
- before each paper P is evaluated, the library's past sentences are rewritten to hold, for each entry,
  up to N sentences from the *other* corpus papers that cite the same work (same DOI, arXiv id or
  normalised title, as the library deduplicates). P itself never contributes, and the sample is seeded.

It prints, per reading, today's ranking against the one with the profiles (macro and micro Recall@k, MRR),
per field and per paper, the share of cited passages whose papers have a profile, and the time taken.

    python benchmarks/citing_contexts.py --papers CORPUS/papers --split dev --contexts 5,10,20
    python benchmarks/citing_contexts.py --papers CORPUS/papers --split test --contexts 10
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import random
import sys
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import table  # noqa: E402
from corpus_quality import READINGS, Scored, chosen_papers, field_table, macro, overall_table, paper_table, scored  # noqa: E402
from quality import EvalPaper, read_manifest  # noqa: E402

from citerec.evaluate import build_eval_library, evaluate_on_library, merge_keymaps  # noqa: E402
from citerec.library import Library  # noqa: E402
from citerec.library_db import dedup_identifiers  # noqa: E402
from citerec.papers import Paper, normalise_key  # noqa: E402
from citerec.past_sentences import CitingSentence, source_name  # noqa: E402
from citerec.suggest import Suggester, SuggestOptions  # noqa: E402
from citerec.train.splits import PARTS, manifest_fields  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Cited:
    """One citing sentence of a corpus paper about one work: where it is, what it says, the work's identifiers."""

    paper: str  # the citing corpus paper's name
    source: str  # its main file, as `library learn` names a source
    file: str
    line: int
    sentence: str
    identifiers: tuple[str | None, str | None, str | None]  # (DOI, arXiv id, title) of the cited entry


def read_citing(paper: EvalPaper) -> list[Cited]:
    """Every (sentence, cited entry) pair of one corpus paper; keys its .bib files lack are left out."""
    from citerec.ingest import read_bibtex
    from citerec.latex import read_draft
    from citerec.past_sentences import citing_sentences

    entries: dict[str, Paper] = {}
    macros: dict[str, str] = {}
    for bib in paper.bibs:
        result = read_bibtex(bib, macros=macros)
        macros.update(result.strings)
        for entry in result.papers:
            entries.setdefault(normalise_key(entry.key), entry)
    draft = read_draft(paper.tex, bibs=paper.bibs)
    out = []
    for sentence in citing_sentences(draft):
        text = " ".join(sentence.sentence.split())
        for key in dict.fromkeys(sentence.keys):
            entry = entries.get(normalise_key(key))
            if entry is not None and text:
                ids = dedup_identifiers(entry)
                if any(ids):
                    out.append(Cited(paper.name, source_name(paper.tex), sentence.file, sentence.line, text, ids))
    return out


def corpus_citing(papers: list[EvalPaper], cache: Path) -> list[Cited]:
    """Every corpus paper's citing sentences, read once and kept (keyed by the manifest rows)."""
    digest = hashlib.sha256("\n".join(p.row or p.name for p in papers).encode()).hexdigest()[:12]
    kept = cache / f"citing-{digest}.json"
    if kept.is_file():
        return [Cited(**{**row, "identifiers": tuple(row["identifiers"])}) for row in json.loads(kept.read_text())]
    out: list[Cited] = []
    for n, paper in enumerate(papers, start=1):
        try:
            out += read_citing(paper)
        except Exception as exc:  # noqa: BLE001 - a paper that does not read gives no profiles, and says so
            print(f"  {paper.name}: not read ({exc})", file=sys.stderr)
        if n % 20 == 0:
            print(f"  read {n}/{len(papers)} corpus papers", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps([c.__dict__ for c in out]), encoding="utf-8")
    return out


def library_keys(library: Library) -> dict[tuple[int, str], str]:
    """(identifier column, value) → library key, as `Library.find_duplicate` looks works up."""
    found: dict[tuple[int, str], str] = {}
    for paper in library.papers():
        for column, value in enumerate(dedup_identifiers(paper)):
            if value is not None:
                found.setdefault((column, value), paper.key)
    return found


def profiles(citing: list[Cited], keys: dict[tuple[int, str], str]) -> dict[str, list[Cited]]:
    """Library key → the corpus sentences citing that work (the first identifier that finds it decides)."""
    out: dict[str, list[Cited]] = defaultdict(list)
    for item in citing:
        for column, value in enumerate(item.identifiers):
            key = keys.get((column, value)) if value is not None else None
            if key is not None:
                out[key].append(item)
                break
    return out


def write_profiles(
    library: Library, by_key: dict[str, list[Cited]], held_out: Collection[str], limit: int, seed: int
) -> int:
    """Rewrite the past sentences: up to `limit` per entry from papers not `held_out`; how many kept."""
    rng = random.Random(f"{seed}:{sorted(held_out)}")
    by_source: dict[str, list[CitingSentence]] = defaultdict(list)
    for key, items in by_key.items():
        others = [c for c in items if c.paper not in held_out]
        for c in rng.sample(others, limit) if len(others) > limit else others:
            by_source[c.source].append(CitingSentence(c.file, c.line, c.sentence, (key,)))
    with library.transaction():
        for source, _ in library.past_sources():
            if source not in by_source:
                library.forget(source)
        for source, sentences in by_source.items():
            library.learn(source, sentences)  # replaces what `source` gave before
    return sum(len(s) for s in by_source.values())


def profiled_table(runs: dict[tuple[str, str], list[Scored]], flags: dict[tuple[str, str], list[bool]]) -> str:
    """R@10 and MRR over the passages that cite at least one paper other corpus papers also cite."""
    rows = []
    for (method, reading), papers in runs.items():
        chosen = [row for p in papers for row, f in zip(p.contexts, flags[(reading, p.paper)], strict=True) if f]
        if chosen:
            r10 = sum(r["recall@10"] for r in chosen) / len(chosen)
            mrr = sum(r["mrr"] for r in chosen) / len(chosen)
            rows.append([method, reading, len(chosen), f"{r10:.3f}", f"{mrr:.3f}"])
    return table(["method", "reading", "passages", "recall@10", "mrr"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=Path, required=True, help="the unpacked corpus: a folder with MANIFEST.tsv")
    parser.add_argument("--split", choices=PARTS, default="dev", help="the part evaluated")
    parser.add_argument("--split-file", type=Path, default=REPO / "data" / "splits" / "corpus.json")
    parser.add_argument("--contexts", default="10", help="N, sentences kept per entry; comma-separated to compare")
    parser.add_argument("--sample", type=int, default=0, help="a seeded sample of N papers of the part")
    parser.add_argument("--seed", type=int, default=33)
    parser.add_argument(
        "--profiles-from",
        choices=("outside", "others"),
        default="outside",
        help="outside: corpus papers outside the evaluated part (every entry, cited or not, is profiled alike); "
        "others: every corpus paper but the one evaluated (its pool's other papers profile their own entries)",
    )
    parser.add_argument("--reading", default=",".join(READINGS))
    parser.add_argument("--cache", type=Path, default=REPO / ".bench-cache" / "corpus-quality")
    parser.add_argument("--json", type=Path, default=REPO / ".bench-cache" / "citing-contexts.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    limits = [int(n) for n in args.contexts.split(",") if n]
    readings = [r for r in args.reading.split(",") if r]
    fields = manifest_fields(args.papers / "MANIFEST.tsv")
    started = time.perf_counter()
    every = read_manifest(args.papers)
    citing = corpus_citing(every, args.cache)
    print(f"{len(citing)} (sentence, cited work) pairs from {len(every)} corpus papers", file=sys.stderr)

    papers = chosen_papers(args.papers, args.split_file, args.split, args.sample, args.seed)
    digest = hashlib.sha256("\n".join(p.name for p in papers).encode()).hexdigest()[:10]
    cache = args.cache / f"{args.split}-{len(papers)}-{digest}"  # the corpus benchmark's kept library
    library, keymaps = build_eval_library([b for p in papers for b in p.bibs], cache / "pooled")
    bounds = list(itertools.pairwise(itertools.accumulate((len(p.bibs) for p in papers), initial=0)))
    by_key = profiles(citing, library_keys(library))
    pool = {p.name for p in papers}
    options = SuggestOptions(rerank="off")
    suggester = Suggester(library, options=options)

    methods = ["today", *(f"profiles {n}" for n in limits)]
    runs: dict[tuple[str, str], list[Scored]] = {}
    coverage: dict[str, float] = {}
    flags: dict[tuple[str, str], list[bool]] = {}  # (reading, paper) → which passages cite a profiled paper
    for reading in readings:
        evaluated: dict[str, list] = {m: [] for m in methods}
        for paper, (a, b) in zip(papers, bounds, strict=True):
            keymap = merge_keymaps(keymaps[a:b])
            for method, limit in zip(methods, [0, *limits], strict=True):
                held_out = pool if args.profiles_from == "outside" else {paper.name}
                kept = write_profiles(library, by_key, held_out, limit, args.seed)  # limit 0: none, today
                result = evaluate_on_library(
                    paper.tex, suggester, keymap, options=options, name=paper.name, reading=reading, bibs=paper.bibs
                )
                evaluated[method].append(result)
                if limit:
                    profiled = {k for k, items in by_key.items() if any(c.paper not in held_out for c in items)}
                    truths = [t for ctx in result.contexts for t in ctx.truth]
                    coverage[paper.name] = sum(t in profiled for t in truths) / max(len(truths), 1)
                    flags[(reading, paper.name)] = [any(t in profiled for t in ctx.truth) for ctx in result.contexts]
                    print(f"  {paper.name} {reading}: {kept} sentences kept for {method}", file=sys.stderr)
        for method in methods:
            runs[(method, reading)] = scored(evaluated[method], fields)
    write_profiles(library, {}, (), 0, args.seed)  # leave the kept library as the corpus benchmark built it
    elapsed = time.perf_counter() - started

    print(
        f"\n## Citing-context profiles, corpus {args.split} split: {len(papers)} papers, "
        f"profiles from {args.profiles_from}\n"
    )
    outside = pool if args.profiles_from == "outside" else set()
    profiled_entries = sum(any(c.paper not in outside for c in items) for items in by_key.values())
    share = sum(coverage.values()) / max(len(coverage), 1)
    print(
        f"cited papers with a profile from other corpus papers: {share:.3f} of the citations (mean over papers); "
        f"library entries with a profile: {profiled_entries} of {len(library)}\n"
    )
    print(overall_table(runs), "\n\n### Per field (macro over papers)\n", field_table(runs), sep="\n")
    print("\n### Passages citing a paper with a profile (micro)\n", profiled_table(runs, flags), sep="\n")
    print("\n### Per paper\n", paper_table(runs), sep="\n")
    for reading in readings:
        base = runs[("today", reading)]
        for method in methods[1:]:
            delta = macro(runs[(method, reading)])["recall@10"] - macro(base)["recall@10"]
            losses = [
                f"{p.paper} {q.mean()['recall@10'] - p.mean()['recall@10']:+.3f}"
                for p, q in zip(base, runs[(method, reading)], strict=True)
                if q.mean()["recall@10"] < p.mean()["recall@10"] - 1e-9
            ]
            print(f"{reading}, {method}: macro R@10 {delta:+.3f}; papers losing: {', '.join(losses) or 'none'}")
    print(f"\ntime: {elapsed:.0f} s")
    report = {
        "split": args.split,
        "contexts": limits,
        "profiles_from": args.profiles_from,
        "papers": [p.name for p in papers],
        "runs": {f"{m}, {r}": {"macro": macro(v), "papers": [s.paper for s in v]} for (m, r), v in runs.items()},
        "coverage": coverage,
        "seconds": elapsed,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
