"""Where to cite: sentences and features, the prior and draft models, and `citerec check`."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citerec.check.detector import draft_inputs, library_pointers, score_rows
from citerec.check.features import (
    DRAFT_FEATURE_NAMES,
    LIBRARY_NAMES,
    POINTER_NAMES,
    cue_rule_scores,
    draft_features,
    read_sentences,
    section_kind,
    text_features,
)
from citerec.check.model import DRAFT_MODEL_FILE, FRESH_MODEL_FILE, fit_model, load_model
from citerec.cli import app
from citerec.errors import CiterecError
from citerec.latex import read_draft
from citerec.linear import ModelInfo, fit_standardised, sigmoid

runner = CliRunner()

DRAFT = r"""\documentclass{article}
\begin{document}
\begin{abstract}
We study citation gaps in drafts. Our tool finds them quickly.
\end{abstract}
\section{Introduction}
Transformers have been shown to outperform recurrent networks on translation.
Recent work by Smith et al. reports large gains from pre-training on papers \cite{smith2020}.
We present a detector for sentences that need a citation.
\begin{figure}
\caption{The accuracy of our detector on the three test drafts.}
\end{figure}
\begin{verbatim}
This listing sentence is code and never a claim at all.
\end{verbatim}
\begin{equation}
E = m c^2
\end{equation}
\section{Results}
In Table 2 we show that our method is faster than the baseline.
Ok then.
\begin{thebibliography}{1}
\bibitem{smith2020} J. Smith. A bibliography entry is never a sentence to check.
\end{thebibliography}
\end{document}
"""


@pytest.fixture
def draft_file(tmp_path: Path) -> Path:
    path = tmp_path / "gaps.tex"
    path.write_text(DRAFT, encoding="utf-8")
    return path


def test_sentences_skip_abstract_code_bibliography_and_fragments(draft_file: Path) -> None:
    rows = read_sentences(read_draft(draft_file))
    texts = [r.text for r in rows]
    assert not any("citation gaps" in t or "listing sentence" in t or "bibliography entry" in t for t in texts)
    assert "Ok then." not in texts
    shown = next(r for r in rows if r.text.startswith("Transformers"))
    assert (shown.line, shown.end_line, shown.cited, shown.section_kind) == (7, 7, False, "introduction")
    assert next(r for r in rows if "Smith" in r.text).cited
    caption = next(r for r in rows if r.text.startswith("The accuracy"))
    assert caption.caption and not shown.caption
    assert next(r for r in rows if "Table 2" in r.text).section_kind == "results"


def test_section_kinds_and_cue_rule() -> None:
    assert section_kind("Related Work") == "related"
    assert section_kind("Experimental results") == "results"
    assert section_kind("Acknowledgements") == "other"
    rows = read_sentences(read_draft("x.tex", text=DRAFT))
    scores = dict(zip((r.text[:12] for r in rows), cue_rule_scores(rows), strict=True))
    assert scores["Transformers"] > scores["In Table 2 w"]


def test_features_are_named_and_paragraph_aware(draft_file: Path) -> None:
    rows = read_sentences(read_draft(draft_file))
    emb = np.eye(len(rows), 8)
    x, names = text_features(rows, emb, np.zeros((len(rows), len(LIBRARY_NAMES))))
    assert x.shape == (len(rows), len(names))
    # the paragraph vector of a sentence is the mean of the others in its paragraph, itself left out
    first = names.index("paragraph_emb_0")
    intro = [i for i, r in enumerate(rows) if r.paragraph == rows[0].paragraph]
    assert len(intro) == 3
    assert x[intro[1], first] == pytest.approx(0.5) and x[intro[0], first] == 0.0


def test_logistic_fit_separates_and_model_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.3 * rng.normal(size=400) > 0).astype(float)
    _, scale, coef, _ = fit_standardised(x, y, l2=0.1)
    assert coef[0] / scale[0] > 1.0 and coef[1] / scale[1] < -0.3 and abs(coef[2]) < 0.5
    model = fit_model(x, y, ["a", "b", "c"], l2=1.0, kind="check-test", info=ModelInfo("all-MiniLM-L6-v2@onnx-int8"))
    path = tmp_path / "m.json"
    model.save(path)
    again = load_model(path)
    assert again.kind == "check-test" and again.features == ("a", "b", "c")
    assert np.allclose(again.logit(x), model.logit(x), atol=1e-3)
    with pytest.raises(CiterecError, match="expects 3 features"):
        again.logit(x[:, :2])


def test_a_file_that_is_no_model_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(CiterecError, match="bad.json: not a citerec model"):
        load_model(bad)


def _paragraphs_draft(n: int) -> str:
    body = "\n\n".join(
        f"Sentence one of paragraph {k} says a thing. Sentence two of paragraph {k} says another." for k in range(n)
    )
    return "\\documentclass{article}\n\\begin{document}\n\\section{Introduction}\n" + body + "\n\\end{document}\n"


def test_draft_features_never_read_a_sentences_own_citation() -> None:
    rows = read_sentences(read_draft("p.tex", text=_paragraphs_draft(12)))
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(len(rows), 16))
    cited = rng.random(len(rows)) < 0.4
    features = draft_features(rows, cited, vectors)
    assert features.shape == (len(rows), len(DRAFT_FEATURE_NAMES))
    for i in range(len(rows)):
        flipped = cited.copy()
        flipped[i] = not flipped[i]
        assert np.allclose(draft_features(rows, flipped, vectors)[i], features[i]), DRAFT_FEATURE_NAMES
    # and they do read the others': a sentence whose whole paragraph cites reads 1.0 there
    cited_all = np.ones(len(rows), dtype=bool)
    assert draft_features(rows, cited_all, vectors)[0, 0] == 1.0


def test_the_draft_model_scores_a_sentence_higher_where_the_draft_cites_its_like() -> None:
    """Paragraphs alternate between two topics; the draft cites every sentence of the first eight
    paragraphs of one topic. A later, uncited sentence must score higher when the cited ones are about its
    topic than when they are about the other: its text, vector and prior are the same in both runs, and so
    is where it stands, so only the sentences alike in meaning can tell."""
    rows = read_sentences(read_draft("p.tex", text=_paragraphs_draft(20)))
    n = len(rows)
    rng = np.random.default_rng(5)
    model = load_model()
    dims = [i for i, name in enumerate(model.features) if name.startswith("emb_")]
    mean, scale = (
        np.asarray(model.part().mean)[dims],
        np.asarray(model.part().scale)[dims],
    )  # vectors like the ones the prior was trained on
    strength = np.zeros((n, len(LIBRARY_NAMES)))
    paragraph = np.array([r.paragraph for r in rows])
    paragraph = np.searchsorted(np.unique(paragraph), paragraph)
    topic = paragraph % 2
    shift = np.zeros((2, 384))
    shift[0, :30] = 2.0
    shift[1, 30:60] = 2.0
    vectors = mean + scale * (0.3 * rng.normal(size=(n, 384)) + shift[topic])
    later = paragraph >= 12
    scores = {}
    for cited_topic in (0, 1):
        cited = (paragraph < 8) & (topic == cited_topic)
        scores[cited_topic], read_the_draft = score_rows(rows, vectors, strength, model=model, cited=cited)
        assert read_the_draft
    own = np.where(topic == 0, scores[0], scores[1])[later]
    other = np.where(topic == 0, scores[1], scores[0])[later]
    assert (own > other).mean() >= 0.9, (own, other)
    # with too few citations to read, the prior alone scores
    few = np.zeros(n, dtype=bool)
    few[:2] = True
    _, read_few = score_rows(rows, vectors, strength, model=model, cited=few)
    assert not read_few


def test_shipped_draft_model_matches_its_inputs() -> None:
    rows = read_sentences(read_draft("x.tex", text=DRAFT))
    x, names = text_features(rows, np.zeros((len(rows), 384)), np.zeros((len(rows), len(LIBRARY_NAMES))))
    cited = np.array([r.cited for r in rows])
    _, draft_names = draft_inputs(rows, x, names, np.zeros((len(rows), 384)), cited, np.zeros(len(rows)))
    assert tuple(draft_names) == load_model(DRAFT_MODEL_FILE).features


@dataclass(frozen=True)
class _Found:
    key: str


class _TwoPaperIndex:
    """Just enough of an index for `library_pointers`: unit vectors for sentences and papers."""

    def __init__(self, sentences: dict[str, list[float]], papers: dict[str, list[float]]) -> None:
        self.sentences, self.papers = sentences, papers

    def query_vectors(self, texts: list[str]) -> np.ndarray:
        return np.array([self.sentences[t] for t in texts])

    def paper_vectors(self, keys: list[str]) -> np.ndarray:
        return np.array([self.papers[k] for k in keys])


def test_library_pointers_mark_the_sentence_a_paper_describes_best() -> None:
    """Sentence "a" is the one the draft says that paper A describes; "b" and "c" are the writer's own and
    answer A and B alike, a little. Only recalled papers count: C is in no list and changes nothing."""
    sentences = {"a": [0.9, 0.1, 0.0], "b": [0.5, 0.5, 0.0], "c": [0.4, 0.6, 0.0]}
    papers = {"A": [1.0, 0.0, 0.0], "B": [0.0, 1.0, 0.0], "C": [0.0, 0.0, 1.0]}
    index = _TwoPaperIndex(sentences, papers)
    lists = [[_Found("A"), _Found("B")], [_Found("B"), _Found("A")], [_Found("B"), _Found("A")]]
    out = library_pointers(index, ["a", "b", "c"], lists)
    z, rank, share = out.T
    assert z[0] > z[1] and z[0] > z[2]
    assert rank[0] == 0.0 and rank[1] < 0.0  # "a" is A's best sentence; "b" is no paper's best
    assert share[0] == pytest.approx(np.log1p(1 * 3 / 2)) and share[1] == 0.0  # best for A of two papers
    papers["C"] = [0.7, 0.7, 0.0]  # were it counted, "b" would be its best sentence
    assert np.array_equal(out, library_pointers(index, ["a", "b", "c"], lists))
    assert not library_pointers(index, ["a"], [[]]).any()  # nothing recalled: nothing points


def test_only_a_first_draft_reads_the_librarys_pointers() -> None:
    """In a draft that cites, the pointers change nothing (the draft model reads the prior, which has none); a
    first draft's scores (the fresh model) move with them."""
    rows = read_sentences(read_draft("p.tex", text=_paragraphs_draft(20)))
    n = len(rows)
    model, fresh = load_model(), load_model(FRESH_MODEL_FILE)
    dims = [i for i, name in enumerate(fresh.features) if name.startswith("emb_")]
    vectors = np.asarray(fresh.part().mean)[dims] + np.asarray(fresh.part().scale)[dims] * np.random.default_rng(
        1
    ).normal(size=(n, 384))
    strength = np.tile(np.asarray(fresh.part().mean)[[fresh.features.index(name) for name in LIBRARY_NAMES]], (n, 1))
    pointed = strength.copy()
    pointed[:, [LIBRARY_NAMES.index(name) for name in POINTER_NAMES]] += np.linspace(-1, 1, n)[:, None]
    cited = np.arange(n) % 3 == 0
    with_draft = [score_rows(rows, vectors, s, model=model, cited=cited) for s in (strength, pointed)]
    assert with_draft[0][1] and np.allclose(with_draft[0][0], with_draft[1][0])
    none = np.zeros(n, dtype=bool)
    alone = [score_rows(rows, vectors, s, model=model, cited=none) for s in (strength, pointed)]
    assert not alone[0][1] and not np.allclose(alone[0][0], alone[1][0])
    # a higher pointer share, all else equal, reads as more likely to need a citation
    share = fresh.part().weights[fresh.features.index("pointer_share")]
    assert share > 0


