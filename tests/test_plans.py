"""A draft's reading plan, chosen from the citations it already has (`citerec.index.plans`).

Unit tests pin the decision (paired t over the draft's other cited passages,
never the passage's own); CLI and evaluation tests check that `suggest` and
`eval` apply it, report it, and can be told not to. The t-test decides with the
draft evidence off (`--draft-evidence off`); with it on, the learned ranking does
(tests/test_draft_evidence.py).
"""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.evaluate import build_eval_library, evaluate_on_library
from citerec.index import Index
from citerec.ingest import read_bibtex
from citerec.recall import Candidate, FusionSettings, RecallSpec
from citerec.recall import plans as plans_module
from citerec.recall.plans import MIN_EVIDENCE, PASSAGE, WINDOW, PlanChoice, choose_plans, window_plan
from citerec.suggest import Suggester, SuggestOptions
from tests.helpers.recalling import recall_many

runner = CliRunner()


def _list(*keys: str) -> list[Candidate]:
    return [Candidate(key, 1.0 / (i + 1), None, None, None, None) for i, key in enumerate(keys)]


FILLER = [f"other{i}" for i in range(20)]


def _found(key: str) -> list[Candidate]:
    return _list(key, *FILLER)


def _missed(key: str) -> list[Candidate]:
    return _list(*FILLER[:10], key)  # 11th: outside Recall@10


def test_a_draft_whose_window_plan_finds_its_citations_moves_to_it() -> None:
    n = MIN_EVIDENCE + 5
    keys = [f"paper{i}" for i in range(n)]
    # the window plan finds every citation but two; the passage plan finds a third of them
    passage = [_found(k) if i % 3 == 0 else _missed(k) for i, k in enumerate(keys)]
    window = [_missed(k) if i in (1, 2) else _found(k) for i, k in enumerate(keys)]
    drafts = ["a.tex"] * n + ["a.tex"]
    known = [(k,) for k in keys] + [()]  # the last passage is a placeholder
    choices = choose_plans(drafts, known, [*passage, _list()], [*window, _list()])
    assert {c.plan for c in choices} == {WINDOW}
    assert [c.evidence for c in choices] == [n - 1] * n + [n]
    placeholder = choices[-1]
    assert placeholder.window_recall == pytest.approx((n - 2) / n)
    assert placeholder.passage_recall == pytest.approx(sum(i % 3 == 0 for i in range(n)) / n)
    d = np.array([(i not in (1, 2)) - (i % 3 == 0) for i in range(n)], dtype=float)
    assert placeholder.t == pytest.approx(d.mean() / (d.std(ddof=1) / math.sqrt(n)))


def test_a_draft_with_too_few_citations_keeps_the_default_plan() -> None:
    n = MIN_EVIDENCE  # each cited passage sees n - 1 others: one short
    keys = [f"paper{i}" for i in range(n)]
    choices = choose_plans(["d"] * n, [(k,) for k in keys], [_missed(k) for k in keys], [_found(k) for k in keys])
    assert {c.plan for c in choices} == {PASSAGE}
    assert {c.evidence for c in choices} == {n - 1}
    assert {c.t for c in choices} == {0.0}


def test_a_small_or_unclear_gain_keeps_the_default_plan() -> None:
    n = MIN_EVIDENCE + 10
    keys = [f"paper{i}" for i in range(n)]
    # the window plan wins 6 passages and loses 4: a mean gain, but t < 1.645
    window = [_found(k) if i < 6 or i >= 10 else _missed(k) for i, k in enumerate(keys)]
    passage = [_missed(k) if i < 6 else _found(k) for i, k in enumerate(keys)]
    choices = choose_plans(["d"] * n + ["d"], [(k,) for k in keys] + [()], [*passage, []], [*window, []])
    placeholder = choices[-1]
    assert placeholder.window_recall > placeholder.passage_recall
    assert 0 < placeholder.t < plans_module.SWITCH_T
    assert placeholder.plan == PASSAGE


def test_drafts_choose_apart() -> None:
    n = MIN_EVIDENCE + 2
    keys = [f"paper{i}" for i in range(2 * n)]
    drafts = ["a"] * n + ["b"] * n
    passage = [_missed(k) if i < n else _found(k) for i, k in enumerate(keys)]
    window = [_found(k) if i < n or i % 2 else _missed(k) for i, k in enumerate(keys)]
    choices = choose_plans(drafts, [(k,) for k in keys], passage, window)
    assert {c.plan for c in choices[:n]} == {WINDOW}
    assert {c.plan for c in choices[n:]} == {PASSAGE}


