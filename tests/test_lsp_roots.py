"""How the language server finds a file's project: root document, included files, named bibliographies, plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from citerec.lsp.editor import EditorSession
from citerec.lsp.library_sources import library_dir
from citerec.lsp.project import OpenProjects, citing_files, read_project
from citerec.lsp.settings import EditorSettings
from citerec.recall.plans import MIN_EVIDENCE
from tests.test_lsp_plans import _cited_text

MAIN = "\\documentclass{book}\n\\addbibresource[label=x]{refs/all.bib}\n\\begin{document}\n{body}\\end{document}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def thesis(root: Path, body: str = "\\include{chapters/one}\n\\input{chapters/two}\n") -> Path:
    write(root / "refs" / "all.bib", "@misc{a, title={A}}\n")
    write(root / "chapters" / "one.tex", "One \\cite{a}.\n")
    write(root / "chapters" / "two.tex", "Two.\n\\bibliography{chapters/extra,missing}\n")
    write(root / "chapters" / "extra.bib", "@misc{b, title={B}}\n")
    return write(root / "thesis.tex", MAIN.replace("{body}", body))


def test_a_chapter_belongs_to_the_document_that_includes_it(tmp_path: Path) -> None:
    main = thesis(tmp_path)
    chapter = tmp_path / "chapters" / "one.tex"
    project = read_project(chapter, chapter.read_text())
    assert project.root == main.resolve() and project.how == "included by"
    assert set(project.files) == {main.resolve(), chapter.resolve(), (tmp_path / "chapters" / "two.tex").resolve()}
    # Bibliographies resolve against the root document's folder, as LaTeX does, whichever file names them.
    assert project.bibs == ((tmp_path / "refs" / "all.bib").resolve(), (tmp_path / "chapters" / "extra.bib").resolve())
    assert any("'missing.bib' not found beside thesis.tex" in p for p in project.problems)


def test_the_magic_comment_names_the_root(tmp_path: Path) -> None:
    main = thesis(tmp_path, body="")  # includes nothing: only the comment ties the chapter to it
    chapter = write(tmp_path / "chapters" / "three.tex", "% !TeX root = ../thesis\nThree \\cite{a}.\n")
    project = read_project(chapter, chapter.read_text())
    assert project.root == main.resolve() and project.how == "magic comment"
    assert chapter.resolve() in project.files  # not included by the root on disk, still part of its project


def test_a_lone_file_is_its_own_project(tmp_path: Path) -> None:
    lone = write(tmp_path / "notes.tex", "Some notes \\cite{x}.\n")
    project = read_project(lone, lone.read_text())
    assert project.root == lone.resolve() and project.files == (lone.resolve(),) and project.bibs == ()


def test_includes_leading_outside_the_folder_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "secret.tex", "Secret \\cite{s}.\n")
    main = write(tmp_path / "paper" / "main.tex", "\\documentclass{article}\n\\input{../secret}\nText.\n")
    project = read_project(main, main.read_text())
    assert project.files == (main.resolve(),)
    assert any("refused" in p for p in project.problems)


def test_the_library_folder_beside_the_root_comes_before_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CITEREC_LIBRARY_DIR", raising=False)
    paper, workspace = tmp_path / "ws" / "paper", tmp_path / "ws"
    paper.mkdir(parents=True)
    assert library_dir(paper / "main.tex", [workspace]) == paper / ".citerec"  # none yet: beside the draft
    (workspace / ".citerec").mkdir()
    assert library_dir(paper / "main.tex", [workspace]) == workspace / ".citerec"
    (paper / ".citerec").mkdir()
    assert library_dir(paper / "main.tex", [workspace]) == paper / ".citerec"
    assert library_dir(None, []) == Path.cwd() / ".citerec"


def test_open_chapters_share_their_projects_plan_key(tmp_path: Path) -> None:
    main = thesis(tmp_path)
    projects = OpenProjects()
    for name in ("one", "two"):
        path = tmp_path / "chapters" / f"{name}.tex"
        projects.of[path.as_uri()] = read_project(path, path.read_text())
    one, two = ((tmp_path / "chapters" / f"{n}.tex").as_uri() for n in ("one", "two"))
    assert projects.key(one) == projects.key(two) == main.resolve().as_uri()
    assert main.resolve().as_uri() in projects.files()
    assert projects.drop(one) is None  # chapter two still reads by the project's plan
    assert projects.drop(two) == main.resolve().as_uri()


def test_a_project_read_a_file_at_a_time_finds_the_same_citations(tmp_path: Path) -> None:
    from citerec.latex import extract_contexts

    main = thesis(tmp_path, body="Intro \\cite{a}.\n\\include{chapters/one}\n\\input{chapters/two}\nEnd \\cite{b}.\n")
    project = read_project(main, main.read_text())
    whole = [(c.file, c.line_start, c.cited_keys) for c in extract_contexts(project.draft)]
    parts = [
        (c.file, c.line_start, c.cited_keys) for part in citing_files(project.draft) for c in extract_contexts(part)
    ]
    assert sorted(parts) == sorted(whole) and len(whole) == 3
    assert [part.main.name for part in citing_files(project.draft)] == ["thesis.tex", "one.tex"]  # two cites nothing


def test_the_plan_is_chosen_from_every_chapter(example_library_dir: Path, examples_dir: Path, tmp_path: Path) -> None:
    """A chapter that cites little reads by the plan the whole thesis's citations choose."""
    write(tmp_path / "related.tex", _cited_text(examples_dir))
    write(tmp_path / "intro.tex", "We study retrieval.\n")
    write(tmp_path / "main.tex", "\\documentclass{article}\n\\begin{document}\n\\input{intro}\n\\input{related}\n")
    intro = tmp_path / "intro.tex"
    project = read_project(intro, intro.read_text())
    engine = EditorSession(EditorSettings(library_dir=example_library_dir, workspace_bibs=False))
    try:
        engine.start([]).result(timeout=120)
        _, alone = engine.plans.fit(engine.suggester, "intro", intro.read_text()).result(timeout=120)
        assert alone is None  # too few citations in the chapter itself
        _, whole = engine.plans.fit(engine.suggester, "thesis", project.draft).result(timeout=120)
        assert whole is not None and whole.evidence > MIN_EVIDENCE
    finally:
        engine.close()
