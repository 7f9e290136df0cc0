"""One paper per clause: in a sentence listing several papers with a phrase each, each paper's own words.

"ToolA~\\cite{a} (chain-graph models), ToolB~\\cite{b} (min-cost flow)" once taught
both papers the whole sentence, so a later "chain-graph models \\cite{?}" found
ToolA's and ToolB's citing sentences equally alike. The splitter
(`citerec.latex.clauses`) is pinned on the list forms it splits and on the
sentences it must leave whole; then the clauses are followed to where a sentence
is said of one paper: the draft evidence (its sentence, its wording features,
the adaptation's folds, an editor's draft read before) and `library learn`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from citerec.index import Index
from citerec.latex import extract_contexts, find_citations, read_draft
from citerec.latex.clauses import split_clauses
from citerec.latex.text import latex_to_text, remove_citations
from citerec.library import Library
from citerec.past_sentences import PastSentence
from citerec.recall import Candidate, DraftCitations, Passage, RecallSpec, recall
from citerec.recall.evidence import draft_evidence, past_evidence, why_cited
from citerec.recall.features import FEATURES, PlanLists, candidate_rows
from citerec.recall.folds import DraftRows
from citerec.recall.plans import recall_window, recall_with_plan
from tests.helpers.folds import masked_beside_rebuilt

ISSUE = (
    r"We use ToolA~\cite{a} (chain-graph models), ToolB~\cite{b} (min-cost flow), and ToolC~\cite{c} (LP relaxations)."
)


def clauses(latex: str) -> dict[str, str]:
    """Each key's clause as text (the head kept, citations removed), {} when the sentence stays whole."""
    cites = find_citations(latex)
    out = {}
    for clause in split_clauses(latex, 0, len(latex), cites):
        text = " ".join(latex_to_text(remove_citations(latex[a:b], cites, a)) for a, b in clause.spans)
        out.update(dict.fromkeys(clause.keys, text))
    return out


def test_each_tool_of_the_issues_list_gets_its_own_words() -> None:
    assert clauses(ISSUE) == {
        "a": "We use ToolA (chain-graph models)",
        "b": "ToolB (min-cost flow)",
        "c": "ToolC (LP relaxations)",
    }
    # a short head announcing the list says what each item is: kept before every clause
    announced = clauses(r"We use three tools: ToolA~\cite{a} (chain-graph models); ToolB~\cite{b} (min-cost flow).")
    assert announced == {
        "a": "We use three tools: ToolA (chain-graph models)",
        "b": "We use three tools: ToolB (min-cost flow)",
    }


def test_a_phrase_before_its_citation_is_its_clause() -> None:
    assert clauses(
        r"Prior work covers chain-graph models~\cite{a}, min-cost flow~\cite{b}, and LP relaxations~\cite{c}."
    ) == {
        "a": "Prior work covers chain-graph models",
        "b": "min-cost flow",
        "c": "LP relaxations",
    }
    # a lead-in cut off by a comma is no item's; a list in parentheses splits within them
    assert clauses(r"Many were proposed, including chain graphs~\cite{a} and min-cost flows~\cite{b}.") == {
        "a": "including chain graphs",
        "b": "min-cost flows",
    }
    assert clauses(r"Graph methods are popular (e.g., chain graphs~\cite{a}, min-cost flow~\cite{b}).") == {
        "a": "chain graphs",
        "b": "min-cost flow",
    }
    # one command of several keys is one item: its keys share the clause
    assert clauses(r"Unlike chain-graph models~\cite{a,b}, we use min-cost flow~\cite{c}.") == {
        "a": "Unlike chain-graph models",
        "b": "Unlike chain-graph models",
        "c": "we use min-cost flow",
    }


def test_textual_citations_each_with_their_words_after_them() -> None:
    assert clauses(r"\citet{a} use chain graphs, and \citet{b} use min-cost flows.") == {
        "a": "use chain graphs",
        "b": "use min-cost flows",
    }


