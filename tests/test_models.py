"""Models as artefacts: one format, what made a model, the embedder check, retraining from a clone."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citerec.check.features import DRAFT_FEATURES, LIBRARY_NAMES, PRIOR_FEATURES, read_sentences, text_features
from citerec.check.model import DRAFT_MODEL_FILE, FRESH_MODEL_FILE, MODEL_FILE
from citerec.cli import app
from citerec.errors import CiterecError
from citerec.latex import read_draft
from citerec.library import Library
from citerec.linear import EmbedderMismatch, LinearModel, ModelInfo, Part, fit_logistic, load_model, read_model
from citerec.recall.features import FEATURES, RANKER_FEATURES
from citerec.recall.learned import load_ranker, shipped_path
from citerec.suggest import Suggester, SuggestOptions
from citerec.train.collection import read_collection
from tests.conftest import EXAMPLES
from tests.helpers.embedders import TinyRandomEmbedder

SHIPPED = (shipped_path(), MODEL_FILE, FRESH_MODEL_FILE, DRAFT_MODEL_FILE)


def _model(
    weights: tuple[float, ...] = (1.0, -2.0), embedder: str = "all-MiniLM-L6-v2@onnx-int8,doc128"
) -> LinearModel:
    part = Part((0.0, 1.0), (1.0, 2.0), weights, 0.5)
    return LinearModel("test", ("a", "b"), {"default": part}, ModelInfo(embedder, ("p1", "p2"), "abc", {"l2": 1.0}))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_model_says_what_made_it(path: Path) -> None:
    model = read_model(path)
    assert model.info.embedder == "all-MiniLM-L6-v2@onnx-int8,doc128"
    assert len(model.info.papers) >= 10 and len(model.info.manifest_hash) == 64
    assert model.info.hyperparameters and model.info.citerec_version
    assert model.dumps() == path.read_text(encoding="utf-8")  # one writer: a re-save changes no byte


def test_held_out_metrics_are_recorded() -> None:
    ranker = load_ranker()
    macro = ranker.info.metrics["macro_recall@10"]
    assert macro["finishing"] > macro["passage"] and macro["fresh"] > macro["passage"] - 0.01
    assert set(ranker.info.metrics["leave_one_paper_out_recall@10"]) == set(ranker.info.papers)
    assert read_model(FRESH_MODEL_FILE).info.metrics["macro_average_precision"] > 0.2


def test_a_model_round_trips_and_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    _model().save(path)
    first = load_model(path)
    assert first == read_model(path) and first.part().weights == (1.0, -2.0)
    assert load_model(path) is first  # cached while the file is unchanged
    _model((3.0, 4.0)).save(path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert load_model(path).part().weights == (3.0, 4.0)  # a long-running server sees the retrained file
    x = np.array([[1.0, 3.0]])
    assert load_model(path).logit(x)[0] == pytest.approx(0.5 + 3.0 * 1.0 + 4.0 * 1.0)
    assert load_model(path).logit(np.array([[9.0, 3.0, 1.0]]), names=("z", "b", "a"))[0] == pytest.approx(7.5)


def test_a_file_that_is_no_model_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "citerec-linear-model", "format_version": 1}', encoding="utf-8")
    with pytest.raises(CiterecError, match=r"bad\.json: not a citerec model .*retrain it"):
        read_model(bad)
    with pytest.raises(CiterecError, match="cannot read the model"):
        load_model(tmp_path / "missing.json")
    _model().save(bad)
    with pytest.raises(CiterecError, match="a test model, not a ranker model"):
        load_model(bad, "ranker")


def test_the_embedder_check_knows_variants_from_other_models() -> None:
    model = _model()
    model.check_embedder("all-MiniLM-L6-v2@onnx-fp32")  # the same model run another way
    model.check_embedder("sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(EmbedderMismatch, match="trained on all-MiniLM-L6-v2@onnx-int8,doc128 vectors, not bge-small"):
        model.check_embedder("bge-small@onnx-int8")


def test_one_fitter_recovers_weights_and_keeps_a_prior() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=2000), rng.normal(size=2000), np.ones(2000)])
    y = (rng.random(2000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5)))).astype(float)
    w = fit_logistic(x, y, np.array([1e-6, 1e-6, 1e-8]))
    assert w == pytest.approx([2.0, -1.0, 0.5], abs=0.2)
    centre = np.array([5.0, 5.0, 5.0])
    assert fit_logistic(x[:0], y[:0], 1.0, centre=centre) == pytest.approx(centre)  # no data: the prior


def test_feature_names_rows_and_shares_come_from_one_list() -> None:
    assert RANKER_FEATURES.names == FEATURES == load_ranker().features
    rows = read_sentences(read_draft(EXAMPLES / "draft.tex"))
    vectors = np.random.default_rng(0).normal(size=(len(rows), 384))
    strength = np.zeros((len(rows), len(LIBRARY_NAMES)))
    x, names = text_features(rows, vectors, strength)
    assert tuple(names) == read_model(FRESH_MODEL_FILE).features
    assert DRAFT_FEATURES.names == read_model(DRAFT_MODEL_FILE).features[-len(DRAFT_FEATURES.names) :]
    # each column is its own feature's function, wherever it stands
    source = dataclasses.replace(PRIOR_FEATURES).features
    log_words = next(f for f in source if f.name == "log_words")
    assert np.array_equal(x[:, names.index("log_words")], np.log1p([len(r.text.split()) for r in rows]))
    assert log_words.share == ""


def _tiny_suggester(tmp_path: Path, **options: object) -> Suggester:
    """The example library indexed by a tiny random embedder (no MiniLM at all)."""
    from citerec.index import ensure_index
    from citerec.ingest import import_bibtex

    library = Library(tmp_path / ".citerec")
    import_bibtex(library, EXAMPLES / "refs.bib")
    index = ensure_index(library, embedder=TinyRandomEmbedder())
    return Suggester(library, options=SuggestOptions(rerank="off", **options), index=index)  # type: ignore[arg-type]


def test_a_ranking_trained_on_another_embedder_is_reported_not_used(tmp_path: Path) -> None:
    suggester = _tiny_suggester(tmp_path)
    result = suggester.suggest_path(EXAMPLES / "draft.tex")
    notes = [n for n in result.notes if "ranking" in n]
    assert (
        len(notes) == 1 and "trained on all-MiniLM-L6-v2@onnx-int8,doc128 vectors, not tiny-random-embedder" in notes[0]
    )
    assert "ranked by the reading plans without it" in result.to_json()["notes"][-1]
    assert any(item.suggestions for item in result.contexts)  # still suggests, by the plans
    assert all(not s.why or not any("cited" in w for w in s.why) for item in result.contexts for s in item.suggestions)
    again = suggester.suggest_path(EXAMPLES / "draft.tex")
    assert [n for n in again.notes if "ranking" in n] == notes  # said once, not once per run
    with pytest.raises(EmbedderMismatch):
        _tiny_suggester(tmp_path / "strict", strict=True).suggest_path(EXAMPLES / "draft.tex")


def test_a_ranker_file_made_for_another_embedder_is_refused_on_the_bundled_one(
    example_library_dir: Path, tmp_path: Path
) -> None:
    other = load_ranker()
    other = dataclasses.replace(other, info=dataclasses.replace(other.info, embedder="bge-small-en@onnx-int8"))
    path = tmp_path / "other.json"
    other.save(path)
    runner = CliRunner()
    args = ["suggest", str(EXAMPLES / "draft.tex"), "-L", str(example_library_dir), "--rerank", "off"]
    result = runner.invoke(app, [*args, "--ranker", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "trained on bge-small-en@onnx-int8 vectors, not all-MiniLM-L6-v2" in result.stdout
    strict = runner.invoke(app, [*args, "--ranker", str(path), "--strict"])
    assert strict.exit_code == 1 and "trained on bge-small-en@onnx-int8 vectors" in strict.output


def test_where_to_cite_refuses_another_embedders_vectors(tmp_path: Path) -> None:
    from citerec.check import check_draft

    suggester = _tiny_suggester(tmp_path)
    with pytest.raises(EmbedderMismatch, match="the check-prior model was trained on all-MiniLM-L6-v2"):
        check_draft(suggester, read_draft(EXAMPLES / "draft.tex"))


def _fixture_collection(root: Path) -> Path:
    """Two small papers citing the example library: the example draft and its related-work section alone."""
    for name in ("draft", "related"):
        (root / name).mkdir(parents=True)
        shutil.copy(EXAMPLES / "refs.bib", root / name / "refs.bib")
    shutil.copytree(EXAMPLES / "sections", root / "draft" / "sections")
    shutil.copy(EXAMPLES / "draft.tex", root / "draft" / "draft.tex")
    body = (EXAMPLES / "sections" / "related.tex").read_text(encoding="utf-8")
    (root / "related" / "main.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\n" + body + "\n\\end{document}\n", encoding="utf-8"
    )
    (root / "MANIFEST.tsv").write_text(
        "name\trepo\tcommit\tpaths\tfield\n"
        "draft\texample\t0\tdraft.tex,sections/related.tex,refs.bib\tcomputer science\n"
        "related\texample\t0\tmain.tex,refs.bib\tcomputer science\n",
        encoding="utf-8",
    )
    return root


def test_training_from_a_clone_twice_gives_byte_identical_files(tmp_path: Path) -> None:
    papers = _fixture_collection(tmp_path / "papers")
    runner = CliRunner()
    outputs = []
    for run in ("one", "two"):
        out = tmp_path / run
        cache = tmp_path / f"cache-{run}"  # nothing shared: each run reads, embeds and recalls anew
        ranker = runner.invoke(
            app, ["train", "ranker", "--papers", str(papers), "--out", str(out / "ranker.json"), "--cache", str(cache)]
        )
        assert ranker.exit_code == 0, ranker.output
        check = runner.invoke(
            app, ["train", "check", "--papers", str(papers), "--out-dir", str(out), "--cache", str(cache / "check")]
        )
        assert check.exit_code == 0, check.output
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert set(outputs[0]) == {"ranker.json", "model.json", "fresh_model.json", "draft_model.json"}
    assert outputs[0] == outputs[1]
    model = read_model(tmp_path / "one" / "ranker.json")
    assert model.info.papers == ("draft", "related") and model.info.embedder.startswith("all-MiniLM-L6-v2")
    assert "leave_one_paper_out_recall@10" in model.info.metrics
    for name in ("model.json", "fresh_model.json", "draft_model.json"):  # every model says how it measured
        metrics = read_model(tmp_path / "one" / name).info.metrics
        assert 0.0 < metrics["macro_average_precision"] <= 1.0 and set(metrics["average_precision"])
    drafted = read_model(tmp_path / "one" / "draft_model.json").info.metrics
    assert 0.0 < drafted["prior_alone_macro_average_precision"] <= 1.0


def test_training_names_a_bad_collection(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train", "ranker", "--papers", str(tmp_path)])
    assert result.exit_code == 1 and f"{tmp_path}: no MANIFEST.tsv" in result.output
    assert runner.invoke(app, ["train", "ranker"]).exit_code == 2  # the data folder is required
    papers = _fixture_collection(tmp_path / "papers")
    split = tmp_path / "split.json"
    split.write_text('{"seed": 1, "train": ["draft"], "dev": [], "test": ["related"]}', encoding="utf-8")
    alone = runner.invoke(app, ["train", "ranker", "--papers", str(papers), "--split", str(split)])
    assert alone.exit_code == 1 and "at least two papers" in alone.output


def test_where_to_cite_trained_on_a_split_is_measured_on_its_held_out_part(tmp_path: Path) -> None:
    papers = _fixture_collection(tmp_path / "papers")
    (papers / "again").mkdir()  # a third paper: the related-work section with its own library
    shutil.copy(papers / "related" / "main.tex", papers / "again" / "main.tex")
    shutil.copy(EXAMPLES / "refs.bib", papers / "again" / "refs.bib")
    with (papers / "MANIFEST.tsv").open("a", encoding="utf-8") as manifest:
        manifest.write("again\texample\t0\tmain.tex,refs.bib\tcomputer science\n")
    split = tmp_path / "split.json"
    split.write_text('{"seed": 1, "train": ["draft", "related"], "dev": ["again"], "test": []}', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["train", "check", "--papers", str(papers), "--split", str(split), "--out-dir", str(out)]
        + ["--cache", str(tmp_path / "cache")],
    )
    assert result.exit_code == 0, result.output
    assert "on 1 held-out papers" in " ".join(result.output.split())
    for name in ("model.json", "fresh_model.json", "draft_model.json"):
        model = read_model(out / name)
        assert model.info.papers == ("draft", "related")  # trained on the train part alone
        assert model.info.metrics["measured"] == "on 1 held-out papers"
        assert set(model.info.metrics["average_precision"]) == {"again"}  # measured on the dev part alone


def test_training_reads_a_root_kept_in_a_subfolder(tmp_path: Path) -> None:
    """A root in a subfolder that inputs `../body` (valid LaTeX, run from the project's top) was read as empty by
    training: its sentences were lost to the where-to-cite models and its passages to the ranking."""
    from citerec.train.check import load_paper
    from citerec.train.ranker import train_ranker

    papers = _fixture_collection(tmp_path / "papers")
    related = papers / "related"
    (related / "tex").mkdir()
    (related / "main.tex").rename(related / "tex" / "main.tex")
    body = (EXAMPLES / "sections" / "related.tex").read_text(encoding="utf-8")
    (related / "body.tex").write_text(body, encoding="utf-8")
    (related / "tex" / "main.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\n\\input{../body}\n\\end{document}\n", encoding="utf-8"
    )
    manifest = (papers / "MANIFEST.tsv").read_text(encoding="utf-8")
    (papers / "MANIFEST.tsv").write_text(manifest.replace("\tmain.tex,refs.bib", "\ttex/main.tex,refs.bib"), "utf-8")
    data, _ = load_paper("related", related / "tex" / "main.tex", [related / "refs.bib"], tmp_path / "check")
    assert data.rows and data.cited.any()
    _, table = train_ranker(papers, tmp_path / "ranker")
    assert table["related"]["finishing"] > 0  # its cited passages were read (0.0 when none are)


def test_make_models_reproduces_the_shipped_ranking(corpus_papers: Path, tmp_path: Path) -> None:
    """The shipped ranking is what `citerec train ranker` makes from the corpus's train split, byte for byte
    (from a cold cache: the pooled library is imported, embedded and every cited passage recalled anew)."""
    from citerec.train.ranker import train_ranker
    from citerec.train.splits import read_split, select

    split = read_split(Path(__file__).resolve().parents[1] / "data" / "splits" / "corpus.json")
    names = select([p.name for p in read_collection(corpus_papers)], split, "train")
    model, _ = train_ranker(corpus_papers, tmp_path / "cache", names=names)
    assert model.dumps() == shipped_path().read_text(encoding="utf-8")
    assert len(model.info.papers) == len(names) > 100 and not set(model.info.papers) & set(split.names("test"))


def test_a_paper_without_cited_passages_trains_with_the_others(tmp_path: Path) -> None:
    from citerec.train.ranker import train_ranker

    papers = _fixture_collection(tmp_path / "papers")
    (papers / "silent").mkdir()
    shutil.copy(EXAMPLES / "refs.bib", papers / "silent" / "refs.bib")
    (papers / "silent" / "main.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\nNothing here is cited.\n\\end{document}\n", encoding="utf-8"
    )
    with (papers / "MANIFEST.tsv").open("a", encoding="utf-8") as manifest:
        manifest.write("silent\texample\t0\tmain.tex,refs.bib\tcomputer science\n")
    model, table = train_ranker(papers, tmp_path / "cache")
    assert model.info.papers == ("draft", "related", "silent") and table["silent"]["finishing"] == 0.0
