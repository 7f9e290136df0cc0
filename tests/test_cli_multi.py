"""Several drafts in one `citerec suggest`, several papers in one `citerec eval`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.latex import cite_keys_in

runner = CliRunner()

SECOND_DRAFT = r"""\documentclass{article}
\begin{document}
\section{Background}
Word vectors learned from large corpora capture syntactic and semantic regularities \cite{mikolov2013distributed}.
Recurrent networks with long short-term memory cells keep information over long sequences \cite{hochreiter1997long}.
Sequence to sequence learning maps an input sentence to an output sentence with two recurrent networks \cite{?}.
Neural machine translation jointly learns to align and translate with an attention mechanism
\cite{bahdanau2015neural}. Residual connections make very deep convolutional networks trainable \cite{?}.
Dropout prevents co-adaptation of units and reduces overfitting \cite{srivastava2014dropout}.
\end{document}
"""


@pytest.fixture
def drafts(examples_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The example draft (with its includes) and a second, shorter draft in another folder."""
    first = tmp_path / "thesis"
    shutil.copytree(examples_dir, first)
    second = tmp_path / "paper" / "main.tex"
    second.parent.mkdir()
    second.write_text(SECOND_DRAFT, encoding="utf-8")
    shutil.copy(examples_dir / "refs.bib", second.parent / "refs.bib")
    return first / "draft.tex", second


def _suggest(library_dir: Path, *args: str):
    return runner.invoke(app, ["suggest", "-L", str(library_dir), "--rerank", "off", *args])


def _rankings(data: dict) -> list[tuple[str, list[str]]]:
    return [(c["id"], [s["key"] for s in c["suggestions"]]) for c in data["contexts"]]


def test_several_drafts_give_one_result_each_as_when_run_alone(example_library_dir: Path, drafts) -> None:
    first, second = drafts
    together = _suggest(example_library_dir, str(first), str(second), "--format", "json")
    assert together.exit_code == 0, together.output
    results = json.loads(together.stdout)
    assert isinstance(results, list) and [r["source"] for r in results] == [str(first), str(second)]
    for draft, result in zip(drafts, results, strict=True):
        alone = _suggest(example_library_dir, str(draft), "--format", "json")
        assert alone.exit_code == 0, alone.output
        single = json.loads(alone.stdout)
        assert isinstance(single, dict)  # one draft: the single-draft shape, unchanged
        assert _rankings(result) == _rankings(single) and result["contexts"]
    assert {c["file"] for c in results[1]["contexts"]} == {"main.tex"}


def test_several_drafts_table_has_a_heading_per_draft(example_library_dir: Path, drafts) -> None:
    first, second = drafts
    result = _suggest(example_library_dir, str(first), str(second))
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())  # rich wraps long titles
    assert flat.index(f"Suggestionsfor{first}") < flat.index(f"Suggestionsfor{second}")


def test_several_drafts_tex_output_annotates_each(example_library_dir: Path, drafts, tmp_path: Path) -> None:
    first, second = drafts
    out = tmp_path / "annotated"
    result = _suggest(example_library_dir, str(first), str(second), "--format", "tex", "--output", str(out))
    assert result.exit_code == 0, result.output
    written = {p.relative_to(out).as_posix() for p in out.rglob("*.tex")}
    assert {"thesis/draft.tex", "paper/main.tex"} <= written
    annotated = (out / "paper" / "main.tex").read_text(encoding="utf-8")
    assert annotated.count("\\cite{?}") < SECOND_DRAFT.count("\\cite{?}")
    assert set(cite_keys_in(annotated)) > set(cite_keys_in(SECOND_DRAFT))
    assert second.read_text(encoding="utf-8") == SECOND_DRAFT  # inputs untouched

    to_stdout = _suggest(example_library_dir, str(first), str(second), "--format", "tex")
    assert to_stdout.exit_code != 0 and "--output" in to_stdout.output


def test_several_drafts_in_place(example_library_dir: Path, drafts) -> None:
    first, second = drafts
    result = _suggest(example_library_dir, str(first), str(second), "--format", "tex", "--in-place")
    assert result.exit_code == 0, result.output
    for draft in drafts:
        assert f"wrote{draft}" in "".join(result.output.split())
    assert second.read_text(encoding="utf-8").count("\\cite{?}") < SECOND_DRAFT.count("\\cite{?}")


def test_bad_draft_lists_are_one_line_errors(example_library_dir: Path, drafts, tmp_path: Path) -> None:
    first, _ = drafts
    missing = tmp_path / "nowhere.tex"
    result = _suggest(example_library_dir, str(first), str(missing))
    assert result.exit_code != 0 and f"{missing}: no such file" in result.output
    assert "Traceback" not in result.output
    stdin_too = _suggest(example_library_dir, str(first), "-")
    assert stdin_too.exit_code != 0 and "stdin" in stdin_too.output
    broken = tmp_path / "broken.tex"
    broken.write_text("\\input{/etc/hostname} Text \\cite{?}.\n", encoding="utf-8")
    refused = _suggest(example_library_dir, str(first), str(broken))
    assert "broken.tex" in "".join(refused.output.split())  # the refused include is reported against its draft


