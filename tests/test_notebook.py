"""Executes `notebooks/explore.ipynb` on the example data, offline, the way a user runs it.

The notebook runs in a real Jupyter kernel (nbclient + ipykernel) started with
this interpreter, so it sees exactly the installed citerec. It runs twice:
recall only (no reranker: what a fresh machine without model weights does) and
with the tiny random Qwen3 reranker, so that the recall-vs-rerank cell shows
real reranked ranks. Any failing cell fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "explore.ipynb"
EXAMPLES = REPO / "data" / "examples"
CELL_TIMEOUT = 300
KERNEL_NAME = "python3"


def _library_keys() -> set[str]:
    from citerec.ingest import read_bibtex

    return {paper.key for paper in read_bibtex(EXAMPLES / "refs.bib").papers}


def _kernelspec(folder: Path) -> Path:
    """A `python3` kernelspec that runs ipykernel with this very interpreter.

    Put first on JUPYTER_PATH, it wins over any `python3` kernelspec of the
    user or the system, which could point at another Python without citerec.
    """
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (citerec tests)",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    return folder


def _kernel_env(reranker: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("CITEREC_LIBRARY_DIR", "MPLBACKEND")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        MPLBACKEND="Agg",
        CITEREC_EXAMPLES=str(EXAMPLES),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    env.pop("CITEREC_NOTEBOOK_RERANKER", None)
    if reranker is not None:
        env["CITEREC_NOTEBOOK_RERANKER"] = str(reranker)
    return env


def _text(cell) -> str:
    """Everything a code cell printed or displayed, as text (HTML included)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        data = output.get("data", {})
        for mime in ("text/plain", "text/html"):
            if mime in data:
                parts.append(data[mime])
    return "\n".join(parts)


def _tagged(nb, tag: str):
    cells = [cell for cell in nb.cells if tag in cell.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


@pytest.fixture(scope="module", params=["recall-only", "tiny-reranker"])
def executed(request, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module):
    """The notebook after running every cell; a failing cell raises CellExecutionError here."""
    reranker = request.getfixturevalue("tiny_reranker_dir") if request.param == "tiny-reranker" else None
    jupyter_path = _kernelspec(tmp_path_factory.mktemp("jupyter"))
    paths = [str(jupyter_path), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    monkeypatch_module.setenv("JUPYTER_PATH", os.pathsep.join(paths))
    before = {
        path for path in (EXAMPLES / ".citerec", NOTEBOOK.parent / ".citerec", REPO / ".citerec") if path.exists()
    }

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute(env=_kernel_env(reranker))

    after = {path for path in (EXAMPLES / ".citerec", NOTEBOOK.parent / ".citerec", REPO / ".citerec") if path.exists()}
    assert after == before, f"the notebook wrote a library into the repository: {sorted(after - before)}"
    return request.param, nb


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == KERNEL_NAME
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip the outputs before committing"
    assert sum(cell.cell_type == "markdown" for cell in nb.cells) >= 5, "each step needs a markdown explanation"


def test_notebook_uses_only_the_public_api():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert "import citerec" in source
    for internal in ("citerec.cli", "from citerec.", "import citerec."):
        assert internal not in source, f"the notebook should use `import citerec` only, not {internal}"


def test_public_api_names_survive_submodule_imports():
    """`citerec.suggest` / `citerec.evaluate` name functions, even once their modules were imported.

    Importing the submodule `citerec.suggest` (which `citerec.open_library`
    and the CLI do) sets the package attribute `suggest` to the module, so the
    lazy `__getattr__` is never asked for it again.
    """
    code = (
        "import types, citerec\n"
        "citerec.open_library\n"
        "import citerec.cli\n"
        "for name in ('suggest', 'evaluate'):\n"
        "    value = getattr(citerec, name)\n"
        "    assert callable(value) and not isinstance(value, types.ModuleType), (name, value)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_cell_runs(executed):
    _, nb = executed
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code_cells and all(cell.execution_count for cell in code_cells)
    for cell in code_cells:
        assert not [o for o in cell.outputs if o.output_type == "error"]


def test_library_table_lists_every_paper(executed):
    _, nb = executed
    html = "\n".join(o["data"]["text/html"] for o in _tagged(nb, "table").outputs if "text/html" in o.get("data", {}))
    assert html.count("<tr>") == len(_library_keys()) + 1  # the header row, then one row per paper
    assert all(key in html for key in _library_keys())


def test_embedding_plot_is_an_image(executed):
    _, nb = executed
    cell = _tagged(nb, "pca")
    images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert len(images[0]["data"]["image/png"]) > 10_000  # base64 of a real plot, not an empty canvas


def test_suggestions_name_keys_of_the_example_library(executed):
    variant, nb = executed
    text = _text(_tagged(nb, "suggestions"))
    suggested = {
        line.split()[1] for line in text.splitlines() if line.strip().startswith("->") and len(line.split()) > 2
    }
    suggested.discard("(nothing")
    assert suggested, text
    assert suggested <= _library_keys(), suggested - _library_keys()
    assert "draft.tex:" in text and "related.tex:" in text  # file:line, \input followed
    if variant == "recall-only":
        assert "recall only" in text
        # the BM25 passage of the example draft finds the BM25 paper by recall alone
        assert "robertson2009probabilistic" in text
    else:
        assert "reranked by" in text


def test_rank_comparison_shows_both_ranks(executed):
    variant, nb = executed
    cell = _tagged(nb, "ranks")
    text = _text(cell)
    assert "recall rank" in text and "rerank rank" in text
    assert any(key in text for key in _library_keys())
    assert [o for o in cell.outputs if "image/png" in o.get("data", {})]
    if variant == "recall-only":
        assert "not reranked" in text
    else:
        assert "not reranked" not in text and "P(yes)" in text