@pytest.mark.parametrize("seed", range(20))
def test_a_passage_never_chooses_its_own_plan(seed: int) -> None:
    """Leave-one-out: whatever a passage's own recall, its choice is what the others say."""
    rng = random.Random(seed)
    n = MIN_EVIDENCE + rng.randrange(1, 15)
    keys = [f"paper{i}" for i in range(n)]
    passage = [_found(k) if rng.random() < 0.4 else _missed(k) for k in keys]
    window = [_found(k) if rng.random() < rng.choice((0.4, 0.7)) else _missed(k) for k in keys]
    known = [(k,) for k in keys]
    before = choose_plans(["d"] * n, known, passage, window)
    i = rng.randrange(n)
    flipped_window = list(window)
    flipped_window[i] = _missed(keys[i]) if window[i][0].key == keys[i] else _found(keys[i])
    flipped_passage = list(passage)
    flipped_passage[i] = _missed(keys[i]) if passage[i][0].key == keys[i] else _found(keys[i])
    after = choose_plans(["d"] * n, known, flipped_passage, flipped_window)
    assert after[i] == before[i]


def test_window_plan_reads_the_window_alone_by_rank() -> None:
    plan = window_plan(FusionSettings(topic_weight=0.5, depth=80))
    assert (plan.fusion, plan.rrf_k, plan.dense_weight, plan.bm25_weight) == ("rrf", 30.0, 2.0, 1.0)
    assert (plan.sentence_weight, plan.window_weight, plan.wide_weight, plan.topic_weight) == (0.0, 1.0, 0.0, 0.0)
    assert plan.depth == 80  # what the plan does not name is kept


def test_plan_json_has_no_infinite_numbers() -> None:
    choice = PlanChoice(WINDOW, 40, 0.2, 0.6, math.inf)
    assert json.loads(json.dumps(choice.to_json(), allow_nan=False))["t"] is None


# -- through suggest and eval ------------------------------------------------


