"""Bulk import at scale: many .bib files (ACM-CR: 903 files, 113k entries) and a streamed arXiv snapshot.

Part 1 runs `citerec library import` on every .bib file under DIR into a fresh
library, as a user would (a child process), once with one process (`--jobs 1`,
the baseline) and once with the default worker pool, then once more with
nothing changed (every file skipped). It prints wall time, entries/s, the peak
memory of the whole process tree and the speed-up over `--jobs 1`.

Part 2 streams an arXiv metadata snapshot (the Kaggle JSON-lines format) into a
library with `citerec library import-arxiv-snapshot`. No real snapshot ships
here, so the records are made from the library of part 1 (real titles,
abstracts and authors, arXiv-style ids), at two sizes: equal peak memory at
both sizes is what "memory stays flat" means.

    python benchmarks/import_scale.py ../acm-cr/data/acm-dl
    python benchmarks/import_scale.py DIR --files 100 --snapshot 20000
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import citerec, table  # noqa: E402

from citerec.library import Library  # noqa: E402


def bib_files(folder: Path, limit: int | None) -> list[Path]:
    files = sorted(folder.rglob("*.bib"))
    if not files:
        sys.exit(f"{folder}: no .bib files")
    return files[:limit] if limit else files


def count_entries(files: list[Path]) -> int:
    pattern = re.compile(rb"^\s*@(?!string|comment|preamble)\w+\s*[{(]", re.IGNORECASE | re.MULTILINE)
    return sum(len(pattern.findall(path.read_bytes())) for path in files)


def bibtex_part(files: list[Path], scratch: Path) -> Path:
    entries = count_entries(files)
    rows = []
    baseline = None
    library_dir = scratch / "bib-1"
    for label, jobs, folder in (
        ("one process (--jobs 1)", "1", scratch / "bib-1"),
        ("worker pool (default)", None, scratch / "bib-n"),
        ("again, nothing changed", None, scratch / "bib-n"),
    ):
        args = ["library", "import", *map(str, files), "-L", str(folder)]
        result = citerec(*args, *(["--jobs", jobs] if jobs else []))
        papers = len(Library(folder))
        baseline = baseline or result.seconds
        rows.append(
            [
                label,
                len(files),
                entries,
                papers,
                f"{result.seconds:.1f}",
                f"{result.cpu_seconds:.1f}",
                f"{entries / result.seconds:.0f}",
                f"{result.peak_rss_mb:.0f}",
                f"{baseline / result.seconds:.2f}x",
            ]
        )
        library_dir = folder
    print("\n## BibTeX import\n")
    print(
        table(
            ["run", "files", "entries", "papers", "seconds", "CPU s", "entries/s", "peak MB (tree)", "vs --jobs 1"],
            rows,
        )
    )
    return library_dir


def write_snapshot(library_dir: Path, path: Path, records: int) -> None:
    """`records` snapshot lines made from the library's papers (repeated with new ids when too few)."""
    papers = Library(library_dir)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < records:
            for paper in papers.iter_papers():
                if written >= records:
                    break
                yymm = f"{(written // 99999) % 100:02d}{(written // 9999) % 12 + 1:02d}"
                record = {
                    "id": f"{yymm}.{written % 99999:05d}",
                    "authors": ", ".join(paper.authors),
                    "title": paper.title,
                    "abstract": paper.abstract,
                    "categories": "cs.IR cs.DL",
                    "journal-ref": None,
                    "doi": None,
                    "versions": [{"version": "v1", "created": f"Mon, 1 Jan {paper.year or 2020} 00:00:00 GMT"}],
                }
                out.write(json.dumps(record) + "\n")
                written += 1


def snapshot_part(library_dir: Path, scratch: Path, sizes: list[int]) -> None:
    rows = []
    for records in sizes:
        snapshot = scratch / f"snapshot-{records}.jsonl"
        write_snapshot(library_dir, snapshot, records)
        result = citerec("library", "import-arxiv-snapshot", str(snapshot), "-L", str(scratch / f"arxiv-{records}"))
        rows.append(
            [
                records,
                f"{snapshot.stat().st_size / 2**20:.0f}",
                f"{result.seconds:.1f}",
                f"{result.cpu_seconds:.1f}",
                f"{records / result.seconds:.0f}",
                f"{result.peak_rss_mb:.0f}",
            ]
        )
    print("\n## arXiv snapshot, streamed\n")
    print(table(["records", "file MB", "seconds", "CPU s", "records/s", "peak MB (tree)"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of .bib files (e.g. ACM-CR's data/acm-dl)")
    parser.add_argument("--files", type=int, default=None, help="import only the first N files")
    parser.add_argument(
        "--snapshot", default="25000,100000", help="snapshot sizes (records, comma-separated; 0 to skip)"
    )
    args = parser.parse_args()
    files = bib_files(args.folder, args.files)
    with tempfile.TemporaryDirectory(prefix="citerec-import-") as tmp:
        scratch = Path(tmp)
        library_dir = bibtex_part(files, scratch)
        sizes = [int(s) for s in args.snapshot.split(",") if int(s) > 0]
        if sizes:
            snapshot_part(library_dir, scratch, sizes)


if __name__ == "__main__":
    main()