def test_shipped_models_match_the_features() -> None:
    rows = read_sentences(read_draft("x.tex", text=DRAFT))
    x, names = text_features(rows, np.zeros((len(rows), 384)), np.zeros((len(rows), len(LIBRARY_NAMES))))
    model, fresh = load_model(), load_model(FRESH_MODEL_FILE)
    assert fresh.features == tuple(names)
    assert model.features == tuple(name for name in names if name not in POINTER_NAMES)
    for shipped in (model, fresh):
        assert shipped.info.metrics["macro_average_precision"] > 0
        assert np.all((sigmoid(shipped.logit(x, names)) >= 0) & (sigmoid(shipped.logit(x, names)) <= 1))
    assert fresh.info.metrics["macro_average_precision"] > model.info.metrics["macro_average_precision"]
    with pytest.raises(CiterecError, match="needs features it was not given"):
        fresh.logit(x[:, :-1], names[:-1])
    with pytest.raises(CiterecError, match="expects 816 features"):
        model.logit(x)


def _check(library_dir: Path, draft: Path, *args: str):
    return runner.invoke(app, ["check", str(draft), "-L", str(library_dir), "--rerank", "off", *args])


@pytest.fixture
def gapped_draft(examples_dir: Path, tmp_path: Path) -> Path:
    """The example draft with two citations taken out: the sentences a writer forgot to cite."""
    folder = tmp_path / "gapped"
    shutil.copytree(examples_dir, folder)
    draft = folder / "draft.tex"
    text = draft.read_text(encoding="utf-8")
    for cite in (" \\cite{reimers2019sentence}", "\n\\citep{faerber2020citation}"):
        assert cite in text
        text = text.replace(cite, "")
    draft.write_text(text, encoding="utf-8")
    return draft


