"""Fuzzing the LaTeX reader and context extraction (hypothesis; profile in tests/helpers/fuzzing.py).

Arbitrary text and bytes, and adversarial LaTeX built from the constructs the
reader handles, must give contexts or one of citerec's own errors naming the
file (and the line where one is known); no input may take super-linear time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citerec.errors import CiterecError, InputError
from citerec.latex import extract_contexts, read_draft
from tests.helpers.fuzzing import COUNTS

PIECES = [
    "\\cite{a}",
    "\\cite{?}",
    "\\citep[see][p. 3]{b,c}",
    "\\cite[",
    "\\cite{",
    "[cite]",
    "\\todo{cite}",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "$",
    "$$",
    "\\(",
    "\\)",
    "%",
    "\\%",
    "\\\\",
    "\\",
    "\n",
    "\n\n",
    " ",
    ". ",
    "? ",
    "e.g. ",
    "\\section{",
    "\\section[",
    "\\item[",
    "\\begin{figure}",
    "\\end{figure}",
    "\\caption{",
    "\\begin{verbatim}",
    "\\end{verbatim}",
    "\\begin{equation}",
    "\\verb|",
    "\\iffalse ",
    "\\fi ",
    "\\else ",
    "\\begin{document}",
    "\\end{document}",
    "\\input{x}",
    "\\footnote{",
    "\\emph{",
    "\x00",
    "\ufeff",
    "\u202e",
    "é",
    "Word",
    "Transformers are neural networks",
    # the draft's own macros, expanded before sentences become text (citerec/latex/macros.py)
    "\\newcommand{\\m}[1]{#1 and #1}",
    "\\renewcommand\\m[2][x]{\\m{#2}#1}",
    "\\def\\d#1#2{#2 \\d{#1}}",
    "\\m{",
    "\\m",
    "\\m[",
    "\\d",
    "#1",
    # verbatim arguments and damage the reader recovers from (citerec/latex/masking.py)
    "\\url{",
    "\\href{http://x.org/a%20b}{",
    "\\path|",
    "\\lstinline[",
    "\\begin{titlepage}",
    "\\end{titlepage}",
    "\\begin{lstlisting}",
]
latex_text = st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=60).map("".join)


def _check_error(exc: CiterecError, name: str) -> None:
    assert isinstance(exc, InputError) and exc.file in (name, Path(name).name), repr(exc)
    assert "\n" not in str(exc)


@given(text=latex_text, mode=st.sampled_from(["sentence", "paragraph"]))
def test_any_latex_gives_contexts_or_an_input_error(text: str, mode: str) -> None:
    COUNTS["LaTeX reader + contexts (text)"] += 1
    try:
        contexts = extract_contexts("draft.tex", text=text, is_tex=True, all_sentences=True, mode=mode)
    except CiterecError as exc:
        _check_error(exc, "draft.tex")
        return
    for context in contexts:
        assert 1 <= context.line_start <= context.line_end <= text.count("\n") + 1
        assert 0 <= context.start <= context.end <= len(text)


@given(data=st.binary(max_size=400) | latex_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_file_bytes_give_contexts_or_an_error_naming_the_file(data: bytes, tmp_path_factory) -> None:
    COUNTS["LaTeX reader (file bytes)"] += 1
    folder = tmp_path_factory.mktemp("draft")
    path = folder / "draft.tex"
    path.write_bytes(data)
    try:
        draft = read_draft(path)
        extract_contexts(draft, all_sentences=True)
    except CiterecError as exc:
        _check_error(exc, str(path))


@given(text=latex_text)
def test_markdown_and_plain_text_never_fail(text: str) -> None:
    COUNTS["LaTeX reader + contexts (markdown/text)"] += 1
    extract_contexts("notes.md", text=text, all_sentences=True)
    extract_contexts("notes.txt", text=text, all_sentences=True)


# -- time: a large adversarial input against a small one (linear would be ~10x) --------
ADVERSARIAL = {
    "\\cite[": "\\cite[",  # an unclosed optional argument scanned to the end for each command (was quadratic)
    "\\item[": "\\item[",
    "\\section[": "\\section[x",
    "\\begin{figure}": "\\begin{figure}",  # unclosed floats: the end looked for again for each (was quadratic)
    "figure+caption": "\\begin{figure}\\caption{x}",
    "nested figure": "\\begin{figure}",
    "\\iffalse": "\\iffalse\\fi ",
    "\\verb": "\\verb|x| ",
    "{}": "{}",
    "sentences": "A word \\cite{k}. ",
    "$": "$x",
    "@": "@",
    # damage recovered from: each must be passed once, never looked for again from every later place
    "\\url{ runaway": "\\url{",
    "\\href with %": "\\href{a%b}{x} ",
    "{ never closed": "{",
    "} closing nothing": "}",
    "\\emph{ per paragraph": "\\emph{x \\cite{k}.\n\n",
    "\\verb| runaway": "\\verb|x\n",
    "\\begin{verbatim} never ended": "\\begin{verbatim}\n\n",
    "\\iffalse never closed": "\\iffalse x\n\n",
    "group open at \\end": "\\begin{titlepage}{\\centering x\\end{titlepage}\n",
}


def _best_time(fn, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            fn(*args)
        except CiterecError:
            pass
        best = min(best, time.perf_counter() - started)
    return best


def _contexts(text: str) -> None:
    extract_contexts("draft.tex", text=text, is_tex=True, all_sentences=True)


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_latex_takes_linear_time(name: str) -> None:
    unit = ADVERSARIAL[name]
    body = lambda n: unit * n + ("\\end{figure}" if name == "nested figure" else "")  # noqa: E731
    small, large = body(200), body(2000)
    COUNTS["LaTeX reader + contexts (timed adversarial)"] += 2
    t_small = max(_best_time(_contexts, small), 1e-3)
    t_large = _best_time(_contexts, large)
    # 10x the input: ~10x the time when linear, ~100x when quadratic; the margin absorbs a loaded machine.
    assert t_large < 40 * t_small + 0.5, f"{name}: {t_small:.4f}s for 200, {t_large:.4f}s for 2000"


def test_regression_unclosed_cite_optionals_are_fast() -> None:
    """Found by the timing test: 5,000 `\\cite[` took 27 s (each scanned the rest of the file)."""
    started = time.perf_counter()
    _contexts("\\cite[" * 5000)
    assert time.perf_counter() - started < 10


def test_regression_included_name_too_long_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """An \\input of a 5,000-character name raised OSError (name too long) from is_file()."""
    main = tmp_path / "main.tex"
    main.write_text("Text \\cite{?}.\n\\input{" + "a" * 5000 + "}\n")
    draft = read_draft(main)
    assert len(draft.problems) == 1 and "not found" in draft.problems[0]
