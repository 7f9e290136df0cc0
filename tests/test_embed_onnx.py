"""The ONNX embedder: same vectors as sentence-transformers, int8 close to them, names, cache, torch-free runs."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from citerec.embed import DEFAULT_EMBEDDER, MINILM, embedder_name, load_embedder
from citerec.embed import onnx as embed_onnx
from citerec.embed.onnx import OnnxEmbedder, Variant, parse_variant
from citerec.errors import LibraryError, ModelError
from citerec.index import Index, ensure_index, read_manifest
from citerec.ingest import import_bibtex
from citerec.library import Library
from citerec.recall import recall_text
from tests.helpers.libraries import copy_library

REPO = Path(__file__).resolve().parents[1]
FP32 = f"{MINILM}@onnx-fp32"
LONG = (
    "Dense passage retrieval encodes questions and passages with two BERT encoders and retrieves by inner "
    "product; it outperforms BM25 on open-domain question answering benchmarks. "
) * 12  # ~400 word pieces: past both the 128-token document cap and the 256-token query cap


def texts_from_examples() -> list[str]:
    """Titles and abstracts of the example library, plus a long and a tiny text (padding and truncation)."""
    from citerec.ingest.bibtex import read_bibtex

    papers = read_bibtex(REPO / "data" / "examples" / "refs.bib").papers
    return [p.document_text() for p in papers] + [LONG, "x", "graph neural networks"]


@pytest.fixture(scope="module")
def torch_minilm():
    return load_embedder(MINILM, device="cpu")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return texts_from_examples()


def test_fp32_vectors_equal_sentence_transformers(torch_minilm, texts: list[str]) -> None:
    onnx = load_embedder(FP32)
    assert isinstance(onnx, OnnxEmbedder) and onnx.name == FP32 and onnx.dimension == 384
    expected = torch_minilm.embed_queries(texts)
    np.testing.assert_allclose(onnx.embed_queries(texts), expected, atol=1e-4)
    np.testing.assert_allclose(onnx.embed_documents(texts), torch_minilm.embed_documents(texts), atol=1e-4)
    # one at a time (no padding) gives the same rows as the length-sorted, padded batches
    np.testing.assert_allclose(onnx.embed_queries([texts[0]])[0], expected[0], atol=1e-4)


def test_document_token_cap_equals_sentence_transformers_at_that_length(torch_minilm, texts: list[str]) -> None:
    capped = load_embedder(f"{FP32},doc128")
    model = torch_minilm.model
    before = model.max_seq_length
    model.max_seq_length = 128
    try:
        expected = torch_minilm.embed_documents(texts)
    finally:
        model.max_seq_length = before
    np.testing.assert_allclose(capped.embed_documents(texts), expected, atol=1e-4)
    # queries keep the model's 256 tokens: the long text's query vector differs from its capped document vector
    long_row = texts.index(LONG)
    query, document = capped.embed_queries([LONG])[0], capped.embed_documents([LONG])[0]
    np.testing.assert_allclose(query, torch_minilm.embed_queries([LONG])[0], atol=1e-4)
    assert float(query @ document) < 0.9999 and np.allclose(document, expected[long_row], atol=1e-4)


def test_int8_default_is_close_in_cosine(torch_minilm, texts: list[str]) -> None:
    default = load_embedder()
    assert default.name == DEFAULT_EMBEDDER == "all-MiniLM-L6-v2@onnx-int8,doc128"
    expected = torch_minilm.embed_queries(texts)
    cosines = np.sum(default.embed_queries(texts) * expected, axis=1)
    assert cosines.min() > 0.97 and cosines.mean() > 0.99, cosines  # the lowest is the one-letter text
    documents = default.embed_documents(texts)
    np.testing.assert_allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    # a paper's vector does not depend on the papers embedded with it (incremental updates = rebuilds)
    np.testing.assert_allclose(default.embed_documents([texts[3]])[0], documents[3], atol=1e-6)


def test_variant_names_are_canonical_and_bad_ones_are_model_errors() -> None:
    assert embedder_name(None) == embedder_name("default") == DEFAULT_EMBEDDER
    assert embedder_name("all-MiniLM-L6-v2") == embedder_name("sentence-transformers/all-MiniLM-L6-v2") == MINILM
    assert embedder_name("sentence-transformers/all-MiniLM-L6-v2@ONNX-int8,doc128") == DEFAULT_EMBEDDER
    assert embedder_name("all-MiniLM-L6-v2@onnx") == FP32
    assert embedder_name("default@onnx-fp32,doc64") == f"{FP32},doc64"
    assert parse_variant("m", "onnx-int8,doc64") == Variant("m", "int8", 64)
    for bad in ("tensorrt", "onnx-int4", "onnx-int8,doc2", "onnx-int8,fast"):
        with pytest.raises(ModelError, match=f"embedder m@{bad}"):
            parse_variant("m", bad)


def test_cli_rejects_an_unknown_variant_in_one_line(example_library_dir: Path) -> None:
    from typer.testing import CliRunner

    from citerec.cli.index import app

    result = CliRunner().invoke(app, ["build", "-L", str(example_library_dir), "--rebuild", "--embedder", "x@onnx-q3"])
    assert result.exit_code == 1
    assert "x@onnx-q3" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_example_index_with_the_default_embedder_recalls_the_expected_paper(tmp_path: Path, examples_dir) -> None:
    library = Library(tmp_path / ".citerec")
    import_bibtex(library, examples_dir / "refs.bib")
    ensure_index(library)
    manifest = read_manifest(library.index_dir)
    assert manifest is not None and manifest.embedder == DEFAULT_EMBEDDER
    passage = "Approximate nearest neighbour search over billions of vectors on graphics processors"
    for method in ("dense", "hybrid"):
        assert recall_text(Index.open(library), passage, k=1, method=method)[0].key == "johnson2021billion"
    # the manifest pins the variant: another embedder's vectors are never searched with these
    with pytest.raises(LibraryError, match=rf"index was built with {DEFAULT_EMBEDDER}, not {MINILM}"):
        Index.open(library, embedder=MINILM)
    with pytest.raises(LibraryError, match="index was built with"):
        ensure_index(library, embedder=f"{FP32},doc128")


def test_a_cached_export_is_reused_and_a_damaged_one_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reference = load_embedder(FP32).embed_queries(["citation recommendation"])  # exported into the session cache
    shutil.copytree(embed_onnx.cache_root(), tmp_path / "cache")  # what an earlier run left
    monkeypatch.setenv("CITEREC_CACHE_DIR", str(tmp_path / "cache"))
    exports: list[Path] = []
    real_export = embed_onnx._export
    monkeypatch.setattr(embed_onnx, "_export", lambda s, p, target: (exports.append(target), real_export(s, p, target)))

    again = load_embedder(FP32)  # a valid cached file: no export
    assert exports == [] and np.allclose(again.embed_queries(["citation recommendation"]), reference)
    (model_file,) = (tmp_path / "cache" / "onnx").glob("*/model-fp32.onnx")

    with model_file.open("r+b") as handle:  # a truncated file, as a killed copy or a full disk leaves it
        handle.truncate(model_file.stat().st_size // 3)
    with caplog.at_level(logging.WARNING, logger="citerec.embed.onnx"):
        repaired = load_embedder(FP32)
    assert exports == [model_file] and "damaged" in caplog.text
    np.testing.assert_allclose(repaired.embed_queries(["citation recommendation"]), reference, atol=1e-6)
    meta = json.loads(model_file.with_suffix(".json").read_text())
    assert meta["size"] == model_file.stat().st_size


def test_running_the_default_embedder_does_not_import_torch() -> None:
    load_embedder()  # exported into the test cache by now (or here)
    code = (
        "import sys; from citerec.embed import load_embedder; "
        "v = load_embedder().embed_queries(['graph neural networks']); "
        "assert v.shape == (1, 384), v.shape; "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_cli_announces_the_one_time_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_library_dir: Path
) -> None:
    """A first use exports the model (10–25 s): the command line says so once, not on later runs."""
    from typer.testing import CliRunner

    from citerec.cli import app

    load_embedder(DEFAULT_EMBEDDER)  # the session cache holds the default export
    assert not embed_onnx.export_pending(DEFAULT_EMBEDDER)
    session_onnx = embed_onnx.cache_root() / "onnx"
    monkeypatch.setenv("CITEREC_CACHE_DIR", str(tmp_path / "empty-cache"))
    assert embed_onnx.export_pending(DEFAULT_EMBEDDER) and not embed_onnx.export_pending(MINILM)
    exports: list[Path] = []

    def copy_export(source, precision, target: Path) -> None:  # the session's export, instead of 10–25 s anew
        exports.append(target)
        shutil.copytree(session_onnx / target.parent.name, target.parent, dirs_exist_ok=True)

    monkeypatch.setattr(embed_onnx, "_export", copy_export)
    library = copy_library(example_library_dir, tmp_path / "lib")
    args = ["index", "build", "-L", str(library), "--rebuild"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert f"preparing {DEFAULT_EMBEDDER} for ONNX Runtime" in first.stderr and len(exports) == 1
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "preparing" not in again.stderr and len(exports) == 1
