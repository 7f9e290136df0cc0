"""`citerec index build|status|query` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli.index import app
from citerec.library import Library
from citerec.papers import Paper

runner = CliRunner()

PAPERS = [
    Paper(
        "vaswani2017", "Attention Is All You Need", "The Transformer uses attention instead of recurrence.", year=2017
    ),
    Paper("he2016", "Deep Residual Learning for Image Recognition", "Residual shortcut connections for deep CNNs."),
    Paper("jumper2021", "Protein structure prediction with AlphaFold", "Predicting 3D protein structure."),
    Paper("keeling2008", "Modeling Infectious Diseases", "Epidemic SIR models of disease transmission."),
]


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    root = tmp_path / ".citerec"
    Library(root).add(PAPERS)
    return root


def test_build_status_query(library_dir: Path) -> None:
    result = runner.invoke(app, ["build", "-L", str(library_dir)])
    assert result.exit_code == 0, result.output
    assert "indexed 4 papers with all-MiniLM-L6-v2" in result.output
    assert "4 embedded, 0 re-used, 0 removed" in result.output and "papers/s" in result.output

    again = runner.invoke(app, ["build", "-L", str(library_dir)])
    assert again.exit_code == 0 and "up to date" in again.output

    status = runner.invoke(app, ["status", "-L", str(library_dir)])
    assert status.exit_code == 0, status.output
    assert "all-MiniLM-L6-v2" in status.stdout and "flat" in status.stdout and "up to date" in status.stdout

    query = runner.invoke(
        app,
        ["query", "epidemic models of how a disease spreads", "-L", str(library_dir), "--format", "json", "-k", "2"],
    )
    assert query.exit_code == 0, query.output
    records = json.loads(query.stdout)
    assert len(records) == 2 and records[0]["key"] == "keeling2008"
    assert records[0]["title"] == "Modeling Infectious Diseases" and records[0]["dense_rank"] == 1

    table = runner.invoke(app, ["query", "residual shortcut connections", "-L", str(library_dir), "--method", "bm25"])
    assert table.exit_code == 0, table.output
    assert "he2016" in table.stdout and "bm25 recall" in table.stdout


def test_status_reports_a_stale_index_and_build_updates_it(library_dir: Path) -> None:
    assert runner.invoke(app, ["build", "-L", str(library_dir)]).exit_code == 0
    library = Library(library_dir)
    library.add([Paper("new2024", "Graph neural networks", "Message passing on graphs.")])
    library.remove(["he2016"])
    status = runner.invoke(app, ["status", "-L", str(library_dir)])
    assert "stale" in status.stdout and "1 new, 0 changed, 1 removed" in status.stdout
    query = runner.invoke(app, ["query", "graphs", "-L", str(library_dir), "--format", "json"])
    assert "library changed since the index was built" in query.stderr
    build = runner.invoke(app, ["build", "-L", str(library_dir)])
    assert "1 embedded, 3 re-used, 1 removed" in build.output


def test_errors_are_one_line_and_exit_1(library_dir: Path, tmp_path: Path) -> None:
    no_index = runner.invoke(app, ["status", "-L", str(library_dir)])
    assert no_index.exit_code == 1 and "no index in" in no_index.output
    query = runner.invoke(app, ["query", "anything", "-L", str(library_dir)])
    assert query.exit_code == 1 and "run `citerec index build`" in query.output
    empty = runner.invoke(app, ["build", "-L", str(tmp_path / "nothing")])
    assert empty.exit_code == 1 and "no papers in" in empty.output
    assert runner.invoke(app, ["build", "-L", str(library_dir)]).exit_code == 0
    other = runner.invoke(app, ["build", "-L", str(library_dir), "--embedder", "org/other-model"])
    assert other.exit_code == 1 and "index was built with all-MiniLM-L6-v2" in other.output
    missing = runner.invoke(app, ["build", "-L", str(library_dir), "--embedder", "org/other-model", "--rebuild"])
    assert missing.exit_code == 1 and "not available offline" in missing.output
    assert runner.invoke(app, ["query", "x", "-L", str(library_dir), "--method", "magic"]).exit_code == 2
