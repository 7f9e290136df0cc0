"""Tests for the annotated .tex output."""

from __future__ import annotations

import shutil
from pathlib import Path

from citerec.latex import cite_keys_in, extract_contexts, read_draft
from citerec.texout import annotate, write_annotated

FIXTURES = Path(__file__).parent / "fixtures" / "latex"


def test_annotate_fills_and_comments(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "d")
    main = tmp_path / "d" / "main.tex"
    before = {p: p.read_text() for p in (tmp_path / "d").rglob("*.tex")}
    draft = read_draft(main)
    ctx = extract_contexts(draft)
    suggestions = {c.id: [f"new{c.id}"] for c in ctx}
    out = annotate(draft, suggestions)
    main_out = out[main]
    assert "Transformers are everywhere \\cite{new" in main_out
    lines = main_out.splitlines()
    assert lines[6].startswith("% citerec: \\citep{new")  # after line 6 (shifted by one)
    assert lines[9].startswith("% citerec: \\citep{new")  # after line 8, where the 2-line sentence ends
    for path, text in out.items():
        expected = set(cite_keys_in(before[path])) | {f"new{c.id}" for c in ctx if draft.file(c.file).path == path}
        assert set(cite_keys_in(text)) == expected
    written = write_annotated(out, in_place=False, out_dir=tmp_path / "out")
    assert all(p.read_text() == t for p, t in before.items()) and len(written) == len(out)
    write_annotated(out, in_place=True, out_dir=None)
    assert main.read_text() == main_out
    assert not list((tmp_path / "d").glob(".*.tmp"))
