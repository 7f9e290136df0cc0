"""Re-runs as fast as the edit is small: `citerec suggest` cold, again unchanged, again after one edit.

A real thesis with a library of about 2,000 entries (its own .bib pooled with
other real .bib files), recall only, the CLI as a user runs it (a child
process each time):

1. cold: a fresh library folder (import, embed every paper, recall every passage);
2. again with nothing changed (the .bib files are skipped, every passage's
   candidates come from the recall cache);
3. again after editing one paragraph (only its passages are embedded and recalled).

The three steps run twice, with the draft evidence on (the default) and off, and a
second table gives each step's time with the evidence against without it, and the
edited re-run against the first run. `--compare-plans` runs the three steps again
with `--plan passage`, to price the reading-plan choice.

The ratio column compares each run with the cold one. The draft is copied to a
temporary folder first, so the edit never touches the original.

    python benchmarks/rerun.py ../shared/eval/papers [--compare-plans]
    python benchmarks/rerun.py PAPERS --draft amos-thesis-diffopt/thesis.tex --bib amos-thesis-diffopt/refs.bib
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import citerec, table  # noqa: E402

DEFAULT_DRAFT = "billington-thesis-cold-atoms/thesis.tex"
DEFAULT_BIBS = (
    "billington-thesis-cold-atoms/zotero.bib",
    "dolson2019-modes-toolbox/paper/dolson_Zotero.bib",
    "amos-thesis-diffopt/refs.bib",
    "allen-thesis-urban-thermal/library.bib",
)
_CITING_LINE = re.compile(r"^(?!\s*%).*\\cite[a-zA-Z]*\{.*\bthe\b", re.MULTILINE)


def edit_one_paragraph(draft_dir: Path, main: Path) -> Path:
    """Change one word in the first citing line of an included file (else the main file)."""
    candidates = sorted(p for p in draft_dir.rglob("*.tex") if p != main) + [main]
    for path in candidates:
        text = path.read_text(encoding="utf-8", errors="replace")
        match = _CITING_LINE.search(text)
        if match:
            line = match.group(0)
            edited = re.sub(r"\bthe\b", "this", line, count=1)
            path.write_text(text[: match.start()] + edited + text[match.end() :], encoding="utf-8")
            return path
    sys.exit(f"{draft_dir}: no citing line to edit")


def run_sequence(papers: Path, draft: str, bibs: list[Path], extra: list[str]) -> list[list]:
    """Cold, unchanged and edited runs in a fresh copy: (label, passages, seconds, CPU s, peak MB) each."""
    source_dir = (papers / draft).parent
    with tempfile.TemporaryDirectory(prefix="citerec-rerun-") as tmp:
        draft_dir = Path(tmp) / "draft"
        shutil.copytree(source_dir, draft_dir)
        main_file = draft_dir / Path(draft).name
        library = Path(tmp) / "library"
        command = ["suggest", str(main_file), "-L", str(library), "--rerank", "off", "--format", "json", *extra]
        for bib in bibs:
            command += ["--bib", str(bib)]
        rows = []
        for label in ("cold (fresh library)", "again, nothing changed", "again, one paragraph edited"):
            if label.endswith("edited"):
                edited = edit_one_paragraph(draft_dir, main_file)
                label += f" ({edited.relative_to(draft_dir)})"
            result = citerec(*command)
            passages = len(json.loads(result.stdout)["contexts"])
            rows.append([label, passages, result.seconds, result.cpu_seconds, result.peak_rss_mb])
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("papers", type=Path, help="the shared eval papers folder")
    parser.add_argument("--draft", default=DEFAULT_DRAFT, help="draft, relative to PAPERS")
    parser.add_argument("--bib", action="append", default=None, help="library .bib files, relative to PAPERS")
    parser.add_argument(
        "--compare-plans", action="store_true", help="also run with --plan passage and give the plan choice's cost"
    )
    args = parser.parse_args()
    bibs = [args.papers / b for b in (args.bib or DEFAULT_BIBS)]
    runs = run_sequence(args.papers, args.draft, bibs, [])
    cold = runs[0][2]
    rows = [
        [label, passages, f"{seconds:.1f}", f"{cpu:.1f}", f"{rss:.0f}", f"{cold / seconds:.1f}x"]
        for label, passages, seconds, cpu, rss in runs
    ]
    entries = sum(
        1
        for bib in bibs
        for line in bib.read_text(errors="replace").splitlines()
        if line.lstrip().startswith("@") and not line.lstrip().lower().startswith(("@string", "@comment", "@preamble"))
    )
    print(f"\n## citerec suggest {args.draft}: {len(bibs)} .bib files, ~{entries} entries, recall only\n")
    print(table(["run", "passages", "seconds", "CPU s", "peak MB (tree)", "speed-up vs cold"], rows))
    off = run_sequence(args.papers, args.draft, bibs, ["--draft-evidence", "off"])
    evidence = [
        [on[0], f"{on[2]:.1f}", f"{plain[2]:.1f}", f"{on[2] / plain[2]:.2f}x", f"{on[2] / cold:.2f}"]
        for on, plain in zip(runs, off, strict=True)
    ]
    print("\n## The draft evidence: each step with it on (the default) and off\n")
    print(table(["run", "seconds (on)", "seconds (off)", "on / off", "share of the first run (on)"], evidence))
    if args.compare_plans:
        plain = run_sequence(args.papers, args.draft, bibs, ["--plan", "passage"])
        compared = [
            [with_plan[0], f"{with_plan[2]:.1f}", f"{without[2]:.1f}", f"{with_plan[2] / without[2]:.2f}x"]
            for with_plan, without in zip(runs, plain, strict=True)
        ]
        print("\n## The reading-plan choice: default (--plan auto) against --plan passage, same steps\n")
        print(table(["run", "seconds (auto)", "seconds (passage)", "time ratio"], compared))


if __name__ == "__main__":
    main()
