"""Tests for reading drafts into citation contexts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from citerec.errors import InputError
from citerec.latex import cite_keys_in, extract_contexts, read_draft

FIXTURES = Path(__file__).parent / "fixtures" / "latex"
EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "papers"


def test_fixture_contexts_lines_and_keys() -> None:
    ctx = extract_contexts(FIXTURES / "main.tex")
    by_file = [(c.file, c.line_start, c.line_end, c.cited_keys, c.placeholder) for c in ctx]
    assert by_file == [
        ("main.tex", 6, 6, ("robertson2009", "sparck1972"), False),
        ("main.tex", 7, 8, ("karpukhin2020",), False),
        ("main.tex", 10, 10, (), True),
        ("chapters/related.tex", 2, 2, ("alpha", "beta"), False),
        ("chapters/related.tex", 2, 2, (), True),
    ]
    assert ctx[0].section == "Introduction" and ctx[3].section == "Related work"
    assert "\\cite" not in ctx[0].text and "e.g. BM25 as in Robertson et al." in ctx[0].sentence
    assert "50% gain" in ctx[1].text  # neighbour sentence, escaped percent kept
    keys = {k for c in ctx for k in c.cited_keys}
    assert not keys & {"commented_out", "dropped_key", "preamble_key"}


@pytest.mark.parametrize(
    ("tex", "keys", "placeholder"),
    [
        (r"\cite{a}", ["a"], False),
        (r"\citep*[see][p.~3]{a, b}", ["a", "b"], False),
        (r"\Textcite{a}", ["a"], False),
        (r"\autocites(pre)(post)[x]{a}[y][z]{b,c}", ["a", "b", "c"], False),
        (r"\citeA{a} \shortcite{b} \citenum{c}", ["a", "b", "c"], False),
        (r"\cite{?}", [], True),
        (r"\cite{}", [], True),
        (r"\citep{TODO}", [], True),
        (r"[citation needed]", [], True),
        (r"\todo[inline]{citation for this}", [], True),
        (r"\cn", [], True),
    ],
)
def test_cite_forms(tex: str, keys: list[str], placeholder: bool) -> None:
    assert cite_keys_in(tex) == keys
    ctx = extract_contexts("x.tex", text=f"A sentence here {tex}.", is_tex=True)
    assert len(ctx) == 1 and ctx[0].placeholder is placeholder and list(ctx[0].cited_keys) == keys


def test_abbreviations_do_not_split() -> None:
    text = r"We compare, e.g. BM25 vs. dense, i.e. two kinds; see Fig.~2 and Eq. 3 with 3.5 points \cite{k}. Next one."
    ctx = extract_contexts("x.tex", text=text, is_tex=True, all_sentences=True)
    assert len(ctx) == 2 and ctx[0].cited_keys == ("k",)


def test_paragraph_mode_and_markdown() -> None:
    para = extract_contexts(FIXTURES / "main.tex", mode="paragraph")
    assert any(set(c.cited_keys) >= {"robertson2009", "karpukhin2020"} for c in para)
    md = extract_contexts("a.md", text="# Abstract\n\nWe study X [@smith2020]. It is new.\n")
    assert md[0].cited_keys == ("smith2020",) and md[0].section == "Abstract" and md[0].line_start == 3


def test_missing_include_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "m.tex").write_text("Text \\cite{a}.\n\\input{nope}\n")
    draft = read_draft(tmp_path / "m.tex")
    assert draft.problems and draft.problems[0].startswith("m.tex:2:")


def test_bad_input(tmp_path: Path) -> None:
    (tmp_path / "bad.tex").write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(InputError, match=r"bad.tex:2:"):
        read_draft(tmp_path / "bad.tex")
    (tmp_path / "bin.tex").write_bytes(b"\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        read_draft(tmp_path / "bin.tex")
    (tmp_path / "open.tex").write_text("a\n\\iffalse\nb\n\nKept \\cite{k}.\n")
    with pytest.raises(InputError, match=r"open.tex:2:"):
        read_draft(tmp_path / "open.tex", strict=True)
    draft = read_draft(tmp_path / "open.tex")
    assert [str(w) for w in draft.warnings] == [
        "open.tex:2: \\iffalse is never closed by \\fi; skipped to the end of the paragraph"
    ]
    assert [c.cited_keys for c in extract_contexts(draft)] == [("k",)]


@pytest.mark.skipif(not (EVAL / "MANIFEST.tsv").is_file(), reason="shared eval papers absent")
def test_eval_papers() -> None:
    with open(EVAL / "MANIFEST.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    low = []
    for row in rows:
        ctx = extract_contexts(EVAL / row["name"] / row["paths"].split(",")[0])
        found = len({k.lower() for c in ctx for k in c.cited_keys})
        if found < 0.9 * int(row["n_distinct_keys_cited"]):
            low.append((row["name"], found, row["n_distinct_keys_cited"]))
    assert len(low) <= 3, low


def test_corpus_papers(corpus_papers: Path) -> None:
    """Every corpus document that cites yields citation contexts (read with its .bib files marking its
    project's top, as the benchmarks read it), and most of its cited keys: the rest sit in tables and
    \\iffalse blocks, which TeX does not typeset as prose."""
    with open(corpus_papers / "MANIFEST.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    silent, low = [], []
    for row in rows:
        paths = row["paths"].split(",")
        base = corpus_papers / row["name"]
        draft = read_draft(base / paths[0], bibs=[base / p for p in paths if p.endswith(".bib")])
        contexts = [c for c in extract_contexts(draft) if c.cited_keys]
        if int(row["n_cite_commands"]) and not contexts:
            silent.append(row["name"])
        found = len({k.lower() for c in contexts for k in c.cited_keys})
        if found < 0.5 * int(row["n_distinct_keys_cited"]):
            low.append((row["name"], found, row["n_distinct_keys_cited"]))
    assert len(rows) >= 148 and not silent and not low, (silent, low)


def test_blocks_floats_and_imports(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "b.tex").write_text("Imported text \\cite{imp}.\n")
    (tmp_path / "m.tex").write_text(
        "\\begin{comment}\nHidden \\cite{c1}.\n\\end{comment}\n"
        "\\begin{verbatim}\nRaw \\cite{c2}. % not a comment\n\\end{verbatim}\n"
        "\\begin{figure}\n\\centering\n\\caption{A caption cites \\cite{cap}.}\n"
        "\\begin{tabular}{ll}\nx & \\cite{tab} \\\\\n\\end{tabular}\n\\end{figure}\n"
        "Body text, see Eq.~\\eqref{e} and $x.y$ \\cite{body}.\n\\import{parts/}{b}\n"
    )
    ctx = extract_contexts(tmp_path / "m.tex")
    assert [(c.file, c.line_start, c.cited_keys) for c in ctx] == [
        ("m.tex", 9, ("cap",)),
        ("m.tex", 14, ("body",)),
        ("parts/b.tex", 1, ("imp",)),
    ]
    assert ctx[0].sentence == "A caption cites."
    (tmp_path / "o.tex").write_text("Fine.\n\\textbf{open\n\nmore \\cite{m}.\n")
    with pytest.raises(InputError, match=r"o.tex:2: '\{' is never closed$"):
        read_draft(tmp_path / "o.tex", strict=True)
    draft = read_draft(tmp_path / "o.tex")
    assert [(w.file, w.line, w.message) for w in draft.warnings] == [
        ("o.tex", 2, "'{' is never closed; closed at the end of the paragraph")
    ]
    assert [(c.line_start, c.cited_keys) for c in extract_contexts(draft)] == [(4, ("m",))]


def test_neighbours_stay_in_paragraph() -> None:
    text = "One. Two \\cite{k}. Three.\n\nFour."
    (ctx,) = extract_contexts("x.tex", text=text, is_tex=True, neighbours=1)
    assert ctx.text == "One. Two. Three." and ctx.sentence == "Two."
    (wide,) = extract_contexts("x.tex", text=text, is_tex=True, neighbours=5)
    assert "Four" not in wide.text
    assert len(extract_contexts("x.tex", text=text, is_tex=True, all_sentences=True)) == 4


def test_kept_texts_convert_each_fragment_once_across_runs(tmp_path: Path, monkeypatch) -> None:
    """A re-run reads the draft's fragments back from the recall cache: only an edited sentence is converted."""
    from citerec.latex import extract_contexts
    from citerec.latex import text as text_module
    from citerec.suggest.reading import kept_texts

    draft = tmp_path / "draft.tex"
    draft.write_text(
        "Attention \\emph{replaces} recurrence \\cite{vaswani}. BERT is pre-trained \\cite{bert}.\n\n"
        "Graph networks pass messages \\cite{gilmer}.\n",
        encoding="utf-8",
    )
    converted: list[str] = []
    real = text_module._converted
    monkeypatch.setattr(text_module, "_converted", lambda latex: converted.append(latex) or real(latex))
    with kept_texts(tmp_path / "library"):
        first = extract_contexts(draft)
    made = len(converted)
    assert made >= 3 and [c.sentence for c in first][0] == "Attention replaces recurrence."
    with kept_texts(tmp_path / "library"):
        again = extract_contexts(draft)
    assert again == first and len(converted) == made  # nothing converted: every text read back
    draft.write_text(draft.read_text(encoding="utf-8").replace("messages", "many messages"), encoding="utf-8")
    with kept_texts(tmp_path / "library"):
        edited = extract_contexts(draft)
    assert len(converted) == made + 1 and edited[2].sentence == "Graph networks pass many messages."
    monkeypatch.setattr(text_module, "converter_version", lambda: "other code")  # a changed converter
    with kept_texts(tmp_path / "library"):
        extract_contexts(draft)
    assert len(converted) == 2 * made + 1
    assert text_module.latex_to_text("\\textbf{plain}") == "plain"  # outside the block: no memo, same text


def test_an_empty_text_is_kept_too(tmp_path: Path) -> None:
    """A fragment that reads as "" (markup alone) is known once converted: not looked up or converted again."""
    from citerec.index.cache import CACHE_FILE, RecallCache
    from citerec.suggest.reading import KeptTexts

    cache = RecallCache(tmp_path / CACHE_FILE)
    kept = KeptTexts(cache)
    asked: list[list[str]] = []
    texts = cache.texts
    cache.texts = lambda keys: asked.append(list(keys)) or texts(keys)  # type: ignore[method-assign]
    assert kept.get("\\label{x}") is None and len(asked) == 1
    kept.put("\\label{x}", "")
    assert kept.get("\\label{x}") == "" and len(asked) == 1
    kept.flush()
    assert KeptTexts(cache).get("\\label{x}") == ""
