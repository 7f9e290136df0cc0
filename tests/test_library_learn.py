"""Learning from the user's other writing (`citerec library learn`): storage, the CLI, and the ranking it feeds.

A finished draft's citing sentences are kept per paper and per draft: learning a
draft again replaces its sentences, `--forget` drops them, removing a paper drops
its own, and an older library file gains the table on open. A new draft is then
ranked with how the user described each paper before, unless the draft evidence
is off, and never with the past sentences kept from the draft itself.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.index import Index
from citerec.library import Library
from citerec.library_db import SCHEMA_VERSION
from citerec.papers import Paper
from citerec.past_sentences import CitingSentence, PastSentence, source_name
from citerec.recall import Candidate, DraftCitations, Passage, RecallSpec, recall
from citerec.recall.evidence import draft_evidence, past_evidence

runner = CliRunner()

# words no paper of the example library uses: only the past sentence ties them to a paper
PAST = "We count grommets with the zorblax quantifier of the plinth."
PASSAGE = "Grommets are counted by a zorblax quantifier on each plinth."


def _papers() -> list[Paper]:
    return [Paper(key=k, title=f"A long enough title about {k}") for k in ("alpha", "beta", "gamma")]


def _sentences(*items: tuple[int, str, tuple[str, ...]]) -> list[CitingSentence]:
    return [CitingSentence("old.tex", line, text, keys) for line, text, keys in items]


def test_learn_replaces_forgets_and_goes_with_the_paper(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    library.add(_papers())
    report = library.learn(
        "/d/old.tex", _sentences((3, "Alpha  is\nfast.", ("Alpha", "nope")), (7, "Both.", ("alpha", "beta")))
    )
    assert (report.sentences, report.papers, report.replaced, report.missing) == (3, 2, 0, ("nope",))
    assert "1 cited key not in the library (nope)" in report.summary()
    said = library.past_sentences(["ALPHA"])
    assert [(s.key, s.sentence, s.where) for s in said] == [
        ("alpha", "Alpha is fast.", "old.tex:3"),
        ("alpha", "Both.", "old.tex:7"),
    ]
    library.learn("/d/other.tex", _sentences((1, "Gamma too.", ("gamma", "alpha"))))
    again = library.learn("/d/old.tex", _sentences((4, "Beta only.", ("beta",))))
    assert (again.sentences, again.replaced) == (1, 3)
    assert library.past_sources() == [("/d/old.tex", 1), ("/d/other.tex", 2)]
    assert library.forget("/d/other.tex") == 2 and library.forget("/d/other.tex") == 0
    assert [s.sentence for s in library.past_sentences()] == ["Beta only."]
    library.remove(["beta"])
    assert library.past_sentences() == [] and not library.has_past_sentences()
    library.learn("/d/x.tex", _sentences((1, "Gamma.", ("gamma",))))
    assert library.clear() == 2 and not library.has_past_sentences()


def test_a_failed_learning_keeps_what_was_learned_before(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    library.add(_papers())
    library.learn("/d/old.tex", _sentences((3, "Alpha.", ("alpha",))))

    def broken():
        yield CitingSentence("old.tex", 5, "Beta.", ("beta",))
        raise RuntimeError("disk pulled out")

    with pytest.raises(RuntimeError):
        library.learn("/d/old.tex", broken())
    assert [s.sentence for s in Library(tmp_path / "lib").past_sentences()] == ["Alpha."]


def test_a_library_from_before_gains_the_table(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    Library(root).add(_papers())
    with sqlite3.connect(root / "library.sqlite") as conn:  # as citerec before `library learn` left it
        conn.executescript("DROP TABLE learned; PRAGMA user_version=1;")
    library = Library(root)
    assert len(library) == 3 and not library.has_past_sentences()
    assert library.learn("/d/old.tex", _sentences((1, "Gamma.", ("gamma",)))).sentences == 1
    with sqlite3.connect(root / "library.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_past_evidence_describes_recalled_candidates_and_in_a_finishing_draft_only_its_cited_papers() -> None:
    passages = [Passage("one", "one", "", "new.tex", 0, 0), Passage("two", "two", "", "new.tex", 1, 0)]
    recalled = [[Candidate(k, 1.0, 1, 1, 1.0, 1.0) for k in ("A", "B")]] * 2
    past = [PastSentence(k, f"about {k}", "/old.tex", "old.tex", n) for n, k in enumerate(("a", "b", "c"))]
    fresh = past_evidence(passages, recalled, past, draft_evidence(passages, [(), ()]))
    assert sorted(fresh[0]) == ["a", "b"]  # never "c": it was not recalled
    assert fresh[0]["a"].citing == () and [(c.passage, c.where) for c in fresh[0]["a"].past] == [(2, "old.tex:0")]
    finishing = past_evidence(passages, recalled, past, draft_evidence(passages, [(), ("A",)]))
    assert list(finishing[0]) == ["a"] and finishing[0]["a"].citing and finishing[0]["a"].past
    assert sorted(finishing[1]) == ["a", "b"]  # its own citation of A never counts: nothing else is cited for it
    assert finishing[1]["a"].citing == ()


def _target(library: Library) -> str:
    return sorted(library.keys())[3]


def _learn_about(library: Library, key: str, source: str = "/elsewhere/old.tex") -> None:
    library.learn(source, _sentences((12, PAST, (key,))))


def _rank_of(library: Library, key: str, spec: RecallSpec, draft: str = "new.tex") -> int:
    index = Index.open(library)
    passages = [
        Passage(PASSAGE, PASSAGE, "", draft, 0, 0, "Intro"),
        Passage("Other text.", "Other text.", "", draft, 1),
    ]
    past = library.past_sentences() if spec.draft_evidence else ()
    found = recall(index, passages, spec, known=[(), ()], past=past)[0]
    keys = [c.key for c in found.candidates]
    return keys.index(key) + 1 if key in keys else len(keys) + 1


def test_a_past_description_moves_its_paper_up(example_library_dir: Path) -> None:
    library = Library(example_library_dir)
    target = _target(library)
    spec = RecallSpec(k=len(library))
    before = _rank_of(library, target, spec)
    assert before > 1, "the passage's words must not find the paper by themselves"
    _learn_about(library, target)
    assert _rank_of(library, target, spec) == 1
    index = Index.open(library)
    passage = Passage(PASSAGE, PASSAGE, "", "new.tex", 0, 0, "Intro")
    why = recall(index, [passage], spec, known=[()], past=library.past_sentences())[0].why[target]
    assert any(r.startswith("described alike where you cited it before (old.tex:12)") for r in why)


def test_a_new_passage_in_an_editor_is_ranked_with_the_past_sentences_as_recall_ranks_it(
    example_library_dir: Path,
) -> None:
    library = Library(example_library_dir)
    target = _target(library)
    _learn_about(library, target)
    index, spec, past = Index.open(library), RecallSpec(k=len(library)), library.past_sentences()
    passage = Passage(PASSAGE, PASSAGE, "", "new.tex", 0, 0, "Intro")
    alone = recall(index, [passage], spec, draft=DraftCitations.read(index, [], [], past=past))[0]
    whole = recall(index, [passage], spec, known=[()], past=past)[0]
    assert [c.key for c in alone.candidates] == [c.key for c in whole.candidates]
    assert alone.candidates[0].key == target and alone.why[target] == whole.why[target]
    without = recall(index, [passage], spec, draft=DraftCitations.read(index, [], []))[0]
    assert without.candidates[0].key != target
    # in a draft citing the paper elsewhere, the past sentence still stands after the draft's passages
    other = Passage("Other text.", "Other text.", "", "new.tex", 3, 1, "Intro")
    draft = DraftCitations.read(index, [other], [(target,)], past=past)
    why = recall(index, [passage], spec, draft=draft)[0].why[target]
    assert any(r.startswith("described alike where you cited it before (old.tex:12)") for r in why)
    assert any(r.startswith("cited 3 sentences later") for r in why)
    off = RecallSpec(k=len(library), draft_evidence=False)
    assert [c.key for c in recall(index, [passage], off, draft=draft)[0].candidates] == [
        c.key for c in recall(index, [passage], off)[0].candidates
    ]


def test_past_sentences_do_not_count_with_the_evidence_off_nor_for_their_own_draft(
    example_library_dir: Path, tmp_path: Path
) -> None:
    library = Library(example_library_dir)
    target = _target(library)
    off = RecallSpec(k=len(library), draft_evidence=False)
    before = _rank_of(library, target, off)
    own = tmp_path / "new.tex"
    _learn_about(library, target, source_name(own))
    assert _rank_of(library, target, RecallSpec(k=len(library)), draft=str(own)) > 1  # kept from this very draft
    _learn_about(library, target)
    assert _rank_of(library, target, off) == before


def test_cli_learn_get_suggest_and_forget(example_library_dir: Path, tmp_path: Path) -> None:
    library = Library(example_library_dir)
    target = _target(library)
    old, new = tmp_path / "old" / "paper.tex", tmp_path / "new" / "draft.tex"
    old.parent.mkdir()
    new.parent.mkdir()
    old.write_text(f"\\section{{Intro}}\nHello world.\n{PAST[:-1]} \\cite{{{target},missing2020}}.\n")
    new.write_text(f"\\section{{Intro}}\n{PASSAGE[:-1]} \\cite{{?}}.\n")
    lib = ["-L", str(example_library_dir)]
    learning = runner.invoke(app, ["library", "learn", str(old), *lib, "--format", "json"])
    assert learning.exit_code == 0, learning.output
    report = json.loads(learning.stdout)[0]
    assert (report["sentences"], report["papers"], report["missing"]) == (1, 1, ["missing2020"])
    assert report["source"] == source_name(old)
    table = runner.invoke(app, ["library", "get", target, *lib])
    assert table.exit_code == 0 and "paper.tex:3" in table.stdout and "zorblax" in table.stdout
    shown = json.loads(runner.invoke(app, ["library", "get", target, *lib, "--format", "json"]).stdout)
    assert shown["key"] == target and shown["learned"] == [
        {"source": source_name(old), "file": "paper.tex", "line": 3, "sentence": PAST}
    ]
    suggest = ["suggest", str(new), *lib, "--rerank", "off", "--format", "json"]
    on = json.loads(runner.invoke(app, suggest).stdout)["contexts"][0]["suggestions"]
    assert on[0]["key"] == target and any("cited it before (paper.tex:3)" in r for r in on[0]["why"])
    off = json.loads(runner.invoke(app, [*suggest, "--draft-evidence", "off"]).stdout)["contexts"][0]["suggestions"]
    assert off[0]["key"] != target
    forgot = runner.invoke(app, ["library", "learn", "--forget", str(old), *lib])
    assert forgot.exit_code == 0 and "1 learned sentence dropped" in forgot.output
    assert json.loads(runner.invoke(app, ["library", "get", target, *lib, "--format", "json"]).stdout)["learned"] == []


def test_cli_learn_errors_are_one_line(example_library_dir: Path, tmp_path: Path) -> None:
    lib = ["-L", str(example_library_dir)]
    missing = runner.invoke(app, ["library", "learn", str(tmp_path / "gone.tex"), *lib])
    assert missing.exit_code == 1 and "gone.tex: no such file" in missing.output
    empty = runner.invoke(app, ["library", "learn", str(tmp_path / "gone.tex"), "-L", str(tmp_path / "none")])
    assert empty.exit_code == 1 and "is empty: import a .bib first" in empty.output
    unknown = runner.invoke(app, ["library", "get", "nokey", *lib])
    assert unknown.exit_code == 1 and "not in the library: nokey" in unknown.output
