"""The language server's cursor questions, on plain strings (no server, no models)."""

from __future__ import annotations

import pytest

from citerec.lsp.cursor import (
    citation_at,
    cite_at,
    document_key_spans,
    key_at,
    key_spans,
    passage_at,
    passage_source,
)


def _at(marked: str) -> tuple[str, int]:
    """Text with `|` marking the cursor → (text, offset)."""
    offset = marked.index("|")
    return marked.replace("|", "", 1), offset


@pytest.mark.parametrize(
    ("marked", "command", "prefix", "keys"),
    [
        ("As shown \\cite{|", "cite", "", ()),
        ("As shown \\cite{vasw|", "cite", "vasw", ("vasw",)),
        ("As shown \\citep[see][p.~3]{a, b,  dev|} here.", "citep", "dev", ("a", "b", "dev")),
        ("As shown \\parencite*{a,|b}.", "parencite", "", ("a", "b")),
        ("As \\textcites(g)[x]{k1}[y]{k2, ko|", "textcites", "ko", ("k2", "ko")),
        ("As \\citet{first,\n  sec|", "citet", "sec", ("first", "sec")),
        ("\\autocite{ab|cd} more", "autocite", "ab", ("abcd",)),
    ],
)
def test_cite_at_finds_the_argument_being_typed(marked: str, command: str, prefix: str, keys: tuple[str, ...]) -> None:
    text, offset = _at(marked)
    site = cite_at(text, offset)
    assert site is not None
    assert (site.command, site.prefix, site.keys) == (command, prefix, keys)
    assert text[site.key_start : offset] == prefix
    assert text[site.key_start : site.key_end] == site.current


@pytest.mark.parametrize(
    "marked",
    [
        "plain text |here",
        "\\emph{not a cite|",
        "\\cite{done} and then {|",
        "% \\cite{in a comment|",
        "\\cite{closed} text |",
        "\\ref{fig|",
    ],
)
def test_cite_at_is_none_outside_cite_arguments(marked: str) -> None:
    text, offset = _at(marked)
    assert cite_at(text, offset) is None


def test_key_spans_give_each_key_its_offsets_and_skip_placeholders_and_comments() -> None:
    text = "A \\citep[p.~2]{alpha, beta} and \\cite{?} and \\cites{gamma}{delta}. % \\cite{hidden}\n\\nocite{*}"
    spans = key_spans(text)
    assert [s.key for s in spans] == ["alpha", "beta", "gamma", "delta"]
    for span in spans:
        assert text[span.start : span.end] == span.key
    beta = text.index("beta") + 2
    found = key_at(text, beta)
    assert found is not None and found.key == "beta"
    assert key_at(text, text.index("and")) is None


def test_citation_at_finds_placeholders_of_every_kind() -> None:
    text = "First \\cite{?} then [citation needed] then \\cn."
    cit = citation_at(text, text.index("?"))
    assert cit is not None and cit.placeholder and cit.command == "cite"
    assert text[cit.arg_start : cit.arg_end] == "?"
    bracket = citation_at(text, text.index("needed"))
    assert bracket is not None and bracket.placeholder and bracket.command == ""
    assert text[bracket.start : bracket.end] == "[citation needed]"


def test_passage_is_the_sentence_at_the_cursor_with_the_typed_cite_removed() -> None:
    text, offset = _at(
        "\\section{Intro}\nTransformers changed NLP \\cite{vaswani2017attention}. "
        "BM25 ranks documents by term weights \\cite{rob|\n"
        "% a comment line\n"
        "Dense retrieval uses dual encoders.\n\nAn unrelated paragraph about cats."
    )
    source, base, at = passage_source(text, offset)
    assert "rob" not in source and "\\cite{?}" in source
    passage = passage_at(source, at, neighbours=0)
    assert passage is not None
    assert passage.sentence.startswith("BM25 ranks documents by term weights")
    assert "cats" not in passage.query and "comment" not in passage.query
    # Typing more of the key gives the same source, so the ranking can be reused.
    longer = text[:offset] + "ert" + text[offset:]
    assert passage_source(longer, offset + 3)[0] == source
    with_neighbours = passage_at(source, at, neighbours=1)
    assert with_neighbours is not None and "Transformers changed NLP" in with_neighbours.query


def test_passage_never_reads_included_files(tmp_path) -> None:
    text, offset = _at("Some text \\input{/etc/hostname} about BM25 \\cite{|")
    source, _, at = passage_source(text, offset)
    passage = passage_at(source, at)
    assert passage is not None and "BM25" in passage.query


def test_passage_survives_unbalanced_braces_while_typing() -> None:
    text, offset = _at("An \\emph{unfinished sentence about dense retrieval \\cite{|")
    source, _, at = passage_source(text, offset)
    passage = passage_at(source, at)
    assert passage is not None and "dense retrieval" in passage.query


def test_document_key_spans_match_a_full_scan_and_follow_edits(examples_dir) -> None:
    text = (examples_dir / "draft.tex").read_text(encoding="utf-8")
    assert document_key_spans(text) == key_spans(text)
    edited = text.replace("\\citep{karpukhin2020dense}", "\\citep{karpukhin2020dense, newkey}")
    assert [s.key for s in document_key_spans(edited)] == [s.key for s in key_spans(edited)]
    assert "newkey" in [s.key for s in document_key_spans(edited)]


@pytest.mark.parametrize(("encoding", "column"), [("utf-16", 9), ("utf-8", 12), ("utf-32", 8)])
def test_positions_count_columns_in_the_negotiated_encoding(encoding: str, column: int) -> None:
    from lsprotocol import types as lsp

    from citerec.lsp.positions import Positions

    text = "first line\nÉtude 😀 \\cite{x}\n"
    offset = text.index("\\cite")
    positions = Positions(text, lsp.PositionEncodingKind(encoding))
    assert positions.position(offset) == lsp.Position(1, column)
    assert positions.offset(lsp.Position(1, column)) == offset
    assert positions.offset(lsp.Position(5, 0)) == len(text)