# -- eval over several papers ---------------------------------------------------------------------------------
def test_eval_several_papers_reports_each_and_the_macro_average(drafts, tmp_path: Path) -> None:
    first, second = drafts
    papers = [f"{first}:{first.parent / 'refs.bib'}", f"{second}:{second.parent / 'refs.bib'}"]
    args = ["eval", "--rerank", "off", "-L", str(tmp_path / "eval"), "--json", "-"]
    result = runner.invoke(app, [*args, "--paper", papers[0], "--paper", papers[1]])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [p["name"] for p in report["papers"]] == ["draft", "main"]
    assert all(p["n_contexts"] > 0 for p in report["papers"])
    for name, value in report["metrics"].items():
        assert value == pytest.approx(sum(p["metrics"][name] for p in report["papers"]) / 2)
    alone = runner.invoke(app, [*args, str(second), "--bib", str(second.parent / "refs.bib")])
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.stdout)["papers"][0]["metrics"] == report["papers"][1]["metrics"]

    table = runner.invoke(
        app, ["eval", "--rerank", "off", "-L", str(tmp_path / "eval"), "-p", papers[0], "-p", papers[1]]
    )
    assert table.exit_code == 0, table.output
    flat = "".join(table.output.split("│")).replace(" ", "").replace("\n", "")
    assert "draft" in flat and "main" in flat and "macro" in flat


def test_eval_paper_specs_are_checked(drafts, tmp_path: Path) -> None:
    first, _ = drafts
    for args, message in (
        (["--paper", str(first)], "expected TEX:BIB"),
        (["--paper", f"{first}:{tmp_path / 'none.bib'}"], "none.bib: no such file"),
        ([str(first)], "--bib"),
        ([], "nothing to evaluate"),
    ):
        result = runner.invoke(app, ["eval", "--rerank", "off", *args])
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


# -- the ray engine: all drafts' passages in one pass over the actor pool -------------------------------------
def test_several_drafts_on_ray_in_one_pass_score_as_local(
    ray_runtime, example_library_dir: Path, drafts, tiny_reranker_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    from citerec.engine.ray_rerank import RayReranker

    fresh_library = tmp_path / "ray-library"
    shutil.copytree(example_library_dir, fresh_library)  # no shared score cache between the two runs
    calls: list[int] = []
    score_pairs = RayReranker._score_pairs

    def counting(self, pairs, *args, **kwargs):
        calls.append(len(pairs))
        return score_pairs(self, pairs, *args, **kwargs)

    monkeypatch.setattr(RayReranker, "_score_pairs", counting)
    common = ["--rerank", "on", "--reranker", str(tiny_reranker_dir), "--recall-k", "8", "--threshold", "0"]
    common += ["--format", "json", *map(str, drafts)]
    local = runner.invoke(app, ["suggest", "-L", str(example_library_dir), *common])
    assert local.exit_code == 0, local.output
    distributed = runner.invoke(
        app, ["suggest", "-L", str(fresh_library), *common, "--engine", "ray", "--workers", "2"]
    )
    assert distributed.exit_code == 0, distributed.output
    mine, theirs = json.loads(distributed.stdout), json.loads(local.stdout)
    assert len(calls) == 1 and calls[0] == 8 * sum(len(r["contexts"]) for r in mine)  # one pass for both drafts
    assert [r["source"] for r in mine] == [r["source"] for r in theirs] and mine[0]["reranked"]
    for a, b in zip(mine, theirs, strict=True):
        for ca, cb in zip(a["contexts"], b["contexts"], strict=True):
            assert [s["key"] for s in ca["suggestions"]] == [s["key"] for s in cb["suggestions"]]
            for sa, sb in zip(ca["suggestions"], cb["suggestions"], strict=True):
                assert sa["rerank_score"] == pytest.approx(sb["rerank_score"], abs=1e-6)


def test_eval_several_papers_on_ray_loads_the_pool_once(
    ray_runtime, drafts, tiny_reranker_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    from citerec.engine import ray_rerank

    ray_rerank.release_pool()
    made: list[str] = []
    init = ray_rerank.RayReranker.__init__

    def counting(self, *args, **kwargs):
        made.append(args[1])
        init(self, *args, **kwargs)

    monkeypatch.setattr(ray_rerank.RayReranker, "__init__", counting)
    papers = [f"{draft}:{draft.parent / 'refs.bib'}" for draft in drafts]
    args = ["eval", "--paper", papers[0], "--paper", papers[1], "--rerank", "on", "--reranker", str(tiny_reranker_dir)]
    args += ["--recall-k", "8", "-L", str(tmp_path / "eval"), "--json", "-", "--engine", "ray", "--workers", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["papers"]) == 2 and all(p["n_contexts"] for p in report["papers"])
    assert made == [str(tiny_reranker_dir)]  # one actor pool for both papers
