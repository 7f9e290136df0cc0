"""`citerec library enrich` from a snapshot: match precision and recall on perturbed records, time, memory.

The entries of real papers' .bib files that have an abstract (the eval papers,
and the corpus when given) are put in a library with their abstract, DOI and
arXiv id stripped, so only a title match can find them. A snapshot in the
Kaggle JSON-lines format is made of their records, each written as real records
differ from a .bib (case, accents as LaTeX, braces, hyphens, a subtitle dropped,
a word dropped, a typo, initials for first names, the first version a year
off, a later update date), some beside a same-titled record by other authors,
hidden among distractor records (ACM-CR's entries, cycled with new ids to reach
`--records`). `citerec library enrich` then runs as a user runs it (a child
process, timed, its peak memory sampled), and every match is checked against
the record each entry was made from.

    python benchmarks/enrich.py ACM_DL_DIR BIB_DIR [BIB_DIR …] [--records 2000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import citerec, table  # noqa: E402

from citerec.enrich.match import first_surname  # noqa: E402
from citerec.ingest.bibtex import read_bibtex  # noqa: E402
from citerec.ingest.texconv import text_to_latex  # noqa: E402
from citerec.library import Library  # noqa: E402
from citerec.papers import Paper, normalise_title  # noqa: E402

FILLER = ("a", "the", "new", "novel", "towards")


@dataclass(frozen=True)
class Made:
    """A snapshot record made from a library entry: its id, and what was done to it."""

    record_id: str
    changes: tuple[str, ...]


def read_entries(folders: list[Path], limit: int | None = None) -> list[Paper]:
    papers: list[Paper] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.bib")):
            papers.extend(read_bibtex(path).papers)
            if limit and len(papers) >= limit:
                return papers[:limit]
    return papers


def truth_entries(folders: list[Path]) -> list[Paper]:
    """Entries with an abstract, a title and an author, one per paper: the same title, or the same first author,
    year and first four title words (one paper cited by two .bib files with its title written two ways)."""
    seen: set[object] = set()
    kept = []
    for paper in read_entries(folders):
        title = normalise_title(paper.title)
        same_paper = (first_surname(paper), paper.year, tuple(title.split()[:4]))
        if paper.abstract and paper.authors and len(title) >= 12 and not {title, same_paper} & seen:
            seen.update((title, same_paper))
            kept.append(dataclasses.replace(paper, key=f"t{len(kept)}"))  # .bib keys of different papers collide
    return kept


def perturb_title(title: str, rng: random.Random, changes: list[str]) -> str:
    if ":" in title and rng.random() < 0.3:
        title = title.split(":", 1)[0]
        changes.append("subtitle dropped")
    words = title.split()
    roll = rng.random()
    if roll < 0.15 and len(words) >= 6:
        del words[rng.randrange(1, len(words))]
        changes.append("word dropped")
    elif roll < 0.25:
        words.insert(rng.randrange(0, len(words) + 1), rng.choice(FILLER))
        changes.append("word added")
    elif roll < 0.4:
        long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if long:
            i = rng.choice(long)
            j = rng.randrange(1, len(words[i]) - 1)
            words[i] = words[i][:j] + words[i][j + 1] + words[i][j] + words[i][j + 2 :]
            changes.append("typo")
    title = " ".join(words)
    if rng.random() < 0.3:
        title = title.replace("-", " ") if "-" in title else title.replace(" ", "-", 1)
        changes.append("hyphen")
    case = rng.random()
    if case < 0.3:
        title, _ = title.lower(), changes.append("lower case")
    elif case < 0.5:
        title, _ = title.title(), changes.append("title case")
    if rng.random() < 0.3:
        words = title.split()
        i = rng.randrange(len(words))
        words[i] = "{" + words[i] + "}"
        title = " ".join(words)
        changes.append("braces")
    if not title.isascii():
        changes.append("accents as LaTeX")
    return text_to_latex(title) if rng.random() < 0.7 else title


def split_name(name: str, initials: bool) -> list[str]:
    parts = name.split()
    last, first = parts[-1], " ".join(parts[:-1])
    if initials and first:
        first = " ".join(f"{p[0]}." for p in first.replace("-", " ").split())
    return [last, first, ""]


def record(
    ident: str, paper: Paper, title: str, authors: list[list[str]], year: int | None, later: int
) -> dict[str, object]:
    year = year or 2000
    return {
        "id": ident,
        "authors": ", ".join(text_to_latex(f"{first} {last}".strip()) for last, first, _ in authors),
        "title": title,
        "journal-ref": None,
        "doi": None,
        "categories": "cs.IR",
        "abstract": text_to_latex(paper.abstract),  # a snapshot holds LaTeX; the entry holds it decoded
        "versions": [{"version": "v1", "created": f"Mon, 1 Jan {year} 00:00:00 GMT"}],
        "update_date": f"{year + later}-01-01",
        "authors_parsed": [[text_to_latex(p) for p in parts] for parts in authors],
    }


def write_snapshot(
    path: Path, truth: list[Paper], distractors: list[Paper], records: int, impostors: float, seed: int
) -> dict[str, Made]:
    """The snapshot file, written as it is made (a 2-million-record file never sits in memory); for each truth
    entry's key, the id of the record made from it."""
    rng = random.Random(seed)
    made: dict[str, Made] = {}
    lines: list[str] = []
    for n, paper in enumerate(truth):
        changes: list[str] = []
        lines.append(_perturbed_record(n, paper, rng, changes))
        if rng.random() < impostors:
            other = rng.choice(distractors)
            fake = Paper(f"x{n}", paper.title, abstract=other.abstract or "Another paper.", authors=other.authors)
            names = [split_name(a, False) for a in other.authors or ("Ann Other",)]
            lines.append(json.dumps(record(f"9902.{n:05d}", fake, paper.title, names, paper.year, 0)))
            changes.append("same title by others")
        made[paper.key] = Made(f"arxiv:9901.{n:05d}", tuple(changes))
    titles = {normalise_title(p.title) for p in truth}  # the same paper in both would be a right match counted wrong
    usable = [p for p in distractors if p.title and p.authors and normalise_title(p.title) not in titles]
    total = max(records, len(lines))
    slots = set(rng.sample(range(total), len(lines)))  # where the made records go among the distractors
    rng.shuffle(lines)
    distractor = 0
    with path.open("w", encoding="utf-8") as handle:
        for position in range(total):
            if position in slots:
                handle.write(lines.pop() + "\n")
                continue
            paper = usable[distractor % len(usable)]
            names = [split_name(a, False) for a in paper.authors]
            handle.write(json.dumps(record(f"d{distractor}", paper, paper.title, names, paper.year, 1)) + "\n")
            distractor += 1
    return made


