"""How others cite a paper counts in recall as the user's past sentences do, and the "why" says who wrote it.

A library holding citing contexts for a paper lifts that paper for a passage of
a fresh draft that reads like them; without them, or with the draft evidence
off, it does not. The reasons name the citing paper, never "you cited it".
"""

from __future__ import annotations

from pathlib import Path

from citerec.index import Index
from citerec.library import Library
from citerec.library_citing import CitingContext
from citerec.recall import Candidate, Passage, RecallSpec, recall
from citerec.recall.evidence import draft_evidence, past_evidence, why_cited
from citerec.suggest import Suggester, SuggestOptions

# words no paper of the example library uses: only the citing context ties them to a paper
SAID = "They count grommets with the zorblax quantifier of the plinth."
PASSAGE = "Grommets are counted by a zorblax quantifier on each plinth."
CITING_ID = "0123456789abcdef0123456789abcdef01234567"


def _context(key: str, sentence: str = SAID) -> CitingContext:
    return CitingContext(key, sentence, CITING_ID, "Counting Grommets at Scale", 2021, "doi", "f" * 40)


def _keep(library: Library, key: str) -> None:
    assert library.keep_citing_contexts(key, "semanticscholar", "doi:10.1/x", 10, "found", [_context(key)])


def test_past_evidence_marks_sentences_by_others_and_why_says_so() -> None:
    passages = [Passage(PASSAGE, PASSAGE, "", "new.tex", 0, 0)]
    recalled = [[Candidate("A", 1.0, 1, 1, 1.0, 1.0)]]
    past = [_context("a").as_past()]
    found = past_evidence(passages, recalled, past, draft_evidence(passages, [()]))[0]["a"]
    assert found.citing == () and found.past[0].by_others and found.past[0].passage == 1
    why = why_cited(found)
    assert why.startswith('cited by others ("Counting Grommets at Scale", 2021): \'') and "zorblax" in why
    assert "you cited it" not in why


def _target(library: Library) -> str:
    return sorted(library.keys())[3]


def _rank_of(library: Library, key: str, spec: RecallSpec) -> tuple[int, tuple[str, ...]]:
    index = Index.open(library)
    passages = [Passage(PASSAGE, PASSAGE, "", "new.tex", 0, 0, "Intro"), Passage("Other text.", "Other text.")]
    past = library.past_sentences() if spec.draft_evidence else ()
    found = recall(index, passages, spec, known=[(), ()], past=past)[0]
    keys = [c.key for c in found.candidates]
    return (keys.index(key) + 1 if key in keys else len(keys) + 1), found.why.get(key, ())


def test_citing_contexts_lift_their_paper_in_a_fresh_draft(example_library_dir: Path) -> None:
    library = Library(example_library_dir)
    target = _target(library)
    spec = RecallSpec(k=len(library))
    before, _ = _rank_of(library, target, spec)
    assert before > 1, "the passage's words must not find the paper by themselves"
    _keep(library, target)
    after, why = _rank_of(library, target, spec)
    assert after == 1
    assert any(
        r.startswith('described alike where it is cited by others ("Counting Grommets at Scale", 2021)') for r in why
    )
    assert not any("you cited it" in r for r in why)
    off = RecallSpec(k=len(library), draft_evidence=False)
    assert _rank_of(library, target, off)[0] > 1
    library.revert_citing_contexts("semanticscholar")
    assert _rank_of(library, target, spec)[0] == before


def test_the_suggester_reads_them_from_the_library(example_library_dir: Path, tmp_path: Path) -> None:
    library = Library(example_library_dir)
    target = _target(library)
    draft = tmp_path / "draft.tex"
    draft.write_text(f"\\section{{Intro}}\n{PASSAGE[:-1]} \\cite{{?}}.\n")
    suggester = Suggester(library, options=SuggestOptions(rerank="off"))
    assert suggester.suggest_path(draft).contexts[0].suggestions[0].key != target
    _keep(library, target)
    top = Suggester(library, options=SuggestOptions(rerank="off")).suggest_path(draft).contexts[0].suggestions[0]
    assert top.key == target and any("cited by others" in r for r in top.why)