@pytest.mark.parametrize(
    "latex",
    [
        r"Chain-graph models~\cite{a} make inference exact.",  # one citation
        r"Several works~\cite{a,b,c} study chain-graph models.",  # one command, several keys
        r"ToolA~\cite{a} extends ToolB~\cite{b} to chain graphs.",  # no separator between them
        r"Smith~\cite{a} proposed chain graphs, which Jones~\cite{b} extended.",  # a separator inside the gap
        r"We build on ToolA~\cite{a}, which models chain graphs, and ToolB~\cite{b}.",  # two separators
        r"ToolA~\cite{a}, ToolB~\cite{b}.",  # names alone: a word each
        r"Unlike~\cite{a}, we follow~\cite{b}.",  # one word of its own
        r"Chain graphs~\cite{a} and min-cost flows~\cite{b} are popular.",  # a shared tail: whose is a guess
        r"Chain graphs~\cite{a} and again chain graphs~\cite{a}.",  # one key cited twice
        r"It is slow,\footnote{Chain graphs~\cite{a}, and min-cost flows~\cite{b}.} they say.",  # an argument
        r"(Chain graphs~\cite{a}, and min-cost flow~\cite{b}.",  # brackets that do not nest
    ],
)
def test_ordinary_sentences_stay_whole(latex: str) -> None:
    assert clauses(latex) == {}


def test_a_placeholder_is_an_item_without_a_clause() -> None:
    assert clauses(r"ToolA~\cite{?} (chain-graph models), ToolB~\cite{b} (min-cost flow).") == {
        "b": "ToolB (min-cost flow)"
    }
    assert clauses(r"ToolA~\cite{a} (chain-graph models), \nocite{z}ToolB~\cite{b} (min-cost flow).") == {
        "a": "ToolA (chain-graph models)",
        "b": "ToolB (min-cost flow)",
    }


DRAFT = r"""\section{Method}
Our pipeline builds on Zorblax~\cite{he2016deep} (chain-graph models), Quuxly~\cite{kingma2015adam} (min-cost flow).
The pipeline runs nightly on a small cluster of machines.
We also keep the \emph{usual} logs of every run.

\section{Discussion}
Exact inference in chain-graph models \cite{?} keeps the pipeline honest.
"""


def _draft_passages() -> tuple[list[Passage], list[tuple[str, ...]]]:
    contexts = extract_contexts("draft.tex", text=DRAFT, is_tex=True)
    return [Passage.of(c) for c in contexts], [c.cited_keys for c in contexts]


def test_contexts_carry_each_keys_clause_read_as_the_sentence_is() -> None:
    listing, asking = extract_contexts("draft.tex", text=DRAFT, is_tex=True)
    assert listing.sentence.startswith("Our pipeline builds on Zorblax (chain-graph models), Quuxly")
    assert dict(listing.clauses) == {
        "he2016deep": "Our pipeline builds on Zorblax (chain-graph models)",
        "kingma2015adam": "Quuxly (min-cost flow)",
    }
    assert asking.clauses == ()  # a whole sentence is said of every key: as before
    assert Passage.of(listing).clause_of("HE2016DEEP") == "Our pipeline builds on Zorblax (chain-graph models)"
    assert Passage.of(asking).clause_of("he2016deep") == ""
    paragraphs = extract_contexts("draft.tex", text=DRAFT, is_tex=True, mode="paragraph")
    assert all(c.clauses == () for c in paragraphs)


def test_the_draft_evidence_says_of_each_paper_its_own_clause() -> None:
    passages, known = _draft_passages()
    found = draft_evidence(passages, known)[1]
    deep, adam = found["he2016deep"].nearest, found["kingma2015adam"].nearest
    assert deep.sentence == "Our pipeline builds on Zorblax (chain-graph models)" and deep.clause
    assert adam.sentence == "Quuxly (min-cost flow)" and adam.clause
    assert why_cited(found["kingma2015adam"]).endswith(": 'Quuxly (min-cost flow)'")
    whole = draft_evidence([dataclasses.replace(p, clauses=()) for p in passages], known)[1]
    assert (
        whole["kingma2015adam"].nearest.sentence == passages[0].sentence and not whole["kingma2015adam"].nearest.clause
    )


