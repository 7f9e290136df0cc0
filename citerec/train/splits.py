"""Fixed splits of a paper collection by paper, stratified by field: what trains, what chooses, what tests.

Anything learned is fitted on `train`, chosen on `dev`, and reported on `test` (touched once per decision).
A split file records the seed, the shares and the names in each part (names only, never the texts), so a
benchmark or a training script selects papers with `--split train|dev|test` and every run sees the same ones.

    from citerec.train.splits import read_split
    names = read_split(split_file).names("test")
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from citerec.errors import InputError

PARTS = ("train", "dev", "test")
SHARES = {"train": 0.7, "dev": 0.1, "test": 0.2}


def coarse_field(field: str) -> str:
    """`physics / cosmic-ray detection (PhD thesis)` → `physics` (and `machine learning (PhD thesis)` →
    `machine learning`): what the split stratifies by and the per-field tables group by."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", field.split(" / ", 1)[0]).strip()


@dataclass(frozen=True)
class Split:
    """A collection's papers in train, dev and test, and how they were drawn."""

    seed: int
    parts: dict[str, tuple[str, ...]]  # part → names, sorted
    fields: dict[str, dict[str, int]]  # coarse field → part → how many papers
    manifest_sha256: str = ""  # of the manifest's name and field columns: which collection was split

    def names(self, part: str) -> tuple[str, ...]:
        """The papers of one part ("train", "dev" or "test"); a one-line error for any other name."""
        if part not in self.parts:
            raise InputError(f"unknown split part {part!r}: expected one of {', '.join(PARTS)}")
        return self.parts[part]

    def to_json(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "shares": SHARES,
            "stratified_by": "coarse field (the manifest's field column before ' / ', without a closing '(...)')",
            "manifest_sha256": self.manifest_sha256,
            "fields": self.fields,
            **{part: list(self.parts[part]) for part in PARTS},
        }


def manifest_fields(manifest: Path) -> dict[str, str]:
    """Each paper's coarse field, from a MANIFEST.tsv with `name` and `field` columns."""
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    missing = [column for column in ("name", "field") if rows and column not in rows[0]]
    if not rows or missing:
        raise InputError(f"{manifest}:1: expected the columns name and field (missing: {', '.join(missing)})")
    fields: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        if row["name"] in fields:
            raise InputError(f"{manifest}:{line}: paper {row['name']!r} listed twice")
        fields[row["name"]] = coarse_field(row["field"] or "")
    return fields


def _fingerprint(fields: dict[str, str]) -> str:
    return hashlib.sha256("\n".join(f"{n}\t{f}" for n, f in sorted(fields.items())).encode()).hexdigest()


def _quotas(sizes: dict[str, int], share: float) -> dict[str, int]:
    """Papers per field for one part: the share of each field rounded down, then the papers left to reach
    the share of the whole collection go to the fields with the largest remainders (largest-remainder
    rounding; ties by field name), so the part has its share overall and in every field within one paper."""
    exact = {field: share * n for field, n in sizes.items()}
    quotas = {field: math.floor(value) for field, value in exact.items()}
    left = round(share * sum(sizes.values())) - sum(quotas.values())
    for field in sorted(exact, key=lambda f: (-(exact[f] - quotas[f]), f))[: max(left, 0)]:
        quotas[field] += 1
    return quotas


def make_split(fields: dict[str, str], seed: int) -> Split:
    """A seeded split by paper, stratified by field: within each field (in name order) the papers are
    shuffled with the seed and the first go to test, the next to dev, the rest to train. Every field keeps
    at least one training paper."""
    by_field: dict[str, list[str]] = {}
    for name, field in sorted(fields.items()):
        by_field.setdefault(field, []).append(name)
    sizes = {field: len(names) for field, names in by_field.items()}
    test, dev = _quotas(sizes, SHARES["test"]), _quotas(sizes, SHARES["dev"])
    rng = random.Random(seed)
    parts: dict[str, list[str]] = {part: [] for part in PARTS}
    counts: dict[str, dict[str, int]] = {}
    for field in sorted(by_field):
        names = list(by_field[field])
        rng.shuffle(names)
        n_test = min(test[field], len(names) - 1)
        n_dev = min(dev[field], len(names) - 1 - n_test)
        drawn = {"test": names[:n_test], "dev": names[n_test : n_test + n_dev], "train": names[n_test + n_dev :]}
        for part, chosen in drawn.items():
            parts[part] += chosen
        counts[field] = {part: len(drawn[part]) for part in PARTS}
    return Split(seed, {part: tuple(sorted(parts[part])) for part in PARTS}, counts, _fingerprint(fields))


def read_split(path: Path) -> Split:
    """A split file written by scripts/split_corpus.py; a one-line error naming the file when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        parts = {part: tuple(str(name) for name in data[part]) for part in PARTS}
        return Split(int(data["seed"]), parts, dict(data.get("fields", {})), str(data.get("manifest_sha256", "")))
    except FileNotFoundError:
        raise InputError(f"{path}: no such split file (write it with scripts/split_corpus.py)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a split file ({type(exc).__name__}: {exc})") from None


def select(names: Iterable[str], split: Split, part: str) -> list[str]:
    """The names (in their order) that belong to `part`; an error when the split names papers not there."""
    wanted = set(split.names(part))
    names = list(names)
    absent = sorted(wanted - set(names))
    if absent:
        shown = ", ".join(absent[:5])
        raise InputError(f"the {part} split names {len(absent)} paper(s) not in the collection: {shown}")
    return [name for name in names if name in wanted]
