"""Fixtures shared across the suite: example data, an imported example library, a tiny reranker."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from tests.helpers.libraries import copy_library

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the default embedder's ONNX export is cached here, not in the user's cache, and re-used by later runs
os.environ.setdefault("CITEREC_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "citerec"))

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "data" / "examples"
EVAL_PAPERS = REPO.parent / "shared" / "eval" / "papers"
CORPUS_ARCHIVE = REPO.parent / "shared" / "corpus" / "corpus.tar.xz"


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def corpus_papers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared training corpus unpacked once per session (its papers and MANIFEST.tsv); skips without it.

    Unpacked outside the project and any repository: its documents are never copied into the project."""
    if not CORPUS_ARCHIVE.is_file():
        pytest.skip("shared corpus absent")
    target = tmp_path_factory.mktemp("corpus")
    with tarfile.open(CORPUS_ARCHIVE) as archive:
        members = [m for m in archive.getmembers() if m.isfile() or m.isdir()]  # no links, nothing outside
        if any(Path(m.name).is_absolute() or ".." in Path(m.name).parts for m in members):
            pytest.fail(f"{CORPUS_ARCHIVE}: a member leads outside the folder it is unpacked to")
        archive.extractall(target, members=members)
    return target / "papers"


@pytest.fixture(scope="session")
def tiny_reranker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3-Reranker saved to disk once per test session."""
    from tests.helpers.tiny_qwen import build_tiny_qwen3_reranker

    return build_tiny_qwen3_reranker(tmp_path_factory.mktemp("tiny-qwen3-reranker"))


@pytest.fixture(scope="session")
def _indexed_example_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example .bib imported and indexed once; tests get their own copy."""
    from citerec.index import ensure_index
    from citerec.ingest import import_bibtex
    from citerec.library import Library

    root = tmp_path_factory.mktemp("example-library") / ".citerec"
    library = Library(root)
    import_bibtex(library, EXAMPLES / "refs.bib")
    ensure_index(library)
    return root


@pytest.fixture
def example_library_dir(_indexed_example_library: Path, tmp_path: Path) -> Path:
    """A private copy of the indexed example library (tests may modify it)."""
    target = tmp_path / ".citerec"
    copy_library(_indexed_example_library, target)
    return target


@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray with 2 CPUs for a test module; its workers run this checkout's citerec."""
    ray = pytest.importorskip("ray")
    from citerec.engine.ray_runtime import runtime_env

    if ray.is_initialized():
        ray.shutdown()
    context = ray.init(num_cpus=2, include_dashboard=False, runtime_env=runtime_env(), log_to_driver=False)
    yield context
    from citerec.engine.ray_rerank import release_pool

    release_pool()
    ray.shutdown()


@pytest.fixture
def run(tmp_path: Path):
    """`citerec library ARGS…` on a library of the test's own (CliRunner)."""
    from typer.testing import CliRunner

    from citerec.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["library", *args, "-L", str(tmp_path / "lib")])

    return invoke
