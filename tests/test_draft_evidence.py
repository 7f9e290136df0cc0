"""The draft evidence (`citerec.recall.evidence`) and the learned ranking that uses it (`citerec.recall.learned`).

Unit tests pin what counts as evidence (other passages of the same draft, never
a passage's own citations) and how it is measured; end-to-end tests check that a
passage's ranking does not depend on its own citations (leave-one-out exact, the
per-draft adaptation included), that a draft-cited paper recall missed is added,
and that `suggest` and `eval` take `--draft-evidence` and say why.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.errors import CiterecError
from citerec.index import Index
from citerec.library import Library
from citerec.recall import DraftCitations, Passage, RecallSpec, recall
from citerec.recall.adapt import PRIOR, _map_fit, split_logits, weighed
from citerec.recall.evidence import draft_evidence, why_cited
from citerec.recall.features import FEATURES
from citerec.recall.learned import FINISHING, FRESH, load_ranker
from citerec.train.ranker import PaperRows, ReadingRows, fit, recall_at_10

runner = CliRunner()


def _passage(sentence: str, position: int, paragraph: int, section: str = "Intro", draft: str = "a.tex") -> Passage:
    return Passage(sentence, sentence, "", draft, position, paragraph, section)


def test_evidence_is_the_other_passages_of_the_same_draft_nearest_first() -> None:
    passages = [
        _passage("first", 0, 0),
        _passage("second", 3, 0),
        _passage("third", 10, 2, "Methods"),
        _passage("elsewhere", 1, 0, draft="b.tex"),
    ]
    known = [("K1",), ("K1", "K2"), ("K1",), ("K2",)]
    evidence = draft_evidence(passages, known)
    first = evidence[0]
    assert set(first) == {"k1", "k2"}  # normalised keys; b.tex's K2 never counts for a.tex
    assert [c.passage for c in first["k1"].citing] == [1, 2]  # its own citation of K1 left out
    assert [c.distance for c in first["k1"].citing] == [3, 10]
    assert first["k1"].citing[0].same_paragraph and first["k1"].citing[0].same_section
    assert not first["k1"].citing[1].same_paragraph and not first["k1"].citing[1].same_section
    assert first["k1"].proximity == pytest.approx(1 / 4 + 1 / 11)
    assert first["k2"].count == 1 and first["k2"].key == "K2"
    assert set(evidence[1]) == {"k1"}  # K2 is cited by passage 1 alone within a.tex
    assert evidence[3] == {}  # b.tex has no other passage
    assert draft_evidence(passages, [(), (), (), ()]) == [{}, {}, {}, {}]


def test_why_names_the_nearest_citing_sentence_and_its_direction() -> None:
    passages = [_passage("ToolkitName is fast (chain-graph models).", 2, 0), _passage("Chain-graph models help.", 5, 1)]
    evidence = draft_evidence(passages, [("tool",), ()])
    assert why_cited(evidence[1]["tool"]) == "cited 3 sentences earlier: 'ToolkitName is fast (chain-graph models).'"
    later = draft_evidence(passages, [(), ("tool",)])
    assert why_cited(later[0]["tool"]).startswith("cited 3 sentences later: ")


def test_the_shipped_model_reads_todays_features(tmp_path: Path) -> None:
    model = load_ranker()
    assert model.features == FEATURES and set(model.parts) == {FINISHING, FRESH}
    assert len(model.info.papers) >= 10 and model.info.embedder.startswith("all-MiniLM-L6-v2")
    other = dataclasses.replace(model, features=("x",) * len(FEATURES))
    bad = tmp_path / "model.json"
    other.save(bad)
    with pytest.raises(CiterecError, match="model.json: a ranking model for other features"):
        load_ranker(str(bad))
    bad.write_text("{")
    with pytest.raises(CiterecError, match="model.json: not a citerec model"):
        load_ranker(str(bad))


def test_the_adaptation_keeps_the_shipped_weights_without_evidence_and_learns_with_it() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=400), rng.normal(size=400), rng.normal(size=400), np.ones(400)])
    y = (x[:, 1] * 3 > rng.normal(size=400) + 2).astype(float)  # only the proximity prior's share predicts
    fitted = _map_fit(x, y)
    assert fitted[1] > PRIOR[1] and abs(fitted[0]) < 0.5 and abs(fitted[2]) < 0.5
    empty = _map_fit(np.zeros((0, 4)), np.zeros(0))
    assert np.allclose(empty, PRIOR)


def test_the_three_shares_add_up_to_the_shipped_logit_and_each_weight_moves_its_own() -> None:
    part = load_ranker().parts[FINISHING]
    features = np.random.default_rng(3).normal(size=(40, len(FEATURES)))
    logits, _ = weighed(part, features, PRIOR)
    assert np.allclose(logits, part.logits(features))
    shares = split_logits(part, features)
    assert np.allclose(shares.sum(axis=1), logits)
    no_wording, _ = weighed(part, features, np.array([1.0, 1.0, 0.0, 0.0]))
    assert np.allclose(no_wording, logits - shares[:, 2])  # d scales the citing sentences' wording alone


def _draft_passages(library: Library) -> tuple[list[Passage], list[tuple[str, ...]]]:
    """Passages of one draft, each citing one library paper, its title as its sentence (a neighbour's too)."""
    papers = sorted(library.papers(), key=lambda p: p.key)[:8]
    passages, known = [], []
    for i, paper in enumerate(papers):
        sentence = f"As described before, {paper.title.lower()} matters."
        passages.append(Passage(sentence, sentence, "", "draft.tex", 2 * i, i // 2, "Intro"))
        known.append((paper.key,))
    return passages, known


def test_a_passages_ranking_never_depends_on_its_own_citations(example_library_dir: Path) -> None:
    library = Library(example_library_dir)
    index = Index.open(library)
    passages, known = _draft_passages(library)
    spec = RecallSpec(k=10, draft_evidence=True)
    before = recall(index, passages, spec, known=known)
    changed = list(known)
    changed[3] = (known[0][0],)  # passage 3 now cites another paper: only other passages may change
    after = recall(index, passages, spec, known=changed)
    assert [c.key for c in after[3].candidates] == [c.key for c in before[3].candidates]
    assert [c.score for c in after[3].candidates] == pytest.approx([c.score for c in before[3].candidates])
    assert any(item.why for item in before)


def test_a_paper_cited_nearby_that_recall_misses_is_added(example_library_dir: Path) -> None:
    library = Library(example_library_dir)
    index = Index.open(library)
    cited = sorted(library.papers(), key=lambda p: p.key)[0]
    unrelated = "Completely unrelated words about gardening tomatoes."
    passages = [_passage(unrelated, 0, 0, draft="d.tex"), _passage(f"{cited.title}.", 1, 0, draft="d.tex")]
    k = 1
    fresh = recall(index, passages, RecallSpec(k=k, plan="passage"))[0]
    if any(c.key == cited.key for c in fresh.candidates):
        pytest.skip("recall already finds it in this library")
    found = recall(index, passages, RecallSpec(k=len(library), draft_evidence=True), known=[(), (cited.key,)])[0]
    keys = [c.key for c in found.candidates]
    assert cited.key in keys
    assert any(reason.startswith("cited 1 sentence later") for reason in found.why[cited.key])


def test_suggest_says_why_in_json_and_rejects_a_bad_switch(example_library_dir: Path, examples_dir: Path) -> None:
    args = ["suggest", str(examples_dir / "draft.tex"), "-L", str(example_library_dir), "--rerank", "off"]
    result = runner.invoke(app, [*args, "--format", "json", "--draft-evidence", "on"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    reasons = [r for c in data["contexts"] for s in c["suggestions"] for r in s["why"]]
    assert reasons and any("cited" in r and "sentence" in r for r in reasons)
    off = json.loads(runner.invoke(app, [*args, "--format", "json", "--draft-evidence", "off"]).stdout)
    assert all(s["why"] == [] for c in off["contexts"] for s in c["suggestions"])
    bad = runner.invoke(app, [*args, "--draft-evidence", "maybe"])
    assert bad.exit_code != 0 and "--draft-evidence must be on or off" in bad.output


def test_eval_reads_finishing_and_fresh(examples_dir: Path, tmp_path: Path) -> None:
    args = ["eval", str(examples_dir / "draft.tex"), "--bib", str(examples_dir / "refs.bib"), "--rerank", "off"]
    args += ["-L", str(tmp_path / "lib"), "--draft-evidence", "on"]
    outputs = {}
    for reading in ("finishing", "fresh"):
        result = runner.invoke(app, [*args, "--reading", reading, "--json", "-"])
        assert result.exit_code == 0, result.output
        outputs[reading] = json.loads(result.stdout)
        assert outputs[reading]["config"]["reading"] == reading
    assert outputs["finishing"]["config"]["draft_evidence"] is True
    bad = runner.invoke(app, [*args, "--reading", "half"])
    assert bad.exit_code != 0 and "reading must be one of finishing, fresh" in bad.output


def _train_ranker():
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_ranker.py"
    spec = importlib.util.spec_from_file_location("train_ranker", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_training_script_learns_the_evidence_and_its_ablation_removes_it() -> None:
    train = _train_ranker()
    rng = np.random.default_rng(1)
    papers = []
    for number in range(3):
        rows, labels, which, keys, recalled, truths = [], [], [], [], [], []
        for passage in range(20):
            x = rng.normal(size=(12, len(FEATURES))).astype(np.float32)
            x[:, FEATURES.index("proximity")] = 0.0
            x[passage % 12, FEATURES.index("proximity")] = 3.0  # the cited paper is cited nearby, nothing else says so
            rows.append(x)
            labels.append(np.arange(12) == passage % 12)
            which.append(np.full(12, passage))
            keys.append(tuple(f"p{n}" for n in range(12)))
            recalled.append(12)
            truths.append((f"p{passage % 12}",))
        data = ReadingRows(np.vstack(rows), np.concatenate(labels), np.concatenate(which), tuple(keys), tuple(recalled))
        papers.append(PaperRows(f"paper{number}", {FINISHING: data, FRESH: data}, tuple(truths)))
    part = fit(papers[1:], FINISHING)
    assert recall_at_10(papers[0], FINISHING, part) == 1.0
    blind = [train.without(p, ("proximity",), drop_added=False) for p in papers]
    assert recall_at_10(blind[0], FINISHING, fit(blind[1:], FINISHING)) < 1.0


def test_a_new_passage_is_ranked_with_the_evidence_of_a_draft_read_before(example_library_dir: Path) -> None:
    library = Library(example_library_dir)
    index = Index.open(library)
    passages, known = _draft_passages(library)
    draft = DraftCitations.read(
        index, [*passages, _passage("No citation here.", 20, 9, draft="draft.tex")], [*known, ()]
    )
    assert len(draft) == len(passages)  # a passage citing nothing is no evidence
    cited = known[2][0]
    new = Passage(passages[2].sentence, passages[2].sentence, "", "draft.tex", 5, 2, "Intro")
    spec = RecallSpec(k=10)
    ranked = recall(index, [new], spec, draft=draft)[0]
    assert ranked.candidates[0].key == cited
    # what sets it apart: where the draft cites it, by place or by the same words
    said = " ".join(passages[2].sentence.split())[:40]
    assert any(w.startswith("cited 1 sentence earlier") or said in w for w in ranked.why[cited]), ranked.why[cited]
    # leave-one-out: the passage being completed (say, passage 2 itself) never counts for itself
    alone = recall(index, [dataclasses.replace(new, position=4)], spec, draft=draft.without(4))[0]
    assert not any(reason.startswith("cited") for reason in alone.why.get(cited, ()))
    moved = list(known)
    moved[2] = (known[0][0],)
    other = DraftCitations.read(index, passages, moved).without(4)
    again = recall(index, [dataclasses.replace(new, position=4)], spec, draft=other)[0]
    assert [c.key for c in again.candidates] == [c.key for c in alone.candidates]
    off = recall(index, [new], RecallSpec(k=10, draft_evidence=False), draft=draft)[0]
    assert not off.why and [c.key for c in off.candidates] == [c.key for c in recall(index, [new], spec)[0].candidates]