def test_check_json_ranks_the_forgotten_citations_first(example_library_dir, gapped_draft) -> None:
    result = _check(example_library_dir, gapped_draft, "--format", "json", "--threshold", "0.3", "--top", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sentences = {s["text"].split()[0]: s for s in data["sentences"]}
    assert set(sentences) == {"Citation", "Our", "Each"}  # every sentence without a citation, once
    assert {"file", "line", "end_line", "text", "score", "needs_citation", "suggestions"} <= set(sentences["Each"])
    assert all(0.0 <= s["score"] <= 1.0 and s["line"] <= s["end_line"] for s in sentences.values())
    assert all(s["needs_citation"] == (s["score"] >= 0.3) for s in sentences.values())
    assert sentences["Each"]["score"] > sentences["Our"]["score"] < sentences["Citation"]["score"]
    lines = gapped_draft.read_text(encoding="utf-8").splitlines()
    first = next(n for n, line in enumerate(lines, 1) if line.startswith("Each paper is represented"))
    assert (sentences["Each"]["line"], sentences["Each"]["end_line"]) == (first, first + 1)
    assert sentences["Each"]["needs_citation"] and not sentences["Our"]["needs_citation"]
    assert "reimers2019sentence" in [x["key"] for x in sentences["Each"]["suggestions"]]
    assert all(len(s["suggestions"]) <= 2 for s in sentences.values())
    assert not sentences["Our"]["suggestions"]  # below the threshold: no suggestions asked for


def test_check_table_and_bad_options(example_library_dir, examples_dir, gapped_draft, tmp_path) -> None:
    result = _check(example_library_dir, gapped_draft, "--threshold", "0.3", "--top", "1")
    assert result.exit_code == 0, result.output
    assert "of 3 uncited sentences" in result.output and "draft.tex:" in result.output
    assert "reimers2019sentence" in result.output and "Our tool works" not in result.output
    bad = _check(example_library_dir, examples_dir / "draft.tex", "--threshold", "1.5")
    assert bad.exit_code == 1 and "--threshold must be between 0 and 1" in bad.output
    missing = _check(example_library_dir, tmp_path / "nope.tex")
    assert missing.exit_code == 1 and "nope.tex: no such file" in missing.output
    broken = tmp_path / "broken.tex"
    broken.write_text("\\begin{document}\nText.\n\\begin{verbatim}\nnever closed\n", encoding="utf-8")
    recovered = _check(example_library_dir, broken)  # read on, the damage a warning
    assert recovered.exit_code == 0 and "broken.tex:3: \\begin{verbatim} is never ended" in recovered.output
    failed = _check(example_library_dir, broken, "--strict")
    assert failed.exit_code == 1 and "broken.tex:3: \\begin{verbatim} is never ended" in failed.output
    assert len(failed.output.strip().splitlines()) == 1
