"""A collection of real papers for training and evaluation: a folder with a MANIFEST.tsv.

Each row names a paper (`name`), its files (`paths`: the main .tex first, the
.bib files it cites from among them) and, in the corpus, its `field`. A split
file (`citerec.train.splits`) picks the papers of one part. The manifest's hash (of the rows used) goes into every model
trained on it, so a model says exactly which papers made it.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from citerec.errors import InputError


@dataclass(frozen=True)
class CollectionPaper:
    """One paper of a collection: its name, main .tex, own .bib files, field ("" when not given) and manifest row."""

    name: str
    tex: Path
    bibs: tuple[Path, ...]
    field: str = ""
    row: str = ""  # the manifest line, as hashed


def read_collection(folder: Path, names: Sequence[str] | None = None) -> list[CollectionPaper]:
    """The papers listed in `folder`/MANIFEST.tsv (only `names`, in manifest order, when given)."""
    manifest = Path(folder) / "MANIFEST.tsv"
    if not manifest.is_file():
        raise InputError("no MANIFEST.tsv: not a collection of papers", str(folder))
    papers = []
    with manifest.open(encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle, delimiter="\t"), start=2):
            if not row.get("name") or not row.get("paths"):
                raise InputError("a row without name or paths", str(manifest), line)
            paths = row["paths"].split(",")
            base = Path(folder) / row["name"]
            bibs = tuple(base / p for p in paths if p.endswith(".bib"))
            text = "\t".join(f"{k}={row[k]}" for k in ("name", "repo", "commit", "paths") if row.get(k))
            papers.append(CollectionPaper(row["name"], base / paths[0], bibs, row.get("field", "") or "", text))
    if names is not None:
        wanted = set(names)
        missing = wanted - {p.name for p in papers}
        if missing:
            raise InputError(f"papers not in the manifest: {', '.join(sorted(missing)[:5])}", str(manifest))
        papers = [p for p in papers if p.name in wanted]
    return papers


def manifest_hash(papers: Sequence[CollectionPaper]) -> str:
    """SHA-256 of the papers' manifest rows (name, repository, commit, paths), in order."""
    return hashlib.sha256("\n".join(p.row for p in papers).encode("utf-8")).hexdigest()


def paper_bounds(papers: Sequence[CollectionPaper]) -> list[tuple[int, int]]:
    """Each paper's slice of the .bib files of all `papers` in order (the pooled library's key maps)."""
    return list(itertools.pairwise(itertools.accumulate((len(p.bibs) for p in papers), initial=0)))