def _perturbed_record(n: int, paper: Paper, rng: random.Random, changes: list[str]) -> str:
    title = perturb_title(paper.title, rng, changes)
    initials = rng.random() < 0.4
    if initials:
        changes.append("initials")
    year = paper.year
    if year and rng.random() < 0.2:
        year += rng.choice((-1, 1))
        changes.append("year off by one")
    authors = [split_name(a, initials) for a in paper.authors]
    return json.dumps(record(f"9901.{n:05d}", paper, title, authors, year, rng.randrange(0, 6)))


def recall_effect(papers_dir: Path, names: list[str], distractors: list[Paper], scratch: Path, seed: int) -> str:
    """Recall@10 of each named eval paper, both readings: its library as is, with the abstracts stripped, and
    stripped then enriched from a snapshot of its perturbed records among 20,000 distractors."""
    from citerec.enrich.run import enrich_library
    from citerec.enrich.sources import SnapshotSource
    from citerec.evaluate import READINGS, build_eval_library, evaluate_on_library
    from citerec.suggest import Suggester, SuggestOptions

    rows = []
    manifest = {
        row[0]: row[3].split(",")
        for row in (line.split("\t") for line in (papers_dir / "MANIFEST.tsv").read_text().splitlines()[1:])
    }
    for name in names:
        paths = [papers_dir / name / p for p in manifest[name]]
        tex, bibs = paths[0], [p for p in paths if p.suffix == ".bib"]
        scores: dict[str, dict[str, float]] = {}
        matched = 0
        for variant in ("before", "stripped", "enriched"):
            library, keymaps = build_eval_library(bibs, scratch / name / variant)
            keymap = {k: v for keymap in keymaps for k, v in keymap.items()}
            truth = [p for p in library.papers() if p.abstract and p.authors]
            if variant != "before":
                library.add(dataclasses.replace(p, abstract="", doi="", arxiv_id="") for p in truth)
            if variant == "enriched":
                snapshot = scratch / name / "snapshot.jsonl"
                write_snapshot(snapshot, truth, distractors, 20_000, 0.15, seed)
                matched = len({f.key for f in enrich_library(library, [SnapshotSource(snapshot)]).fills})
            suggester = Suggester(library, options=SuggestOptions(rerank="off"))
            scores[variant] = {
                reading: evaluate_on_library(tex, suggester, keymap, reading=reading).metrics["recall@10"]
                for reading in READINGS
            }
        for reading in READINGS:
            values = [f"{scores[v][reading]:.3f}" for v in ("before", "stripped", "enriched")]
            rows.append([name, reading, len(library), f"{matched}/{len(truth)}", *values])
    headers = ["paper", "reading", "entries", "abstracts restored", "R@10 as is", "stripped", "enriched"]
    return table(headers, rows)


