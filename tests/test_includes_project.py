"""Projects TeX reads but a naive reader would not: subfiles chapters, a root kept in a subfolder, and a
draft that cites yet yields no context (a warning, never silence)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.evaluate import evaluate_paper
from citerec.latex import extract_contexts, read_draft, unread_citations
from citerec.latex.reader import project_top
from citerec.suggest import SuggestOptions

PROJECTS = Path(__file__).parent / "fixtures" / "projects"
SECRET = "Zanzibar quokka secret sentence \\cite{robertson2009}.\n"
runner = CliRunner()


def _keys(draft) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.file, c.cited_keys) for c in extract_contexts(draft)]


def _copy(name: str, where: Path) -> Path:
    """The fixture project copied under `where` (a folder outside any repository)."""
    target = where / name
    shutil.copytree(PROJECTS / name, target)
    return target


# -- subfiles ------------------------------------------------------------------------------------
def test_subfileinclude_and_nested_subfiles_are_followed() -> None:
    draft = read_draft(PROJECTS / "subfiles" / "main.tex")
    assert not draft.problems
    assert _keys(draft) == [
        ("chapters/intro.tex", ("robertson2009",)),
        ("chapters/intro/detail.tex", ("karpukhin2020",)),  # \subfile resolves from the chapter's folder
        ("chapters/method.tex", ("vaswani2017",)),
    ]
    assert unread_citations(draft, extract_contexts(draft)) is None


# -- a root in a subfolder: up to the project's top ----------------------------------------------
def test_a_root_in_a_subfolder_reaches_up_to_its_repository(tmp_path: Path, caplog) -> None:
    project = _copy("thesis", tmp_path)
    (project / ".git").mkdir()
    with caplog.at_level(logging.INFO, logger="citerec.latex.reader"):
        draft = read_draft(project / "main" / "thesis.tex")
    assert not draft.problems
    assert _keys(draft) == [("../chapters/one.tex", ("robertson2009",)), ("../chapters/two.tex", ("karpukhin2020",))]
    assert "dense passage retrieval" in extract_contexts(draft)[1].sentence  # a macro of the folder above's file
    followed = [r.getMessage() for r in caplog.records if "above the draft's folder" in r.getMessage()]
    assert len(followed) == 2 and followed[0].startswith("thesis.tex:4: \\input{../chapters/one} followed")


def test_the_bib_files_mark_the_top_when_there_is_no_repository(tmp_path: Path) -> None:
    project = _copy("thesis", tmp_path)
    root = project / "main" / "thesis.tex"
    assert project_top(root.parent) == root.parent.resolve()
    assert project_top(root.parent, [project / "refs" / "refs.bib"]) == project.resolve()
    draft = read_draft(root, bibs=[project / "refs" / "refs.bib"])
    assert not draft.problems and len(_keys(draft)) == 2
    alone = read_draft(root)  # no repository, no .bib: the draft's own folder is the top, as before
    assert _keys(alone) == []
    refused, missing = alone.problems
    assert "refused: it leads outside the draft's folder" in refused and "'chapters/two' not found" in missing


def test_nothing_past_the_top_is_read(tmp_path: Path) -> None:
    project = _copy("thesis", tmp_path)
    (project / ".git").mkdir()
    (tmp_path / "secret.tex").write_text(SECRET)
    root = project / "main" / "thesis.tex"
    text = root.read_text().replace("\\end{document}", "\\input{../../secret}\n\\end{document}")
    root.write_text(text)
    draft = read_draft(root)
    assert all("quokka" not in f.text for f in draft.files) and len(_keys(draft)) == 2
    (problem,) = draft.problems
    assert problem.startswith("thesis.tex:8: \\input{../../secret} refused: it leads outside its project (")
    assert "--allow-outside-includes" in problem
    assert any("quokka" in f.text for f in read_draft(root, allow_outside_includes=True).files)


def test_the_top_is_never_home_or_the_file_system_root(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    paper = home / "paper"
    paper.mkdir(parents=True)
    (home / ".git").mkdir()  # a home kept in git
    monkeypatch.setenv("HOME", str(home))
    assert project_top(paper) == paper.resolve()
    assert project_top(paper, [home / "refs.bib"]) == paper.resolve()
    assert project_top(paper, ["/refs.bib"]) == paper.resolve()


# -- a draft that cites but yields no context: a warning ---------------------------------------------
def test_an_unfollowed_include_is_warned_about() -> None:
    draft = read_draft(PROJECTS / "unfollowed" / "main.tex")
    warning = unread_citations(draft, extract_contexts(draft))
    assert warning == (
        "main.tex: no citation context read, but 1 .tex file(s) beside it cite (intro.tex): "
        "included in a way citerec does not follow?"
    )


def test_citations_that_no_context_holds_are_warned_about(tmp_path: Path) -> None:
    (tmp_path / "figures.tex").write_text(
        "\\begin{document}\n\\begin{table}\nx & \\cite{a} & \\cite{b}\n\\end{table}\n"
        "A first sentence without one.\n\\end{document}\n"
    )
    draft = read_draft(tmp_path / "figures.tex")
    assert unread_citations(draft, extract_contexts(draft)) == (
        "figures.tex: 2 cite command(s) in its source, but no citation context was read from them"
    )


def test_a_first_draft_without_citations_is_not_warned_about(tmp_path: Path) -> None:
    (tmp_path / "draft.tex").write_text("\\begin{document}\nNo citation yet.\n\\bibliography{refs}\n\\end{document}\n")
    (tmp_path / "old.tex").write_text("A placeholder \\cite{?} and \\nocite{*}.\n")
    draft = read_draft(tmp_path / "draft.tex")
    assert unread_citations(draft, extract_contexts(draft)) is None
    assert unread_citations(read_draft("<text>", text="Cites \\cite{a}.", is_tex=True), []) is not None


def test_the_warning_reaches_evaluation_and_the_cli(example_library_dir: Path) -> None:
    folder = PROJECTS / "unfollowed"
    evaluation = evaluate_paper(folder / "main.tex", folder / "refs.bib", options=SuggestOptions(rerank="off"))
    assert evaluation.n_contexts == 0
    assert any("intro.tex" in note for note in evaluation.notes)
    args = ["--paper", f"{folder / 'main.tex'}:{folder / 'refs.bib'}", "--rerank", "off"]
    result = runner.invoke(app, ["eval", *args])
    assert result.exit_code == 0, result.output
    assert "1 .tex file(s) beside it cite (intro.tex)" in result.stderr
    suggested = runner.invoke(
        app,
        ["suggest", str(folder / "main.tex"), "-L", str(example_library_dir), "--rerank", "off", "--format", "json"],
    )
    assert suggested.exit_code == 0, suggested.output
    assert "1 .tex file(s) beside it cite (intro.tex)" in " ".join(suggested.stderr.split())


@pytest.mark.parametrize("name", ["subfiles", "thesis"])
def test_the_fixture_projects_are_read_whole_by_the_cli(name: str, example_library_dir: Path) -> None:
    root = {"subfiles": "main.tex", "thesis": "main/thesis.tex"}[name]
    bib = {"subfiles": "refs.bib", "thesis": "refs/refs.bib"}[name]
    draft = PROJECTS / name / root
    args = ["suggest", str(draft), "-L", str(example_library_dir), "--rerank", "off", "--format", "json"]
    result = runner.invoke(app, [*args, "--bib", str(PROJECTS / name / bib)])
    assert result.exit_code == 0, result.output
    assert "refused" not in result.stderr and "no citation context" not in result.stderr
