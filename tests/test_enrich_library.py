"""What enrichment writes into a library: only empty fields, with provenance; reverts; re-imports; the cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citerec.enrich.run import enrich_library
from citerec.enrich.sources import SnapshotSource
from citerec.library import Library
from citerec.library_db import SCHEMA_VERSION
from citerec.library_enriched import FILLABLE, Fill
from citerec.papers import Paper
from tests.helpers.libraries import made_older, schema_version

SNAPSHOT = Path(__file__).parent / "fixtures" / "arxiv" / "snapshot.jsonl"
VASWANI = Paper("vaswani2017", "Attention is {All} you Need", authors=("Vaswani, Ashish",), year=2017, venue="NeurIPS")
KARPUKHIN = Paper("karpukhin", "Dense passage retrieval for open-domain question answering", authors=("V. Karpukhin",))


class FakeSource:
    """An online source answering from a dict, counting what it was asked."""

    name = "openalex"

    def __init__(self, answers: dict[str, list[Paper]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def request(self, entry: Paper) -> str | None:
        return f"title:{entry.title.lower()}"

    def fetch(self, entry: Paper) -> list[Paper]:
        self.asked.append(entry.key)
        return self.answers.get(entry.key, [])


def _library(tmp_path: Path, *papers: Paper) -> Library:
    library = Library(tmp_path / "lib")
    library.add(papers or (VASWANI, KARPUKHIN))
    return library


def test_a_snapshot_fills_empty_fields_only_and_records_where_each_came_from(tmp_path: Path) -> None:
    library = _library(tmp_path)
    before = dict(library.content_hashes())
    report = enrich_library(library, [SnapshotSource(SNAPSHOT)])
    paper = library.get("vaswani2017")
    assert paper.abstract.startswith("The dominant sequence") and paper.arxiv_id == "1706.03762"
    assert paper.venue == "NeurIPS" and paper.title == VASWANI.title  # the user's own fields stay
    fills = {(f.key, f.field): f for f in library.filled()}
    assert set(fills) == {(f.key, f.field) for f in report.fills}
    assert fills["karpukhin", "year"].value == 2020 and fills["karpukhin", "year"].record == "arxiv:2004.04906"
    assert fills["vaswani2017", "abstract"].matched_by == "title" and fills["vaswani2017", "abstract"].filled_at
    changed = {k for k, h in library.content_hashes() if before[k] != h}
    assert changed == {"vaswani2017", "karpukhin"}  # what the index build re-embeds
    assert report.counts()["snapshot"]["filled"] == 2 and any("snapshot.jsonl:3" in p for p in report.problems)


def test_a_dry_run_changes_nothing(tmp_path: Path) -> None:
    library = _library(tmp_path)
    version = library.version()
    report = enrich_library(library, [SnapshotSource(SNAPSHOT)], dry_run=True)
    assert report.fills and library.version() == version and not library.filled()
    assert library.get("karpukhin") == KARPUKHIN


def test_revert_empties_what_a_source_filled_unless_the_user_changed_it_since(tmp_path: Path) -> None:
    library = _library(tmp_path)
    enrich_library(library, [SnapshotSource(SNAPSHOT)])
    edited = dataclasses.replace(library.get("vaswani2017"), abstract="My own summary.")
    library.add([edited])  # the user writes an abstract over the filled one
    reverted = library.revert_fills("snapshot")
    assert ("vaswani2017", "abstract") not in {(f.key, f.field) for f in reverted}
    assert library.get("vaswani2017").abstract == "My own summary." and library.get("vaswani2017").arxiv_id == ""
    assert library.get("karpukhin") == KARPUKHIN and not library.filled()


def test_a_reimported_entry_keeps_what_was_filled(tmp_path: Path) -> None:
    library = _library(tmp_path)
    enrich_library(library, [SnapshotSource(SNAPSHOT)])
    library.add([dataclasses.replace(KARPUKHIN, venue="ACL")])  # the .bib changed: a venue now, still no abstract
    paper = library.get("karpukhin")
    assert paper.venue == "ACL" and paper.abstract.startswith("Open-domain") and paper.year == 2020
    assert "venue" not in {f.field for f in library.filled(["karpukhin"])}
    library.remove(["karpukhin"])
    assert not library.filled(["karpukhin"])


def test_online_answers_are_cached_so_a_rerun_asks_nothing_twice(tmp_path: Path) -> None:
    library = _library(tmp_path)
    record = Paper("openalex:W1", "Attention is all you need", "The abstract.", ("Ashish Vaswani",), 2017)
    source = FakeSource({"vaswani2017": [record]})
    first = enrich_library(library, [source], dry_run=True)
    assert source.asked == ["vaswani2017", "karpukhin"] and first.counts()["openalex"]["not found"] == 1
    second = enrich_library(library, [source])
    assert source.asked == ["vaswani2017", "karpukhin"] and second.fills
    assert library.get("vaswani2017").abstract == "The abstract."
    assert library.cached_answer("openalex", "title:never asked") is None


def test_a_failing_source_is_reported_and_not_cached(tmp_path: Path) -> None:
    from citerec.enrich.http import SourceError

    class Down(FakeSource):
        def fetch(self, entry: Paper) -> list[Paper]:
            self.asked.append(entry.key)
            raise SourceError("openalex: HTTP 503 (4 tries)")

    library = _library(tmp_path)
    down = Down({})
    report = enrich_library(library, [down])
    assert report.counts()["openalex"]["failed"] == 2 and not library.filled()
    enrich_library(library, [down])
    assert down.asked == ["vaswani2017", "karpukhin"] * 2


def test_sources_run_in_order_and_later_ones_see_what_earlier_ones_filled(tmp_path: Path) -> None:
    library = _library(tmp_path)
    online = FakeSource({})
    report = enrich_library(library, [SnapshotSource(SNAPSHOT), online], keys=["karpukhin"])
    assert online.asked == [] and {o.key for o in report.outcomes} == {"karpukhin"}


def test_an_older_library_gains_the_tables(tmp_path: Path) -> None:
    library = _library(tmp_path)
    library.close()
    made_older(tmp_path / "lib", "DROP TABLE enriched; DROP TABLE enrich_answers; PRAGMA user_version=2;")
    library = Library(tmp_path / "lib")
    assert len(library) == 2 and not library.filled()
    assert enrich_library(library, [SnapshotSource(SNAPSHOT)]).fills
    assert schema_version(tmp_path / "lib") == SCHEMA_VERSION


_text = st.text(st.characters(codec="ascii", categories=("L", "N", "Zs")), max_size=12)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "abstract": _text,
        "doi": st.sampled_from(("", "10.1/a", "10.2/b")),
        "arxiv_id": st.sampled_from(("", "1706.03762", "2004.04906")),
        "venue": _text,
        "year": st.one_of(st.none(), st.integers(1990, 2030)),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=_fields, found=_fields)
def test_enrichment_never_changes_a_field_the_user_set(tmp_path_factory, user: dict, found: dict) -> None:
    root = tmp_path_factory.mktemp("lib")
    entry = Paper(
        "k",
        "Robust training of neural retrieval models",
        authors=("Ada Lovelace",),
        year=2020,
        **{k: v for k, v in user.items() if k != "year"},
    )
    if "year" in user:
        entry = dataclasses.replace(entry, year=user["year"])
    library = Library(root)
    library.add([entry])
    stored = library.get("k")
    record = Paper("openalex:W9", entry.title, authors=("A. Lovelace",), **{k: v for k, v in found.items()})
    enrich_library(library, [FakeSource({"k": [record]})])
    after = library.get("k")
    for name in FILLABLE:
        if getattr(stored, name) not in ("", None):
            assert getattr(after, name) == getattr(stored, name)
    assert (after.title, after.authors, after.key) == (stored.title, stored.authors, stored.key)
    assert all(isinstance(f, Fill) and getattr(stored, f.field) in ("", None) for f in library.filled())


class _Manifest:
    """What `diff_library` reads of an index manifest: (key, content hash) pairs."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.papers = pairs

    def hashes(self) -> dict[str, str]:
        return {key.lower(): digest for key, digest in self.papers}


