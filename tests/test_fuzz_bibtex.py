"""Fuzzing the BibTeX reader (hypothesis; profile in tests/helpers/fuzzing.py).

Any bytes give papers and located problems, never an exception; good entries
around bad ones survive; adversarial files take linear time.
"""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citerec.errors import CiterecError
from citerec.ingest import parse_bibtex
from citerec.ingest.bibtex import parse_bibtex_bytes
from tests.helpers.fuzzing import COUNTS

BIB_PIECES = [
    "@article{",
    "@misc(",
    "@string{",
    "@comment{",
    "@preamble{",
    "@",
    "{",
    "}",
    "(",
    ")",
    '"',
    ",",
    "=",
    "#",
    "%",
    "\\",
    "\n",
    " ",
    "title",
    "author",
    "year",
    " and ",
    "{\\'e}",
    "\\url{",
    "key1",
    "2020",
    "é",
    "\x00",
    "\ufeff",
    "\r\n",
]
bib_text = st.lists(st.sampled_from(BIB_PIECES) | st.text(max_size=6), max_size=60).map("".join)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"])


def _check(result, text_lines: int) -> None:
    for problem in result.problems:
        assert problem.file == "refs.bib"
        assert 1 <= problem.line <= text_lines + 1, problem
        assert "\n" not in str(problem)
    for paper in result.papers:
        assert paper.key and paper.title is not None


@given(data=st.binary(max_size=600))
def test_any_bytes_give_papers_and_located_problems(data: bytes) -> None:
    COUNTS["BibTeX reader (bytes)"] += 1
    _check(parse_bibtex_bytes(data, "refs.bib"), data.count(b"\n"))


@given(text=bib_text, encoding=encodings)
def test_bibtex_like_text_in_any_encoding(text: str, encoding: str) -> None:
    COUNTS["BibTeX reader (bibtex-like text)"] += 1
    data = text.encode(encoding, "replace")
    try:
        result = parse_bibtex_bytes(data, "refs.bib")
    except CiterecError as exc:  # only citerec's own errors, naming the file
        assert "refs.bib" in str(exc)
        return
    _check(result, data.count(b"\n") + text.count("\n"))


title_words = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1, max_size=10)
BAD_ENTRIES = [
    "@article{badopen, title = {Never closed\n",
    "@article{, title = {No key}}\n",
    "@article{badcomma, title = {A} year = {2000}}\n",
    "@article{badextra, title = {Extra}}}\n",
    '@misc(badquote, title = "open)\n',
    "title = {A lost field},\n",
    "@string{broken = }\n",
    "@article{badnest, title = {{{{{{deep}}}}}}, author = {}}\n",
    "@article{badmacro, title = undefinedmacro # {x}}\n",
    "@{nokind, title={x}}\n",
    "}}}}\n",
    "@article{badyear, title={Y}, year={twenty}}\n",
]


@st.composite
def bib_with_bad_entries(draw):
    goods, parts = [], []
    for n in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(BAD_ENTRIES)))
        if draw(st.booleans()):  # free text between entries: BibTeX ignores it
            parts.append(draw(st.text(alphabet=st.characters(blacklist_characters="@"), max_size=30)) + "\n")
        title = " ".join(draw(st.lists(title_words, min_size=1, max_size=6)))
        goods.append((f"good{n}", title))
        parts.append(
            f"@article{{good{n},\n  title = {{{title}}},\n  author = {{Ada Lovelace}},\n  year = {{2020}},\n}}\n"
        )
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(BAD_ENTRIES)))
    return "".join(parts), goods


@given(case=bib_with_bad_entries())
def test_good_entries_around_bad_ones_survive(case) -> None:
    COUNTS["BibTeX reader (good around bad)"] += 1
    text, goods = case
    result = parse_bibtex(text, "refs.bib")
    papers = {p.key: p for p in result.papers}
    for key, title in goods:
        assert key in papers, (key, text, result.problems)
        expected = unicodedata.normalize("NFKC", " ".join(title.split()))  # titles are NFKC-normalised
        assert unicodedata.normalize("NFKC", " ".join(papers[key].title.split())) == expected
        assert papers[key].year == 2020


# -- time -------------------------------------------------------------------------
ADVERSARIAL = {
    "@": "@",
    "@a{": "@a{",
    "{": "{",
    "unclosed entries": "@article{k, title={T}\n",
    "entries": "@article{k, title={T}}\n",
    "@string #": "@string{a = b # ",
    "@comment{": "@comment{",
    "authors": None,
    "deep braces": None,
    "% lines": "% @article{x,\n",
}


def _body(name: str, n: int) -> str:
    if name == "authors":
        return "@article{k, title={T}, author={" + "Ada Lovelace and " * n + "Alan Turing}}\n"
    if name == "deep braces":
        return "@article{k, title={" + "{" * n + "x" + "}" * n + "}}\n"
    return ADVERSARIAL[name] * n


def _best_time(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parse_bibtex(text, "refs.bib")
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_bibtex_takes_linear_time(name: str) -> None:
    COUNTS["BibTeX reader (timed adversarial)"] += 2
    t_small = max(_best_time(_body(name, 500)), 1e-3)
    t_large = _best_time(_body(name, 5000))
    assert t_large < 40 * t_small + 0.5, f"{name}: {t_small:.4f}s for 500, {t_large:.4f}s for 5000"


def test_regression_a_line_of_at_signs_is_linear() -> None:
    """Found by the timing scan: each '@' looked back to its line start; 400,000 '@' took 12.8 s, now 1.6 s."""
    t_small = min(_timed(lambda: parse_bibtex("@" * 40_000, "refs.bib")) for _ in range(2))
    t_large = min(_timed(lambda: parse_bibtex("@" * 320_000, "refs.bib")) for _ in range(2))
    assert t_large < 20 * t_small + 0.3, (t_small, t_large)  # 8x the input: ~8x when linear, ~64x when quadratic


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
