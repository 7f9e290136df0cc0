"""The draft's own macros are expanded before sentences become queries: labels hidden in shorthands such as
`\\refsec{related-work}` no longer reach retrieval as words."""

from __future__ import annotations

import time
from pathlib import Path

from citerec.latex import extract_contexts
from citerec.latex.macros import MacroExpander, collect_definitions

PREAMBLE = r"""
\newcommand\refsec[1]{Section~\ref{sec:#1}}
\newcommand{\eq}[1]{\Eq{#1}}
\newcommand{\Eq}[1]{Equation~\ref{eq:#1}}
\newcommand{\etal}{\foreign{et\,al.}}
\newcommand{\foreign}[1]{{\it #1}}
\newcommand{\opt}[1][fast]{a #1 variant}
\def\pair#1#2{#1 and #2}
\newcommand{\badcite}[1]{\cite{#1}}
\newcommand{\layout}{\begin{center}x\end{center}}
"""


def sentence_of(body: str) -> str:
    tex = "\\documentclass{article}\n" + PREAMBLE + "\\begin{document}\n" + body + "\n\\end{document}\n"
    (context,) = extract_contexts("draft.tex", text=tex, is_tex=True)
    return context.sentence


def test_reference_shorthands_lose_their_labels() -> None:
    sentence = sentence_of(r"As \refsec{bm25-variants} and \eq{lomb-scargle} show, Smith \etal{} won \cite{a}.")
    assert "bm25-variants" not in sentence and "lomb-scargle" not in sentence
    assert sentence.startswith("As Section and Equation show, Smith et al. won")


def test_optional_and_def_parameters() -> None:
    assert "uses a fast variant and a slow variant" in sentence_of(r"It uses \opt and \opt[slow] \cite{a}.")
    assert "joins queries and documents" in sentence_of(r"It joins \pair{queries}{documents} \cite{a}.")


def test_unsafe_bodies_are_left_alone() -> None:
    definitions = collect_definitions([PREAMBLE])
    assert {"refsec", "eq", "Eq", "etal", "foreign", "opt", "pair"} <= set(definitions)
    assert "badcite" not in definitions and "layout" not in definitions


def test_a_later_unreadable_redefinition_hides_the_earlier_one() -> None:
    definitions = collect_definitions([r"\def\x{text}", r"\def\x{\begin{center}y\end{center}}"])
    assert "x" not in definitions
    renewed = collect_definitions([r"\newcommand\y{text}", r"\renewcommand\y{\begin{center}y\end{center}}"])
    assert "y" not in renewed


def test_definitions_in_an_included_preamble_file_count(tmp_path: Path) -> None:
    (tmp_path / "macros.tex").write_text(r"\newcommand\reffig[1]{Figure~\ref{fig:#1}}", encoding="utf-8")
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\input{macros}\n\\begin{document}\n"
        "The \\reffig{pipeline-overview} shows the retriever \\cite{a}.\n\\end{document}\n",
        encoding="utf-8",
    )
    (context,) = extract_contexts(tmp_path / "main.tex")
    assert context.sentence == "The Figure shows the retriever."


def test_explosive_definitions_are_bounded() -> None:
    expander = MacroExpander(collect_definitions([r"\def\boom{\boom\boom}", r"\newcommand\self{\self x}"]))
    text = r"Before \boom{} and \self{} after."
    started = time.perf_counter()
    out = expander.expand(text)
    assert time.perf_counter() - started < 1.0
    assert len(out) <= 4 * len(text) + 2_000
    assert out.startswith("Before") and out.endswith("after.")


def test_a_line_break_before_a_name_is_not_a_use() -> None:
    expander = MacroExpander(collect_definitions([r"\newcommand\etal{et al.}"]))
    assert expander.expand(r"one\\etal two \etal") == r"one\\etal two et al."


def test_expansion_is_linear_in_the_number_of_uses() -> None:
    expander = MacroExpander(collect_definitions([PREAMBLE]))
    small, large = r"see \refsec{a} " * 200, r"see \refsec{a} " * 2_000
    started = time.perf_counter()
    expander.expand(small)
    small_time = time.perf_counter() - started
    started = time.perf_counter()
    assert expander.expand(large).count("Section~") == 2_000
    assert time.perf_counter() - started < max(50 * small_time, 0.5)


def test_a_draft_without_definitions_is_unchanged() -> None:
    assert MacroExpander({}).expand(r"plain \emph{text}") == r"plain \emph{text}"


def test_a_local_style_file_counts_but_nothing_outside_the_draft_folder(tmp_path: Path) -> None:
    draft_dir = tmp_path / "draft"
    draft_dir.mkdir()
    (draft_dir / "mymacros.sty").write_text(r"\newcommand\reftab[1]{Table~\ref{tab:#1}}", encoding="utf-8")
    (tmp_path / "outside.tex").write_text(r"\newcommand\refalg[1]{Algorithm~\ref{alg:#1}}", encoding="utf-8")
    (draft_dir / "main.tex").write_text(
        "\\documentclass{article}\n\\usepackage[final]{amsmath,mymacros}\n\\input{../outside}\n"
        "\\begin{document}\nThe \\reftab{scores-by-model} and \\refalg{main-loop} list results \\cite{a}.\n"
        "\\end{document}\n",
        encoding="utf-8",
    )
    (context,) = extract_contexts(draft_dir / "main.tex")
    assert "scores-by-model" not in context.sentence and context.sentence.startswith("The Table and")
    assert "main-loop" in context.sentence  # the outside file was never read
