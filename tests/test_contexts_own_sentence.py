"""Each passage keeps its own suggestions: the sentence holding the placeholder dominates its query.

The reported case: two adjacent sentences, each with a `\\cite{?}`, got the
identical five suggestions in the identical order, because each query was the
sentence together with its neighbour.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.index import FusionSettings
from citerec.latex import extract_contexts

PASSAGE = (
    "Dense passage retrieval with dual encoders \\cite{?} outperforms BM25 on open-domain QA. "
    "Rerankers built on BERT \\cite{?} refine the list."
)

BIB = r"""
@inproceedings{karpukhin2020dense, title = {Dense Passage Retrieval for Open-Domain Question Answering},
  author = {Karpukhin, Vladimir and Oguz, Barlas}, year = {2020},
  abstract = {Open-domain question answering relies on efficient passage retrieval. We show that retrieval can be
  implemented using dense representations alone, learned by a dual-encoder framework, outperforming BM25.}}
@article{nogueira2019passage, title = {Passage Re-ranking with {BERT}}, author = {Nogueira, Rodrigo and Cho, Kyunghyun},
  year = {2019}, abstract = {We re-implement BERT for query-based passage re-ranking and reach the top of the
  MS MARCO leaderboard, re-ranking the candidates of a first-stage retriever.}}
@article{robertson2009bm25, title = {The Probabilistic Relevance Framework: {BM25} and Beyond},
  author = {Robertson, Stephen and Zaragoza, Hugo}, year = {2009},
  abstract = {The probabilistic relevance framework and the BM25 ranking function for document retrieval.}}
@inproceedings{devlin2019bert,
  title = {{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding},
  author = {Devlin, Jacob}, year = {2019}, abstract = {A language representation model pre-trained on unlabeled text.}}
@inproceedings{he2016deep, title = {Deep Residual Learning for Image Recognition}, author = {He, Kaiming},
  year = {2016},
  abstract = {Residual networks ease the training of very deep convolutional networks for image classification.}}
@inproceedings{kingma2015adam, title = {Adam: A Method for Stochastic Optimization}, author = {Kingma, Diederik},
  year = {2015}, abstract = {An algorithm for first-order gradient-based optimization of stochastic objectives.}}
@inproceedings{chen2020simple, title = {A Simple Framework for Contrastive Learning of Visual Representations},
  author = {Chen, Ting}, year = {2020}, abstract = {Contrastive self-supervised learning of visual representations.}}
@inproceedings{lewis2020rag, title = {Retrieval-Augmented Generation for Knowledge-Intensive {NLP} Tasks},
  author = {Lewis, Patrick}, year = {2020},
  abstract = {Language generation models combined with a dense passage retriever over Wikipedia.}}
"""


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library of eight papers, two of them the answers of the reported passage."""
    from citerec.index import ensure_index
    from citerec.ingest import import_bibtex
    from citerec.library import Library

    folder = tmp_path_factory.mktemp("own-sentence")
    (folder / "refs.bib").write_text(BIB, encoding="utf-8")
    library = Library(folder / ".citerec")
    import_bibtex(library, folder / "refs.bib")
    ensure_index(library)
    return folder / ".citerec"


def test_contexts_carry_the_sentence_apart_from_its_neighbours() -> None:
    first, second = extract_contexts("<text>", text=PASSAGE, is_tex=True)
    assert first.text == second.text  # the window: both sentences
    assert first.sentence.startswith("Dense passage retrieval")
    assert second.sentence.startswith("Rerankers built on BERT")


def test_adjacent_placeholders_get_different_top_suggestions(small_library: Path) -> None:
    result = CliRunner().invoke(
        app, ["suggest", "-", "-L", str(small_library), "--rerank", "off", "--format", "json"], input=PASSAGE
    )
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.stdout)["contexts"]
    assert first["suggestions"][0]["key"] == "karpukhin2020dense"
    assert second["suggestions"][0]["key"] == "nogueira2019passage"
    assert [s["key"] for s in first["suggestions"]] != [s["key"] for s in second["suggestions"]]


def test_without_sentence_weight_the_two_passages_collapse(small_library: Path) -> None:
    """The old behaviour (window only) is still reachable and shows the bug the weight fixes."""
    from citerec.library import Library
    from citerec.suggest import Suggester, SuggestOptions

    suggester = Suggester(Library(small_library), options=SuggestOptions(rerank="off"))
    suggester.index.fusion = FusionSettings(sentence_weight=0.0)
    first, second = suggester.suggest_text(PASSAGE).contexts
    assert [s.key for s in first.suggestions] == [s.key for s in second.suggestions]
