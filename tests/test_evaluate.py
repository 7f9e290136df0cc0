"""Leave-citations-out evaluation on a small paper written for the test, and on the example draft."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from citerec.cli import app
from citerec.evaluate import build_eval_library, evaluate_paper
from citerec.recall import RecallSpec
from citerec.suggest import SuggestOptions

BIB = r"""
@article{dpr,
  title = {Dense Passage Retrieval for Open-Domain Question Answering},
  author = {Karpukhin, Vladimir and Oguz, Barlas},
  year = {2020},
  abstract = {Dual-encoder dense retrieval of passages for open-domain question answering beats BM25.}
}
@article{bm25,
  title = {The Probabilistic Relevance Framework: BM25 and Beyond},
  author = {Robertson, Stephen and Zaragoza, Hugo},
  year = {2009},
  abstract = {Term-weighting with the probabilistic relevance framework, the BM25 ranking function.}
}
@article{resnet,
  title = {Deep Residual Learning for Image Recognition},
  author = {He, Kaiming},
  year = {2016},
  abstract = {Residual connections make very deep convolutional networks trainable for image classification.}
}
"""

TEX = r"""\documentclass{article}
\begin{document}
\section{Intro}
Sparse term weighting with the BM25 ranking function remains strong \cite{bm25}.
Dense dual-encoder passage retrieval for open-domain question answering \citep{dpr,missingkey}.
Very deep convolutional networks train with residual connections \cite{resnet}.
Only unknown keys here \cite{nowhere}.
\end{document}
"""


def _paper(tmp_path: Path) -> tuple[Path, Path]:
    tex, bib = tmp_path / "paper.tex", tmp_path / "paper.bib"
    tex.write_text(TEX, encoding="utf-8")
    bib.write_text(BIB, encoding="utf-8")
    return tex, bib


def test_evaluate_paper_scores_obvious_contexts_perfectly(tmp_path) -> None:
    tex, bib = _paper(tmp_path)
    options = SuggestOptions(rerank="off", neighbours=0, recall=RecallSpec(method="bm25"))
    result = evaluate_paper(tex, bib, options=options, library_dir=tmp_path / "lib")
    assert result.n_contexts == 3  # the sentence citing only unknown keys is skipped
    assert result.n_skipped == 1
    assert result.n_candidates == 3
    assert result.metrics["recall@1"] == 1.0
    assert result.contexts[1].truth == ("dpr",)
    assert "\\cite" not in result.contexts[0].query and "bm25}" not in result.contexts[0].query


def test_pool_adds_distractors_and_renames_colliding_keys(tmp_path) -> None:
    tex, bib = _paper(tmp_path)
    other = tmp_path / "other.bib"
    other.write_text(
        "@article{dpr, title={A Completely Different Paper About Bird Migration Patterns}, year={2001}}\n"
        "@article{dpr2, title={Dense Passage Retrieval for Open-Domain Question Answering}, year={2020}}\n",
        encoding="utf-8",
    )
    library, keymaps = build_eval_library([bib, other], tmp_path / "pooled")
    assert len(library) == 4  # dpr2 is the same work as dpr and merges into it
    assert keymaps[1]["dpr"] == "dpr@other"
    assert keymaps[1]["dpr2"] == "dpr"
    result = evaluate_paper(
        tex,
        bib,
        pool=[other],
        options=SuggestOptions(rerank="off", recall=RecallSpec(method="bm25")),
        library_dir=tmp_path / "p2",
    )
    assert result.n_candidates == 4 and result.metrics["recall@5"] == 1.0


def test_eval_cli_writes_the_design_json(tmp_path) -> None:
    tex, bib = _paper(tmp_path)
    out = tmp_path / "out.json"
    runner = CliRunner()
    result = runner.invoke(
        app, ["eval", str(tex), "--bib", str(bib), "--rerank", "off", "--json", str(out), "-L", str(tmp_path / "l")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data) == {"papers", "metrics", "config"}
    assert {"recall@1", "recall@5", "recall@10", "recall@20", "mrr", "ndcg@10"} <= set(data["metrics"])
    assert data["papers"][0]["n_contexts"] == 3


def test_eval_cli_missing_file_is_a_one_line_error(tmp_path) -> None:
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "nope.tex"), "--bib", str(tmp_path / "x.bib")])
    assert result.exit_code != 0
    assert "nope.tex: no such file" in result.output
