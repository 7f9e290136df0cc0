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
from citerec.latex import extract_contexts
from citerec.recall import FusionSettings, RecallSpec, recall_text
from tests.helpers.recalling import recall_many

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

    window_only = FusionSettings(sentence_weight=0.0, wide_weight=0.0, topic_weight=0.0)
    suggester = Suggester(
        Library(small_library), options=SuggestOptions(rerank="off", recall=RecallSpec(fusion=window_only))
    )
    first, second = suggester.suggest_text(PASSAGE).contexts
    assert [s.key for s in first.suggestions] == [s.key for s in second.suggestions]


def test_a_passage_is_also_read_with_a_wider_window() -> None:
    paragraph = (
        "One is first. Two is next. Three cites here \\cite{x}. Four follows. Five ends.\n\nAlone here \\cite{y}."
    )
    middle, alone = extract_contexts("<text>", text=paragraph, is_tex=True)
    assert middle.sentence == "Three cites here."
    assert middle.text == "Two is next. Three cites here. Four follows."
    assert middle.wide == "One is first. Two is next. Three cites here. Four follows. Five ends."
    assert alone.text == alone.sentence == "Alone here." and alone.wide == ""  # nothing wider to read


def test_each_reading_counts_by_its_weight(small_library: Path) -> None:
    from citerec.index import Index
    from citerec.library import Library

    index = Index.open(Library(small_library))
    sentence, window = "Rerankers built on BERT refine the list.", "Dense passage retrieval with dual encoders."
    wide = "Image classification with very deep residual networks."

    def only(**weights: float) -> list[str]:
        fusion = FusionSettings(**({"sentence_weight": 0.0, "window_weight": 0.0, "wide_weight": 0.0} | weights))
        (candidates,) = recall_many(index, [window], k=8, sentences=[sentence], wides=[wide], fusion=fusion)
        return [c.key for c in candidates]

    alone = {text: [c.key for c in recall_text(index, text, k=8)] for text in (sentence, window, wide)}
    assert only(sentence_weight=1.0) == alone[sentence]
    assert only(window_weight=1.0) == alone[window]
    assert only(wide_weight=1.0) == alone[wide]
    assert only(sentence_weight=1.0, window_weight=1.0, wide_weight=1.0)[0] in {alone[t][0] for t in alone}


VAGUE = "\n\nWe train it with the simple method \\cite{?}.\n"
RETRIEVAL_DRAFT = (
    "Open-domain question answering retrieves passages first \\cite{karpukhin2020dense}.\n\n"
    "BM25 is the classic ranking function for document retrieval \\cite{robertson2009bm25}.\n\n"
    "Passage re-ranking with BERT refines the retrieved list \\cite{nogueira2019passage}.\n\n"
    "Retrieval-augmented generation conditions a language model on passages \\cite{lewis2020rag}." + VAGUE
)
VISION_DRAFT = (
    "Very deep convolutional networks classify images well \\cite{he2016deep}.\n\n"
    "Residual connections ease the training of deep image models \\cite{he2016deep}.\n\n"
    "Contrastive learning of visual representations needs no labels \\cite{chen2020simple}.\n\n"
    "Self-supervised visual features transfer to image classification \\cite{chen2020simple}." + VAGUE
)


def test_the_draft_topic_steers_a_vague_passage_when_asked(small_library: Path, tmp_path: Path) -> None:
    """Off by default; with a topic weight the same vague sentence follows its draft's subject.

    Draft evidence is off here: it would steer the vague sentence by what each draft cites (on purpose; see
    test_draft_evidence), and this is about the topic prior alone."""
    from citerec.library import Library
    from citerec.suggest import Suggester, SuggestOptions

    (tmp_path / "retrieval.tex").write_text(RETRIEVAL_DRAFT, encoding="utf-8")
    (tmp_path / "vision.tex").write_text(VISION_DRAFT, encoding="utf-8")
    plain = SuggestOptions(rerank="off", include_cited=True, recall=RecallSpec(draft_evidence=False))
    suggester = Suggester(Library(small_library), options=plain)
    drafts = [tmp_path / "retrieval.tex", tmp_path / "vision.tex"]

    def vague_rankings(options: SuggestOptions | None = None) -> list[list[str]]:
        results = suggester.suggest_paths(drafts, options=options)
        return [[s.key for s in next(c for c in r.contexts if c.context.placeholder).ranking] for r in results]

    retrieval, vision = vague_rankings()
    assert retrieval == vision  # the default: the sentence alone decides
    topical = plain.with_recall(fusion=FusionSettings(topic_weight=3.0))  # strong, for eight papers
    retrieval, vision = vague_rankings(topical)
    assert retrieval[0] in {"karpukhin2020dense", "robertson2009bm25", "nogueira2019passage", "lewis2020rag"}
    assert vision[0] in {"he2016deep", "chen2020simple", "kingma2015adam"}
