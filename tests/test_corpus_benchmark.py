"""benchmarks/corpus_quality.py: a split's papers against one pooled library, both readings, by field."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from corpus_quality import Scored, chosen_papers, context_metrics, macro, main, micro, worst_papers  # noqa: E402

from citerec.errors import InputError  # noqa: E402
from citerec.evaluate import ContextEval  # noqa: E402

PROJECTS = Path(__file__).parent / "fixtures" / "projects"


def _row(r10: float, mrr: float = 0.5) -> dict[str, float]:
    return {"recall@1": 0.0, "recall@5": 0.0, "recall@10": r10, "recall@20": r10, "recall@50": 1.0, "mrr": mrr}


def test_recall_at_50_counts_the_truth_among_the_first_fifty() -> None:
    ranked = tuple(f"k{i}" for i in range(60))
    context = ContextEval("a.tex", 1, "q", ("K3", "k55"), ranked, {"recall@10": 0.5})
    assert context_metrics(context) == {"recall@10": 0.5, "recall@50": 0.5}


def test_macro_weighs_papers_micro_weighs_passages_and_the_worst_are_named() -> None:
    papers = [Scored("long", "physics", (_row(1.0),) * 3), Scored("short", "biology", (_row(0.0),))]
    assert macro(papers)["recall@10"] == 0.5 and micro(papers)["recall@10"] == 0.75
    runs = {("today", "finishing"): papers, ("today", "fresh"): papers[::-1]}
    assert worst_papers(runs, 1) == [
        "worst R@10, today, finishing: short (biology, 0.000)",
        "worst R@10, today, fresh: short (biology, 0.000)",
    ]


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """Two fixture projects as a corpus (a MANIFEST in the corpus's format) and a split file naming them."""
    papers = tmp_path / "papers"
    for name in ("subfiles", "thesis"):
        shutil.copytree(PROJECTS / name, papers / name)
    rows = [
        ("subfiles", "main.tex,chapters/intro.tex,refs.bib", "computer science / retrieval (PhD thesis)"),
        ("thesis", "main/thesis.tex,chapters/one.tex,refs/refs.bib", "computer science / retrieval (paper)"),
    ]
    (papers / "MANIFEST.tsv").write_text(
        "name\trepo\tcommit\tpaths\tfield\n" + "".join(f"{n}\to/{n}\tc\t{p}\t{f}\n" for n, p, f in rows)
    )
    split = {"seed": 1, "train": [], "dev": ["subfiles"], "test": ["subfiles", "thesis"]}
    (tmp_path / "split.json").write_text(json.dumps(split))
    return tmp_path


def test_a_split_is_chosen_and_sampled(collection: Path) -> None:
    papers, split = collection / "papers", collection / "split.json"
    assert [p.name for p in chosen_papers(papers, split, "test", 0, 0)] == ["subfiles", "thesis"]
    assert [p.name for p in chosen_papers(papers, split, "dev", 0, 0)] == ["subfiles"]
    assert len(chosen_papers(papers, split, "test", 1, 0)) == 1
    manifest = papers / "MANIFEST.tsv"
    manifest.write_text(manifest.read_text().replace("\nthesis\t", "\nrenamed\t"))
    with pytest.raises(InputError, match="the test split names 1 paper.s. not in the collection: thesis"):
        chosen_papers(papers, split, "test", 0, 0)


def test_the_benchmark_reports_both_readings_by_field_and_paper(collection: Path, monkeypatch, capsys) -> None:
    out = collection / "report.json"
    argv = ["corpus_quality.py", "--papers", str(collection / "papers"), "--split", "test"]
    argv += ["--split-file", str(collection / "split.json"), "--cache", str(collection / "cache"), "--json", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    main()
    printed = capsys.readouterr().out
    assert "pooled library of 3 entries" in printed  # both projects cite the same three papers
    for reading in ("finishing", "fresh"):
        assert f"| today | {reading} | papers (macro) | 2 | 5 |" in printed
    assert "| computer science | 2 |" in printed and "| thesis | computer science | 2 |" in printed
    assert "worst R@10, today, fresh: " in printed and "time: " in printed
    report = json.loads(out.read_text())
    assert set(report["runs"]) == {"today, finishing", "today, fresh"}
    assert report["runs"]["today, fresh"]["macro"]["recall@50"] == 1.0  # three candidates: all in the top 50
