"""`citerec library import-zotero`: a fixture zotero.sqlite (Zotero's userdata schema) read through the library
API and the CLI: fields, keys (Better BibTeX's, else generated and kept), what is skipped, and Zotero's files
left as they were, even while locked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from citerec.errors import InputError
from citerec.ingest import import_bibtex
from citerec.ingest.bibtex import read_bibtex
from citerec.ingest.zotero import MAX_USERDATA, import_zotero, read_zotero
from citerec.library import Library
from tests.helpers.zotero import Creator, Item, better_bibtex, build_zotero

SNAPSHOT = Path(__file__).parent / "fixtures" / "arxiv" / "snapshot.jsonl"

RESNET = Item(
    "RESNET01",
    "journalArticle",
    {
        "title": "Deep Residual Learning for <i>Image</i> Recognition",
        "abstractNote": "Deeper neural networks are more difficult to train.\n\nWe present a residual framework.",
        "date": "2016-06-00 June 2016",
        "publicationTitle": "Journal of Vision Things",
        "volume": "12",
        "pages": "770-778",
        "DOI": "https://doi.org/10.1109/CVPR.2016.90",
        "extra": "Citation Key: he2016deep\nPMID: 123",
    },
    creators=(
        Creator("Kaiming", "He"),
        Creator("Xiangyu", "Zhang"),
        Creator("Shaoqing", "Ren"),
        Creator("Jian", "Sun"),
    ),
    tags=("vision", "residual"),
)
ATTENTION = Item(
    "ATTN0001",
    "conferencePaper",
    {
        "title": "Attention Is All You Need",
        "abstractNote": "The dominant sequence transduction models are based on recurrent networks.",
        "date": "2017-00-00 2017",
        "proceedingsTitle": "Advances in Neural Information Processing Systems 30",
        "publisher": "Curran Associates",
        "url": "https://papers.nips.cc/paper/7181",
        "extra": "arXiv: 1706.03762",
    },
    creators=(Creator("Ashish", "Vaswani"), Creator("Noam", "Shazeer"), Creator("I.", "Guyon", role="editor")),
    collections=("Transformers",),
)
REPORT = Item(
    "WHO00001",
    "book",
    {"title": "Global Report on Infection Prevention", "date": "2022-00-00 2022", "publisher": "WHO Press"},
    creators=(Creator("", "World Health Organization", single_field=True),),
)
BERT = Item(
    "BERT0001",
    "preprint",
    {
        "title": "BERT: Pre-training of Deep Bidirectional Transformers",
        "date": "2018-10-11 2018-10-11",
        "repository": "arXiv",
        "archiveID": "arXiv:1810.04805",
        "url": "http://arxiv.org/abs/1810.04805",
        "DOI": "10.48550/arXiv.1810.04805",
    },
    creators=(Creator("Jacob", "Devlin"), Creator("Ming-Wei", "Chang")),
    collections=("Encoders",),
)
SIDE_ITEMS = (
    Item("NOTE0001", "note", parent="RESNET01"),
    Item("PDF00001", "attachment", {"title": "Full Text PDF"}, parent="RESNET01"),
    Item("ANNO0001", "annotation", parent="PDF00001"),
    Item("TRASH001", "journalArticle", {"title": "A Paper Thrown Away", "date": "2020"}, in_trash=True),
    Item("FEED0001", "journalArticle", {"title": "Something From a Feed"}, library_id=2),
)
COLLECTIONS: dict[str, str | None] = {"Transformers": None, "Encoders": "Transformers", "Vision": None}


def _zotero(folder: Path, *, userdata: int | None = None) -> Path:
    items = (RESNET, ATTENTION, REPORT, BERT, *SIDE_ITEMS)
    extra = {"userdata": userdata} if userdata is not None else {}
    return build_zotero(folder, items, collections=COLLECTIONS, feed_library=True, **extra)


def _state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the Zotero folder: its bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture
def zotero_dir(tmp_path: Path) -> Path:
    _zotero(tmp_path / "Zotero")
    better_bibtex(tmp_path / "Zotero", {"BERT0001": "devlin2019bert"})
    return tmp_path / "Zotero"


def test_items_become_papers_with_their_fields(zotero_dir: Path):
    read = read_zotero(zotero_dir / "zotero.sqlite")
    papers = {p.title: p for p in read.papers}
    assert list(papers) == [
        "Deep Residual Learning for Image Recognition",
        "Attention Is All You Need",
        "Global Report on Infection Prevention",
        "BERT: Pre-training of Deep Bidirectional Transformers",
    ]
    resnet, attention, report, bert = papers.values()
    assert resnet.key == "he2016deep" and bert.key == "devlin2019bert"
    assert attention.key == "" and report.key == ""  # given on import
    assert resnet.abstract == "Deeper neural networks are more difficult to train. We present a residual framework."
    assert resnet.authors == ("Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun")
    assert (resnet.year, attention.year, report.year, bert.year) == (2016, 2017, 2022, 2018)
    assert resnet.doi == "10.1109/cvpr.2016.90" and resnet.venue == "Journal of Vision Things"
    assert dict(resnet.extra) == {"volume": "12", "pages": "770-778"}
    assert resnet.keywords == ("residual", "vision")
    assert attention.arxiv_id == "1706.03762" and bert.arxiv_id == "1810.04805"
    assert attention.authors == ("Ashish Vaswani", "Noam Shazeer")
    assert dict(attention.extra) == {"editor": "I. Guyon", "publisher": "Curran Associates"}
    assert attention.venue == "Advances in Neural Information Processing Systems 30"
    assert report.authors == ("World Health Organization",) and report.venue == "WHO Press"
    assert [p.entry_type for p in papers.values()] == ["article", "inproceedings", "book", "misc"]
    assert resnet.source == "zotero:1/RESNET01"
    assert dict(read.skipped) == {"annotation": 1, "attachment": 1, "feed item": 1, "note": 1, "trashed item": 1}
    assert read.schema_version == 123 and read.keyed == 2 and read.better_bibtex


def test_import_keys_match_better_bibtex_and_a_reimport_changes_nothing(zotero_dir: Path, tmp_path: Path):
    library = Library(tmp_path / "lib")
    first = import_zotero(library, zotero_dir)
    keys = ["he2016deep", "vaswani2017attention", "organization2022global", "devlin2019bert"]
    assert list(first.report.added) == keys and library.keys() == keys
    assert library.get("vaswani2017attention").abstract.startswith("The dominant sequence")
    version = library.version()

    again = import_zotero(library, zotero_dir)
    assert again.report.added == again.report.updated == again.report.duplicates == ()
    assert list(again.report.unchanged) == keys and again.rekeyed == ()
    assert library.version() == version and library.keys() == keys


def test_an_item_keeps_its_generated_key_until_better_bibtex_gives_it_one(tmp_path: Path):
    folder = tmp_path / "Zotero"
    _zotero(folder)
    library = Library(tmp_path / "lib")
    assert "devlin2018bert" in import_zotero(library, folder).report.added
    edited = Item(
        BERT.key, BERT.type, {**BERT.fields, "title": "BERT: Pre-training of Deep Transformers"}, BERT.creators
    )
    build_zotero(tmp_path / "edited", (RESNET, ATTENTION, REPORT, edited), collections=COLLECTIONS)
    assert import_zotero(library, tmp_path / "edited").report.updated == ("devlin2018bert",)  # same key, new title

    better_bibtex(folder, {"BERT0001": "devlin2019bert"})
    result = import_zotero(library, folder)
    assert result.rekeyed == (("devlin2018bert", "devlin2019bert"),)
    assert "devlin2018bert" not in library and library.get("devlin2019bert").arxiv_id == "1810.04805"
    assert len(library) == 4


def test_keys_of_the_users_bib_stay_and_duplicates_merge(zotero_dir: Path, tmp_path: Path):
    bib = tmp_path / "refs.bib"
    bib.write_text(
        "@article{he2016deep, title = {Deep Residual Learning}, author = {He, Kaiming}, year = {2016}}\n"
        "@misc{vaswani2017, title = {Attention Is All You Need}, author = {Vaswani, Ashish}, year = {2017},\n"
        "  eprint = {1706.03762}, archivePrefix = {arXiv}}\n"
    )
    library = Library(tmp_path / "lib")
    import_bibtex(library, bib)
    report = import_zotero(library, zotero_dir).report
    assert report.updated == ("he2016deep", "vaswani2017")  # the same key replaced; a duplicate fills the .bib's
    assert report.duplicates == (("vaswani2017attention", "vaswani2017"),)
    assert library.get("vaswani2017").abstract.startswith("The dominant")  # merged into the .bib's key
    assert sorted(library.keys()) == ["devlin2019bert", "he2016deep", "organization2022global", "vaswani2017"]
    again = import_zotero(library, zotero_dir).report
    assert not again.changed and again.duplicates == report.duplicates


def test_a_key_two_items_share_stays_the_firsts(tmp_path: Path):
    fields = {
        "title": "Identity Mappings in Deep Residual Networks",
        "date": "2016",
        "extra": "Citation Key: he2016deep",
    }
    twin = Item("TWIN0001", "journalArticle", fields, RESNET.creators)
    folder = tmp_path / "Zotero"
    build_zotero(folder, (RESNET, twin))
    (folder / "better-bibtex.sqlite").write_text("not a database, an old Better BibTeX's leftovers")
    result = import_zotero(Library(tmp_path / "lib"), folder)
    assert result.report.added == ("he2016deep", "he2016identity")
    assert result.warnings == (
        "he2016deep: the key of two Zotero items (zotero:1/RESNET01, zotero:1/TWIN0001); the second gets its own",
    )
    assert len(result.read.warnings) == 1 and "better-bibtex.sqlite: not read (" in result.read.warnings[0]
    assert not result.read.better_bibtex


def test_zoteros_files_are_never_changed_even_while_locked(zotero_dir: Path, tmp_path: Path):
    before = _state(zotero_dir)
    holder = sqlite3.connect(zotero_dir / "zotero.sqlite", isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")  # as Zotero holds it: no other connection may even read
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(f"file:{zotero_dir / 'zotero.sqlite'}?mode=ro", uri=True, timeout=0).execute(
                "SELECT 1 FROM items"
            ).fetchall()
        result = import_zotero(Library(tmp_path / "lib"), zotero_dir)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(result.report.added) == 4
    assert _state(zotero_dir) == before  # no byte, no time stamp, no -wal/-shm/-journal file left beside


def test_what_is_still_in_the_wal_journal_is_read(tmp_path: Path):
    folder = tmp_path / "Zotero"
    path = build_zotero(folder, (RESNET,))
    writer = sqlite3.connect(path)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute(
            "UPDATE itemDataValues SET value = 'Deep Residual Learning, Revised' WHERE value LIKE 'Deep Residual%'"
        )
        writer.commit()
        assert (folder / "zotero.sqlite-wal").stat().st_size > 0
        read = read_zotero(folder)
    finally:
        writer.close()
    assert [p.title for p in read.papers] == ["Deep Residual Learning, Revised"]


def test_collection_takes_its_subcollections(zotero_dir: Path, tmp_path: Path):
    read = read_zotero(zotero_dir, collection="transformers")
    assert [p.key for p in read.papers] == ["", "devlin2019bert"]
    assert [p.title for p in read_zotero(zotero_dir, collection="Encoders").papers] == [BERT.fields["title"]]
    with pytest.raises(InputError, match=r"no collection named 'Nope' \(there are: Encoders, Transformers, Vision\)"):
        read_zotero(zotero_dir, collection="Nope")


def test_unknown_schema_versions_are_refused(tmp_path: Path):
    for version in (MAX_USERDATA + 1, 79):
        path = _zotero(tmp_path / str(version), userdata=version)
        with pytest.raises(InputError) as caught:
            read_zotero(path)
        assert str(caught.value).startswith(f"{path}: Zotero userdata schema version {version} is not one citerec")


# -- the command line ----------------------------------------------------------


def test_cli_import_reports_keys_and_skipped_items(run, zotero_dir: Path):
    result = run("import-zotero", str(zotero_dir))
    assert result.exit_code == 0, result.output
    read = f"{zotero_dir / 'zotero.sqlite'} (Zotero schema 123): 4 items read, 2 with a Better BibTeX key"
    assert f"{read} (better-bibtex.sqlite read)" in result.stderr
    assert "skipped 1 annotation, 1 attachment, 1 feed item, 1 note, 1 trashed item" in result.stderr
    assert "4 added, 0 updated, 0 unchanged, 0 duplicates; the library holds 4 papers" in result.stderr
    papers = json.loads(run("list", "--format", "json").stdout)
    assert [p["key"] for p in papers] == [
        "he2016deep",
        "vaswani2017attention",
        "organization2022global",
        "devlin2019bert",
    ]

    again = run("import-zotero", str(zotero_dir / "zotero.sqlite"))
    assert "0 added, 0 updated, 4 unchanged, 0 duplicates" in again.stderr

    exported = run("export", "vaswani2017attention", "he2016deep").stdout
    assert exported.startswith("@inproceedings{vaswani2017attention,") and "editor" in exported
    back = {p.key: p for p in read_bibtex_text(exported, zotero_dir.parent)}
    assert back["he2016deep"].doi == "10.1109/cvpr.2016.90" and back["vaswani2017attention"].arxiv_id == "1706.03762"


def read_bibtex_text(text: str, folder: Path):
    path = folder / "exported.bib"
    path.write_text(text, encoding="utf-8")
    return read_bibtex(path).papers


def test_cli_collection_default_folder_and_enrich(run, zotero_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(zotero_dir.parent))  # the default: ~/Zotero
    monkeypatch.setenv("USERPROFILE", str(zotero_dir.parent))
    result = run("import-zotero", "--collection", "Transformers", "--enrich", "--source", f"snapshot:{SNAPSHOT}")
    assert result.exit_code == 0, result.output
    assert "2 items read" in result.stderr and "2 added" in result.stderr
    assert "snapshot:" in result.stderr  # enrich's summary followed

    empty = run("import-zotero", str(zotero_dir), "--collection", "Vision")
    assert empty.exit_code == 1 and "no items to import in collection 'Vision'" in empty.stderr


def test_cli_errors_are_one_line_with_the_path(run, tmp_path: Path):
    missing = run("import-zotero", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1
    assert f"{tmp_path / 'nowhere'}: no such file" in missing.stderr and "Traceback" not in missing.output

    folder = tmp_path / "empty"
    folder.mkdir()
    no_database = run("import-zotero", str(folder))
    assert no_database.exit_code == 1 and f"{folder / 'zotero.sqlite'}: no such file" in no_database.stderr

    newer = _zotero(tmp_path / "newer", userdata=MAX_USERDATA + 7)
    refused = run("import-zotero", str(newer))
    assert refused.exit_code == 1
    assert f"{newer}: Zotero userdata schema version {MAX_USERDATA + 7} is not one citerec reads" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    junk = tmp_path / "junk" / "zotero.sqlite"
    junk.parent.mkdir()
    junk.write_bytes(b"not a database at all" * 100)
    broken = run("import-zotero", str(junk))
    assert broken.exit_code == 1 and f"{junk}: cannot be read as a Zotero database" in broken.stderr