def _opening(abstract: str) -> str:
    """The first 80 letters of an abstract: two versions of one paper's abstract begin alike."""
    return normalise_title(abstract).replace(" ", "")[:80]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("distractors", type=Path, help="a folder of .bib files whose entries are distractor records")
    parser.add_argument("truth", type=Path, nargs="+", help="folders of real papers' .bib files (the library)")
    parser.add_argument("--records", type=int, default=100_000, help="snapshot size (distractors cycled to reach it)")
    parser.add_argument("--impostors", type=float, default=0.15, help="share of entries with a same-titled record")
    parser.add_argument("--entries", type=int, default=None, help="a random sample of this many library entries")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--recall",
        default="",
        help="eval papers (names in MANIFEST.tsv, comma-separated) to measure "
        "Recall@10 on: as is, stripped and enriched (the first truth folder holds them)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the snapshot and library in this folder")
    args = parser.parse_args()

    truth = truth_entries(args.truth)
    if args.entries and args.entries < len(truth):
        truth = random.Random(args.seed).sample(truth, args.entries)
    distractors = read_entries([args.distractors])
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="citerec-enrich-"))
    scratch.mkdir(parents=True, exist_ok=True)
    snapshot = scratch / "snapshot.jsonl"
    made = write_snapshot(snapshot, truth, distractors, args.records, args.impostors, args.seed)
    library = Library(scratch / "library")
    library.clear()
    library.add(dataclasses.replace(p, abstract="", doi="", arxiv_id="") for p in truth)
    library.close()

    run = citerec(
        "library", "enrich", "-L", str(scratch / "library"), "--source", f"snapshot:{snapshot}", "--format", "json"
    )
    report = json.loads(run.stdout)
    applied = {o["key"]: o["record"] for o in report["outcomes"] if o["status"] in ("filled", "nothing new")}
    abstracts = {f["key"]: f["value"] for f in report["filled"] if f["field"] == "abstract"}
    by_key = {p.key: p for p in truth}
    for key, rid in applied.items():  # a distractor that is the same paper (its abstract begins alike) is right
        if rid != made[key].record_id and _opening(abstracts.get(key, "")) == _opening(by_key[key].abstract):
            applied[key] = made[key].record_id
    right = sum(1 for key, rid in applied.items() if made[key].record_id == rid)
    statuses: dict[str, int] = {}
    for outcome in report["outcomes"]:
        statuses[outcome["status"]] = statuses.get(outcome["status"], 0) + 1
    by_change: dict[str, list[int]] = {}
    for key, m in made.items():
        for change in m.changes or ("none",):
            by_change.setdefault(change, [0, 0])[0] += 1
            by_change[change][1] += applied.get(key) == m.record_id
    lines = sum(1 for _ in snapshot.open("rb"))
    print(
        table(
            ["entries", "snapshot records", "matched", "right", "precision", "recall", "seconds", "peak MB"],
            [
                [
                    len(truth),
                    lines,
                    len(applied),
                    right,
                    f"{right / max(1, len(applied)):.4f}",
                    f"{right / max(1, len(truth)):.4f}",
                    f"{run.seconds:.1f}",
                    f"{run.peak_rss_mb:.0f}",
                ]
            ],
        )
    )
    print()
    print(table(["verdict", "entries"], [[s, n] for s, n in sorted(statuses.items())]))
    print()
    print(
        table(
            ["change made to the record", "entries", "recall"],
            [[c, n, f"{k / n:.3f}"] for c, (n, k) in sorted(by_change.items())],
        )
    )
    wrong = [(key, rid, made[key].record_id) for key, rid in applied.items() if made[key].record_id != rid]
    for key, got, expected in wrong[:10]:
        print(f"wrong: {key}: {got} instead of {expected}", file=sys.stderr)
    if args.recall:
        print()
        print(recall_effect(args.truth[0], args.recall.split(","), distractors, scratch, args.seed))


if __name__ == "__main__":
    main()
