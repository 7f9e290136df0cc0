"""The Ray engine gives what the local path gives: vectors, recall, rerank scores; a killed build resumes.

One local Ray (2 CPUs) serves the whole module; collections are small and
short, so the module runs in a few minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.engine import EngineConfig, build_index
from citerec.engine.shards import ShardStore, plan_shards, shard_name
from citerec.errors import CiterecError
from citerec.index import Index, update_index
from citerec.index.manifest import read_manifest
from citerec.index.store import load_vectors
from citerec.library import Library
from citerec.papers import Paper
from citerec.recall import recall_text

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "data" / "examples"
CLI = [sys.executable, "-c", "from citerec.cli import main; main()"]
RAY2 = EngineConfig("ray", workers=2, shard_size=16)
runner = CliRunner()

QUERIES = [
    "Dense passage retrieval with dual encoders outperforms BM25 on open-domain question answering.",
    "Transformers replaced recurrence with self-attention for sequence transduction.",
    "We rerank candidates with a large language model that judges relevance.",
    "Citation recommendation suggests references for a passage of a scientific draft.",
    "Graph neural networks learn node representations by message passing.",
]


# -- synthetic collection (CI has no ACM-CR): topical titles and short abstracts ----------------------------
_TOPICS = {
    "retrieval": "dense sparse passage query document ranking index recall bm25 retriever",
    "vision": "image convolution segmentation detection pixel object camera scene visual",
    "language": "transformer attention token sequence translation language pretraining decoder",
    "graphs": "graph node edge message passing neighbourhood embedding link community",
    "speech": "audio speech acoustic phoneme recognition waveform speaker spectrogram",
    "robotics": "robot control policy manipulation grasp trajectory reinforcement reward",
}


def synthetic_papers(count: int, seed: int = 7) -> list[Paper]:
    rng = random.Random(seed)
    topics = list(_TOPICS)
    papers = []
    for number in range(count):
        topic = topics[number % len(topics)]
        words = _TOPICS[topic].split()
        title = " ".join(rng.sample(words, 4)).capitalize() + f" for {topic} study {number}"
        abstract = " ".join(rng.choice(words) for _ in range(18)) + "."
        papers.append(
            Paper(
                key=f"syn{number:05d}",
                title=title,
                abstract=abstract,
                authors=(f"Author {number % 97}",),
                year=2000 + number % 25,
            )
        )
    return papers


def make_library(root: Path, papers: list[Paper]) -> Library:
    library = Library(root)
    library.add(papers)
    return library


def example_library(root: Path) -> Library:
    from citerec.ingest import import_bibtex

    library = Library(root)
    import_bibtex(library, EXAMPLES / "refs.bib")
    return library


def vectors_of(library: Library) -> tuple[list[str], np.ndarray]:
    manifest = read_manifest(library.index_dir)
    assert manifest is not None
    return manifest.keys, np.asarray(load_vectors(library.index_dir / manifest.generation, manifest))


def assert_same_index(local: Library, distributed: Library, queries: list[str]) -> None:
    """Same manifest content, vectors within 1e-4, the same top-10 for every query (hybrid and dense)."""
    m_local, m_ray = read_manifest(local.index_dir), read_manifest(distributed.index_dir)
    assert m_local is not None and m_ray is not None
    assert m_ray.papers == m_local.papers
    assert (m_ray.embedder, m_ray.dimension, m_ray.dense) == (m_local.embedder, m_local.dimension, m_local.dense)
    keys_local, v_local = vectors_of(local)
    keys_ray, v_ray = vectors_of(distributed)
    assert keys_ray == keys_local
    assert np.abs(v_local - v_ray).max() < 1e-4
    index_local, index_ray = Index.open(local), Index.open(distributed)  # opened unchanged, as suggest/serve do
    for method in ("hybrid", "dense"):
        for query in queries:
            top_local = [c.key for c in recall_text(index_local, query, k=10, method=method)]
            top_ray = [c.key for c in recall_text(index_ray, query, k=10, method=method)]
            assert top_ray == top_local, (method, query)


# -- shards: pure planning, no Ray -------------------------------------------------------------------------
def test_shard_names_follow_content_and_embedder() -> None:
    papers = [(f"k{i}", f"h{i}") for i in range(10)]
    plan = plan_shards("model-a", papers, 4)
    assert [len(s.papers) for s in plan] == [4, 4, 2]
    assert [s.name for s in plan] == [s.name for s in plan_shards("model-a", papers, 4)]
    assert plan[0].name != plan_shards("model-b", papers, 4)[0].name
    edited = [("k0", "changed"), *papers[1:]]
    assert plan_shards("model-a", edited, 4)[0].name != plan[0].name
    assert plan_shards("model-a", edited, 4)[1].name == plan[1].name
    assert shard_name("m", [("a", "1")]) != shard_name("m", [("a", "2")])


def test_shard_store_checks_what_it_reads(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    shard = plan_shards("m", [("a", "1"), ("b", "2")], 8)[0]
    assert not store.has(shard)
    store.write(shard, np.ones((2, 3), np.float32))
    assert store.has(shard) and store.read(shard).shape == (2, 3)
    other = plan_shards("m", [("a", "1"), ("c", "3")], 8)[0]
    (store.folder / f"{other.name}.npy").write_bytes((store.folder / f"{shard.name}.npy").read_bytes())
    (store.folder / f"{other.name}.keys.json").write_text(json.dumps(["a", "b"]))
    with pytest.raises(CiterecError, match="does not match"):
        store.read(other)
    with pytest.raises(ValueError):
        store.write(shard, np.ones((3, 3), np.float32))


def test_import_citerec_does_not_load_ray() -> None:
    code = "import sys, citerec, citerec.engine, citerec.cli, citerec.suggest; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_ray_options_need_the_ray_engine(example_library_dir: Path) -> None:
    result = runner.invoke(app, ["index", "build", "-L", str(example_library_dir), "--workers", "2"])
    assert result.exit_code == 1
    assert "need --engine ray" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["index", "build", "-L", str(example_library_dir), "--engine", "spark"])
    assert result.exit_code == 1 and "--engine must be one of local, ray" in result.output


def test_more_workers_than_the_cluster_holds_is_a_one_line_error(ray_runtime, example_library_dir: Path) -> None:
    base = ["index", "build", "-L", str(example_library_dir), "--rebuild", "--engine", "ray"]
    result = runner.invoke(app, [*base, "--gpus-per-worker", "1"])
    assert result.exit_code == 1, result.output
    assert "need 1 GPUs; the Ray cluster has 0" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, [*base, "--workers", "3"])
    assert result.exit_code == 1 and "need 3 CPUs; the Ray cluster has 2" in result.output


# -- equality with the local path ----------------------------------------------------------------------------
def test_example_library_same_index_as_local(ray_runtime, example_library_dir: Path, tmp_path: Path) -> None:
    local = Library(example_library_dir)  # indexed by the local path (conftest)
    distributed = example_library(tmp_path / "ray")
    result = runner.invoke(
        app, ["index", "build", "-L", str(distributed.root), "--engine", "ray", "--workers", "2", "--shard-size", "8"]
    )
    assert result.exit_code == 0, result.output
    assert "34 embedded" in result.output
    assert_same_index(local, distributed, QUERIES)
    assert not (distributed.index_dir / "shards").exists()  # merged into the generation, then dropped
    # an up-to-date index is not rebuilt; a change embeds only the new paper, on Ray
    again = runner.invoke(app, ["index", "build", "-L", str(distributed.root), "--engine", "ray", "--workers", "2"])
    assert again.exit_code == 0 and "up to date" in again.output
    extra = Paper(key="new2024", title="Late interaction retrieval with token vectors", abstract="ColBERT-style.")
    for library in (local, distributed):
        library.add([extra])
    update_index(local)
    _, report = build_index(distributed, RAY2)
    assert (report.embedded, report.reused) == (1, 34)
    assert_same_index(local, distributed, QUERIES)


def test_synthetic_collection_same_index_as_local(ray_runtime, tmp_path: Path) -> None:
    papers = synthetic_papers(1000)
    local = make_library(tmp_path / "local", papers)
    distributed = make_library(tmp_path / "ray", papers)
    update_index(local)
    _, report = build_index(distributed, EngineConfig("ray", workers=2, shard_size=256))
    assert report.embedded == len(papers)
    queries = [*QUERIES, *(p.title for p in papers[::150])]
    assert_same_index(local, distributed, queries)


# -- resume ----------------------------------------------------------------------------------------------------
def test_killed_build_resumes_without_embedding_finished_shards(
    ray_runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import citerec.engine.ray_index as ray_index

    papers = synthetic_papers(300, seed=11)
    root = tmp_path / "lib"
    library = make_library(root, papers)
    shards_dir = root / "index" / "shards"
    address = ray_runtime.address_info["address"]
    command = [*CLI, "index", "build", "-L", str(root), "--engine", "ray", "--ray-address", address]
    command += ["--workers", "1", "--shard-size", "20"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(shards_dir.glob("*.npy"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    finished = {path.name.removesuffix(".npy") for path in shards_dir.glob("*.npy")}
    assert 2 <= len(finished) < 15
    assert read_manifest(library.index_dir) is None  # the killed build published nothing

    embedded: list[str] = []
    original = ray_index._run

    def recording_run(lib, name, pending, *args, **kwargs):
        embedded.extend(shard.name for shard in pending)
        return original(lib, name, pending, *args, **kwargs)

    monkeypatch.setattr(ray_index, "_run", recording_run)
    _, report = build_index(library, EngineConfig("ray", workers=1, shard_size=20))
    plan = {shard.name for shard in plan_shards(report_embedder(library), library.content_hashes(), 20)}
    assert report.embedded == len(papers)
    assert not finished & set(embedded)  # finished shards were not embedded again
    assert finished | set(embedded) == plan
    reference = make_library(tmp_path / "reference", papers)
    update_index(reference)
    _, v_ref = vectors_of(reference)
    _, v_resumed = vectors_of(library)
    assert np.abs(v_ref - v_resumed).max() < 1e-4


def report_embedder(library: Library) -> str:
    manifest = read_manifest(library.index_dir)
    assert manifest is not None
    return manifest.embedder


# -- reranking -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expand", ["none", "prf"])
def test_rerank_scores_equal_local(
    ray_runtime, example_library_dir: Path, tiny_reranker_dir: Path, expand: str
) -> None:
    from citerec.suggest import Suggester, SuggestOptions

    library = Library(example_library_dir)
    text = " ".join(f"{query} \\cite{{?}}" for query in QUERIES)
    common = {"rerank": "on", "reranker": str(tiny_reranker_dir), "recall_k": 12, "top_n": 12, "threshold": 0.0}
    common["expand"] = expand
    local = Suggester(library, options=SuggestOptions.of(**common)).suggest_text(text)
    distributed = Suggester(library, options=SuggestOptions.of(**common, engine=RAY2)).suggest_text(text)
    assert distributed.reranked and len(distributed.contexts) == len(local.contexts) >= 3
    for mine, theirs in zip(distributed.contexts, local.contexts, strict=True):
        assert mine.expanded_query == theirs.expanded_query and bool(mine.expanded_query) == (expand == "prf")
        assert [s.key for s in mine.ranking] == [s.key for s in theirs.ranking]
        for a, b in zip(mine.ranking, theirs.ranking, strict=True):
            assert a.rerank_score == pytest.approx(b.rerank_score, abs=1e-6)


def test_eval_cli_with_ray_engine_matches_local(ray_runtime, tmp_path: Path, tiny_reranker_dir: Path) -> None:
    tex = EXAMPLES / "draft.tex"
    bib = EXAMPLES / "refs.bib"
    reports = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.json"
        args = ["eval", str(tex), "--bib", str(bib), "--rerank", "on", "--reranker", str(tiny_reranker_dir)]
        args += ["--recall-k", "20", "--json", str(out), "-L", str(tmp_path / engine), "--engine", engine]
        if engine == "ray":
            args += ["--workers", "2"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        reports[engine] = json.loads(out.read_text())
    assert reports["ray"]["papers"][0]["n_contexts"] > 0
    for name, value in reports["local"]["metrics"].items():
        assert reports["ray"]["metrics"][name] == pytest.approx(value, abs=1e-9), name
