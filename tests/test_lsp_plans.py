"""The language server reads a buffer's passages with the plan the buffer's own citations choose.

The choice runs in the background on open and save (`EditorSession.fit_plan`); a
completion then ranks with the buffer's plan. The engine is driven directly
(so the decision threshold can be moved); the server is driven over JSON-RPC
with the plan forced from the command line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from citerec.index import Index
from citerec.ingest import read_bibtex
from citerec.library import Library
from citerec.lsp.editor import EditorSession
from citerec.lsp.plans import plan_name
from citerec.lsp.settings import EditorSettings
from citerec.recall import FusionSettings, RecallSpec
from citerec.recall import plans as plans_module
from citerec.recall.plans import MIN_EVIDENCE, PASSAGE, WINDOW, window_plan
from citerec.suggest import SuggestOptions
from tests.helpers.libraries import copy_library
from tests.helpers.recalling import recall_many
from tests.test_lsp import Buffer, start_server, stop_server

QUERY = "Transformers replace recurrence with self-attention for sequence transduction."


def _cited_text(examples_dir: Path) -> str:
    papers = read_bibtex(examples_dir / "refs.bib").papers
    assert len(papers) > MIN_EVIDENCE
    lines = [f"Work on {re.sub(r'[^A-Za-z ]', ' ', p.title).lower()} is in \\cite{{{p.key}}}." for p in papers]
    return "\\section{Related work}\n" + "\n".join(lines) + "\n"


@pytest.fixture
def engine(example_library_dir: Path):
    engine = EditorSession(EditorSettings(library_dir=example_library_dir, workspace_bibs=False))
    engine.start([example_library_dir.parent]).result(timeout=120)
    yield engine
    engine.close()


def test_a_buffer_that_cites_enough_chooses_and_completions_follow(
    engine: EditorSession, examples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = "file:///draft/related.tex"
    assert engine.plans.plan_for(uri) == PASSAGE  # nothing chosen yet
    before, choice = engine.plans.fit(engine.suggester, uri, _cited_text(examples_dir)).result(timeout=120)
    assert before == PASSAGE  # what the buffer was read with until then
    assert choice is not None and choice.evidence > MIN_EVIDENCE
    assert engine.plans.plan_for(uri) == choice.plan
    monkeypatch.setattr(plans_module, "SWITCH_T", -math.inf)  # any evidence switches
    before, choice = engine.plans.fit(engine.suggester, uri, _cited_text(examples_dir)).result(timeout=120)
    assert choice.plan == WINDOW and engine.plans.plan_for(uri) == WINDOW
    ranked = engine.rank(QUERY, sentence=QUERY, plan=engine.plans.plan_for(uri), limit=8)
    index = engine.suggester.index
    (expected,) = recall_many(index, [QUERY], k=50, fusion=window_plan(FusionSettings()))
    assert [r.key for r in ranked] == [c.key for c in expected][:8]
    engine.plans.forget(uri)
    assert engine.plans.plan_for(uri) == PASSAGE


def test_a_closed_engine_is_not_ready_and_schedules_nothing(example_library_dir: Path) -> None:
    """A project read that finishes after shutdown must find the engine closed (a race CI once caught)."""
    engine = EditorSession(EditorSettings(library_dir=example_library_dir, workspace_bibs=False))
    engine.start([example_library_dir.parent]).result(timeout=120)
    assert engine.ready
    engine.close()
    assert engine.closed and not engine.ready
    with pytest.raises(RuntimeError, match="after shutdown"):  # why the server asks `ready` first
        engine.read_citations("file:///draft/a.tex", "No citations.")


def test_a_buffer_citing_little_keeps_the_default(engine: EditorSession, examples_dir: Path) -> None:
    uri = "file:///draft/draft.tex"
    text = (examples_dir / "draft.tex").read_text(encoding="utf-8")
    _, choice = engine.plans.fit(engine.suggester, uri, text).result(timeout=120)
    assert choice is None
    assert engine.plans.plan_for(uri) == PASSAGE


def test_a_buffer_that_does_not_parse_keeps_its_last_choice(engine: EditorSession, examples_dir: Path) -> None:
    uri = "file:///draft/related.tex"
    _, first = engine.plans.fit(engine.suggester, uri, _cited_text(examples_dir)).result(timeout=120)
    broken = _cited_text(examples_dir) + "\\begin{itemize} \\item {unclosed\n"
    assert engine.plans.fit(engine.suggester, uri, broken).result(timeout=120) == (plan_name(first), first)


@pytest.mark.asyncio
async def test_server_completions_use_the_forced_window_plan(
    _indexed_example_library: Path, tmp_path: Path, examples_dir: Path
) -> None:
    library = tmp_path / ".citerec"
    copy_library(_indexed_example_library, library)
    workspace = tmp_path / "draft"
    workspace.mkdir()
    client = await start_server(library, workspace, "--plan", "window", "--items", "6")
    try:
        buffer = Buffer(client, workspace, "intro.tex", f"{QUERY[:-1]} \\cite{{|}}.\n")
        result = await buffer.complete()
        keys = [item.label for item in result.items[:6]]
    finally:
        await stop_server(client)
    from citerec.lsp import cursor

    source, _, at = cursor.passage_source(buffer.text, buffer.text.index("{") + 1)
    passage = cursor.passage_at(source, at)
    index = Index.open(Library(library))
    (expected,) = recall_many(index, [passage.query], k=50, fusion=window_plan(FusionSettings()))
    assert keys == [c.key for c in expected][:6]


def test_the_plan_option_is_checked_before_the_server_starts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from citerec.cli import app

    result = CliRunner().invoke(app, ["lsp", "--library-dir", str(tmp_path), "--plan", "sideways"])
    assert result.exit_code != 0
    assert "--plan must be one of auto, passage, window" in result.output


def test_engine_options_forcing_a_plan_win_over_the_buffer(example_library_dir: Path) -> None:
    forced = SuggestOptions(rerank="off", recall=RecallSpec(plan="window"))
    engine = EditorSession(EditorSettings(library_dir=example_library_dir, options=forced))
    assert engine.plans.plan_for("file:///any.tex") == WINDOW
    assert not engine.plans.chooses  # the server then never spends a fit on a buffer


def test_choosing_a_plan_waits_for_completions_to_pause(example_library_dir: Path) -> None:
    """Lower bounds only: the choice never runs while a completion is ranked or just after one."""
    import threading
    import time

    from citerec.lsp.schedule import QUIET

    engine = EditorSession(EditorSettings(library_dir=example_library_dir))
    started = time.monotonic()
    engine.schedule.after_rankings()  # nothing ranked yet: no wait
    assert time.monotonic() - started < QUIET
    with engine.schedule._idle:
        engine.schedule._ranking = 1  # a completion in flight

    def finish() -> None:
        time.sleep(0.2)
        with engine.schedule._idle:
            engine.schedule._ranking = 0
            engine.schedule._last_ranked = time.monotonic()
            engine.schedule._idle.notify_all()

    threading.Thread(target=finish).start()
    started = time.monotonic()
    engine.schedule.after_rankings()
    assert time.monotonic() - started >= 0.2 + QUIET * 0.95


@pytest.mark.asyncio
async def test_server_work_after_shutdown_is_cancelled_quietly(example_library_dir: Path) -> None:
    """Diagnostics or a project read still in flight when the editor shuts down end without a traceback."""
    import asyncio

    from citerec.lsp.server import CiterecServer
    from citerec.lsp.settings import ServerSettings

    server = CiterecServer(ServerSettings(EditorSettings(library_dir=example_library_dir, workspace_bibs=False)))
    assert await server.run(sum, [1, 2]) == 3
    server.editor.close()
    server.pool.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(asyncio.CancelledError):
        await server.run(sum, [1, 2])  # not "cannot schedule new futures after shutdown"
    assert await server.ready_editor() is None
