"""The corpus split committed in data/splits: by paper, disjoint, stratified by field, fixed by its seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citerec.errors import InputError
from citerec.train.splits import PARTS, coarse_field, make_split, manifest_fields, read_split, select

REPO = Path(__file__).resolve().parents[1]
CORPUS_SPLIT = REPO / "data" / "splits" / "corpus.json"

CORPUS_MANIFEST = REPO.parent / "shared" / "corpus" / "MANIFEST.tsv"


def _manifest(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "MANIFEST.tsv"
    path.write_text("name\trepo\tfield\n" + "".join(f"{n}\towner/{n}\t{f}\n" for n, f in rows), encoding="utf-8")
    return path


def test_the_committed_split_is_disjoint_and_stratified() -> None:
    split = read_split(CORPUS_SPLIT)
    names = [name for part in PARTS for name in split.parts[part]]
    assert len(names) == len(set(names)) >= 148  # disjoint, every paper once
    assert {part: len(split.parts[part]) for part in PARTS} == {"train": 103, "dev": 15, "test": 30}
    for field, counts in split.fields.items():
        n = sum(counts.values())
        assert counts["train"] >= 1, field
        assert abs(counts["test"] - 0.2 * n) < 1 and abs(counts["dev"] - 0.1 * n) < 1, (field, counts)
    assert sum(sum(counts.values()) for counts in split.fields.values()) == len(names)


@pytest.mark.skipif(not CORPUS_MANIFEST.is_file(), reason="shared corpus absent")
def test_the_committed_split_covers_the_corpus_and_follows_from_its_seed() -> None:
    fields = manifest_fields(CORPUS_MANIFEST)
    split = read_split(CORPUS_SPLIT)
    assert {name for part in PARTS for name in split.parts[part]} == set(fields)
    for part in PARTS:
        for field, counts in split.fields.items():
            assert sum(fields[name] == field for name in split.parts[part]) == counts[part]
    again = make_split(fields, split.seed)
    assert again == split
    assert json.loads(CORPUS_SPLIT.read_text(encoding="utf-8")) == again.to_json()


def test_a_split_is_fixed_by_its_seed_and_keeps_every_field_training(tmp_path: Path) -> None:
    rows = [(f"p{i:02d}", f"physics / topic {i}") for i in range(20)]
    rows += [(f"b{i:02d}", "biology / cells (PhD thesis)") for i in range(10)]
    rows += [("lone", "psychology (PhD thesis)")]
    fields = manifest_fields(_manifest(tmp_path, rows))
    assert fields["lone"] == "psychology" and coarse_field("machine learning (PhD thesis)") == "machine learning"
    first, again, other = make_split(fields, 1), make_split(fields, 1), make_split(fields, 2)
    assert first == again and first.parts != other.parts
    assert first.fields == {
        "biology": {"train": 7, "dev": 1, "test": 2},
        "physics": {"train": 14, "dev": 2, "test": 4},
        "psychology": {"train": 1, "dev": 0, "test": 0},  # a field of one paper trains
    }
    assert select(["zz", *first.parts["test"]], first, "test") == list(first.parts["test"])
    with pytest.raises(InputError, match="not in the collection"):
        select(["zz"], first, "test")
    with pytest.raises(InputError, match="unknown split part 'val'"):
        first.names("val")


def test_bad_input_is_named_by_file_and_line(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, [("a", "physics / x"), ("a", "biology / y")])
    with pytest.raises(InputError, match=r"MANIFEST.tsv:3: paper 'a' listed twice"):
        manifest_fields(manifest)
    bad = tmp_path / "bad.json"
    bad.write_text('{"seed": 1, "train": []}')
    with pytest.raises(InputError, match=r"bad.json: not a split file \(KeyError"):
        read_split(bad)