def test_the_index_re_embeds_only_the_papers_whose_text_was_filled(tmp_path: Path) -> None:
    from citerec.index.build import diff_library

    only_an_id = Paper("ids", "Graph attention networks", "Has one.", ("Petar Velickovic",), 2018, venue="ICLR")
    library = _library(tmp_path, VASWANI, KARPUKHIN, only_an_id)
    indexed = _Manifest(library.content_hashes())
    record = Paper("openalex:W2", "Graph Attention Networks", "Other.", ("P. Velickovic",), 2018, arxiv_id="1710.10903")
    enrich_library(library, [SnapshotSource(SNAPSHOT), FakeSource({"ids": [record]})])
    assert library.get("ids").arxiv_id == "1710.10903" and library.get("ids").abstract == "Has one."
    changes = diff_library(indexed, library)  # type: ignore[arg-type]
    assert set(changes.changed) == {"vaswani2017", "karpukhin"} and not changes.added and changes.unchanged == 1


def test_a_failure_while_filling_leaves_the_library_as_it_was(tmp_path: Path) -> None:
    import pytest

    library = _library(tmp_path)
    version = library.version()
    fills = [
        Fill("vaswani2017", "abstract", "Fine.", "openalex", "title", "openalex:W1"),
        Fill("karpukhin", "abstract", object(), "openalex", "title", "openalex:W2"),  # cannot be written
    ]
    with pytest.raises(TypeError):
        library.apply_fills(fills)
    assert library.get("vaswani2017") == VASWANI and library.version() == version and not library.filled()