@pytest.fixture
def cited_draft(examples_dir: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A draft citing every example paper once (a sentence from its title), then one placeholder."""
    papers = read_bibtex(examples_dir / "refs.bib").papers
    assert len(papers) > MIN_EVIDENCE + 1
    sentences = [
        f"Work on {re.sub(r'[^A-Za-z ]', ' ', p.title).lower()} is described in \\cite{{{p.key}}}." for p in papers
    ]
    sentences.append("We also use retrieval with dense vectors \\cite{?}.")
    draft = tmp_path / "survey.tex"
    draft.write_text("\\section{Related work}\n" + "\n".join(sentences) + "\n", encoding="utf-8")
    return draft, [p.key for p in papers]


def _json(library_dir: Path, draft: Path, *args: str) -> dict:
    """`suggest --format json` with the plan switch deciding (the draft evidence off)."""
    command = ["suggest", str(draft), "-L", str(library_dir), "--rerank", "off", "--format", "json"]
    command += ["--draft-evidence", "off"]
    result = runner.invoke(app, [*command, "--include-cited", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_suggest_reports_each_passage_plan_with_its_evidence(example_library_dir: Path, cited_draft) -> None:
    draft, keys = cited_draft
    plain = _json(example_library_dir, draft, "--plan", "passage", "--top", "10")
    assert {c["plan"] for c in plain["contexts"]} == {None}
    assert plain["options"]["plan"] == "passage"
    adapted = _json(example_library_dir, draft, "--top", "10")
    cited = [c for c in plain["contexts"] if c["cited_keys"]]
    assert len(cited) == len(keys)
    # the evidence is each passage's Recall@10 of its own key with the default plan, leave-one-out
    hits = [c["cited_keys"][0] in [s["key"] for s in c["suggestions"]] for c in cited]
    for number, context in enumerate(adapted["contexts"]):
        plan = context["plan"]
        own = number < len(cited)
        others = [hit for i, hit in enumerate(hits) if not (own and i == number)]
        assert plan["evidence"] == len(others)
        assert plan["passage_recall"] == pytest.approx(sum(others) / len(others))
        if plan["plan"] == PASSAGE:
            assert context["suggestions"] == plain["contexts"][number]["suggestions"]


def test_a_draft_that_switches_is_ranked_by_the_window_plan_and_told(
    example_library_dir: Path, cited_draft, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft, _ = cited_draft
    monkeypatch.setattr(plans_module, "SWITCH_T", -math.inf)  # any evidence switches
    command = ["suggest", str(draft), "-L", str(example_library_dir), "--rerank", "off", "--format", "json"]
    command += ["--draft-evidence", "off"]
    result = runner.invoke(app, [*command, "--top", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {c["plan"]["plan"] for c in data["contexts"]} == {WINDOW}
    assert any("read by their window" in note for note in data["notes"])
    from citerec.library import Library

    index = Index.open(Library(example_library_dir))
    expected = recall_many(index, [c["query"] for c in data["contexts"]], k=50, fusion=window_plan(FusionSettings()))
    for context, candidates in zip(data["contexts"], expected, strict=True):
        cited = set(context["cited_keys"])
        wanted = [c.key for c in candidates if c.key not in cited][:5]
        assert [s["key"] for s in context["suggestions"]] == wanted


def test_eval_chooses_plans_from_the_other_passages_truth(
    examples_dir: Path, cited_draft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft, _ = cited_draft
    library, keymaps = build_eval_library([examples_dir / "refs.bib"], tmp_path / "eval-lib")
    options = SuggestOptions(rerank="off", recall=RecallSpec(draft_evidence=False))  # the plan switch decides
    suggester = Suggester(library, options=options)
    adapted = evaluate_on_library(draft, suggester, keymaps[0], options=options)
    plain = evaluate_on_library(draft, suggester, keymaps[0], options=options.with_recall(plan="passage"))
    assert adapted.n_contexts == plain.n_contexts > MIN_EVIDENCE
    monkeypatch.setattr(plans_module, "SWITCH_T", -math.inf)
    switched = evaluate_on_library(draft, suggester, keymaps[0], options=options)
    window_only = evaluate_on_library(draft, suggester, keymaps[0], options=options.with_recall(plan="window"))
    assert [c.ranked for c in switched.contexts] == [c.ranked for c in window_only.contexts]
    assert switched.metrics == window_only.metrics


def test_plan_names_are_the_one_enum() -> None:
    from citerec.choices import Plan
    from citerec.suggest import PLAN_PASSAGE, PLAN_WINDOW, PLANS

    assert PLANS == tuple(plan.value for plan in Plan) and (PLAN_PASSAGE, PLAN_WINDOW) == (PASSAGE, WINDOW)


def test_a_forced_window_plan_reads_every_passage_by_its_window(example_library_dir: Path, examples_dir: Path) -> None:
    data = _json(example_library_dir, examples_dir / "draft.tex", "--plan", "window", "--top", "5")
    assert data["options"]["plan"] == "window"
    assert {c["plan"] for c in data["contexts"]} == {None}  # forced, not chosen
    from citerec.library import Library

    index = Index.open(Library(example_library_dir))
    expected = recall_many(index, [c["query"] for c in data["contexts"]], k=50, fusion=window_plan(FusionSettings()))
    for context, candidates in zip(data["contexts"], expected, strict=True):
        assert [s["key"] for s in context["suggestions"]] == [c.key for c in candidates][:5]


def test_an_unknown_plan_is_a_one_line_error(example_library_dir: Path, examples_dir: Path) -> None:
    command = ["suggest", str(examples_dir / "draft.tex"), "-L", str(example_library_dir), "--rerank", "off"]
    result = runner.invoke(app, [*command, "--plan", "sideways"])
    assert result.exit_code != 0
    assert "--plan must be one of auto, passage, window, learned, not 'sideways'" in result.output


def test_draft_plan_is_what_a_new_passage_of_the_draft_gets(example_library_dir: Path, cited_draft) -> None:
    from citerec.latex import extract_contexts, read_draft
    from citerec.library import Library

    draft, keys = cited_draft
    contexts = extract_contexts(read_draft(draft))
    suggester = Suggester(
        Library(example_library_dir), options=SuggestOptions(rerank="off", recall=RecallSpec(draft_evidence=False))
    )
    choice = suggester.draft_plan(contexts)
    assert choice is not None and choice.evidence == len(keys)
    placeholder = suggester.rank(contexts)[-1]
    assert placeholder.context.placeholder
    assert placeholder.plan == choice
    few = [c for c in contexts if c.cited_keys][: MIN_EVIDENCE - 1]
    assert suggester.draft_plan(few) is None


def test_http_suggest_takes_a_plan(example_library_dir: Path, cited_draft) -> None:
    pytest.importorskip("fastapi")
    import asyncio

    import httpx

    from citerec.library import Library
    from citerec.serve import create_app

    draft, keys = cited_draft
    app = create_app(
        Library(example_library_dir), options=SuggestOptions(rerank="off", recall=RecallSpec(draft_evidence=False))
    )
    body = {"tex": draft.read_text(encoding="utf-8"), "rerank": "off", "include_cited": True}

    async def ask() -> list:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [
                await client.post("/v1/suggest", json=body),
                await client.post("/v1/suggest", json={**body, "plan": "passage"}),
                await client.post("/v1/suggest", json={**body, "plan": "sideways"}),
            ]

    try:
        auto, passage, bad = asyncio.run(ask())
    finally:
        app.state.service.close()
    assert auto.status_code == passage.status_code == 200, auto.text
    assert auto.json()["contexts"][-1]["plan"]["evidence"] == len(keys)  # a text chooses as a draft does
    assert {c["plan"] for c in passage.json()["contexts"]} == {None}
    assert bad.status_code == 422