def test_the_wording_features_compare_the_passage_with_each_papers_clause(example_library_dir: Path) -> None:
    index = Index.open(Library(example_library_dir))
    passages, known = _draft_passages()
    spec = RecallSpec(k=10, plan="passage")
    lists = PlanLists.of(passages, recall_with_plan(index, passages, spec))
    cos, lex = FEATURES.index("context_cos"), FEATURES.index("context_lex")

    def wording(items: list[Passage]) -> dict[str, tuple[float, float]]:
        rows = candidate_rows(index, dataclasses.replace(lists, passages=tuple(items)), draft_evidence(items, known))[1]
        return {key: (rows.features[r, cos], rows.features[r, lex]) for r, key in enumerate(rows.keys)}

    split = wording(passages)
    assert split["he2016deep"][0] > split["kingma2015adam"][0]
    assert split["he2016deep"][1] > split["kingma2015adam"][1]
    whole = wording([dataclasses.replace(p, clauses=()) for p in passages])
    assert whole["he2016deep"] == pytest.approx(whole["kingma2015adam"])  # one sentence said of both, as before
    everything = RecallSpec(k=len(Library(example_library_dir)))
    ranked = recall(index, passages, everything, known=known)[1]
    order = [c.key for c in ranked.candidates]
    assert order.index("he2016deep") < order.index("kingma2015adam")
    # an editor's draft read before ranks a new passage with the same clauses, embedded once
    draft = DraftCitations.read(index, passages, known)
    assert draft.clauses is not None and set(draft.clauses.texts) == {t for _, t in passages[0].clauses}
    new = dataclasses.replace(passages[1], position=9)
    typed = [c.key for c in recall(index, [new], everything, draft=draft.without(passages[1].position))[0].candidates]
    assert typed.index("he2016deep") < typed.index("kingma2015adam")


def test_the_adaptations_rows_read_the_clauses_as_the_rebuilt_rows_do(example_library_dir: Path) -> None:
    library = Library(example_library_dir)
    index = Index.open(library)
    papers = sorted(library.papers(), key=lambda p: p.key)[:5]
    passages, known = [], []
    for i in range(8):
        a, b = papers[i % 5], papers[(i * 2 + 1) % 5]
        sentence = f"Work on {a.title.lower()}, and on {b.title.lower()}."
        said = ((a.key, f"work on {a.title.lower()}"), (b.key, f"on {b.title.lower()}")) if a != b else ()
        passages.append(Passage(sentence, sentence, "", "draft.tex", 3 * i, i // 2, f"S{i // 4}", said))
        known.append(tuple(dict.fromkeys((a.key, b.key))))
    spec = RecallSpec(k=10, plan="passage")
    lists = PlanLists.of(passages, recall_with_plan(index, passages, spec), recall_window(index, passages, spec))
    rows = DraftRows.read(index, lists, known, list(range(len(passages))))
    assert any(r.semantic is not None for r in rows.passages)
    cos, lex = FEATURES.index("context_cos"), FEATURES.index("context_lex")
    for held in ({0, 5}, set()):
        for _, new, _, old in masked_beside_rebuilt(index, lists, known, rows, held):
            assert np.allclose(new[:, cos], old.features[:, cos], atol=1e-5)
            # the wording's similarity is weighed by the whole draft's words, not the fold's: close, not equal
            assert np.allclose(new[:, lex], old.features[:, lex], atol=0.2)


def test_library_learn_keeps_each_papers_clause(example_library_dir: Path, tmp_path: Path) -> None:
    library = Library(example_library_dir)
    tex = tmp_path / "old.tex"
    tex.write_text(DRAFT.replace(r"\cite{?}", r"\cite{vaswani2017attention}"), encoding="utf-8")
    report = library.learn_draft(read_draft(tex))
    assert (report.sentences, report.papers) == (3, 3)
    said = {s.key: s.sentence for s in library.past_sentences(["he2016deep", "kingma2015adam", "vaswani2017attention"])}
    assert said == {
        "he2016deep": "Our pipeline builds on Zorblax (chain-graph models)",
        "kingma2015adam": "Quuxly (min-cost flow)",
        "vaswani2017attention": "Exact inference in chain-graph models keeps the pipeline honest.",
    }


def test_a_past_sentence_that_is_the_passages_own_clause_is_left_out() -> None:
    passage = Passage(
        "Zorblax (chain graphs), Quuxly (flows).", "Zorblax (chain graphs), Quuxly (flows).", "", "new.tex", 0, 0
    )
    passage = dataclasses.replace(passage, clauses=(("a", "Zorblax (chain graphs)"), ("b", "Quuxly (flows)")))
    recalled = [[Candidate(k, 1.0, 1, 1, 1.0, 1.0) for k in ("A", "B")]]
    past = [
        PastSentence("a", "Zorblax (chain graphs)", "/copy.tex", "copy.tex", 1),
        PastSentence("b", "Quuxly (flows)", "/copy.tex", "copy.tex", 1),
        PastSentence("b", "Quuxly solves flows.", "/old.tex", "old.tex", 4),
    ]
    found = past_evidence([passage], recalled, past, draft_evidence([passage], [()]))[0]
    assert list(found) == ["b"] and [c.sentence for c in found["b"].past] == ["Quuxly solves flows."]
