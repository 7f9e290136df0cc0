"""BibTeX import: LaTeX to Unicode, ids, per-entry errors with lines, export round trip."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from citerec.errors import InputError
from citerec.ingest.bibtex import parse_bibtex, read_bibtex
from citerec.ingest.bibtex_export import papers_to_bibtex

REPO = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "bib"
EVAL = REPO.parent / "shared" / "eval" / "papers"


def by_key(result):
    return {p.key: p for p in result.papers}


def test_accents_macros_and_fields():
    text = r"""
@inproceedings{k1,
  title = {{BERT}: \emph{Deep} Stra{\ss}e --- caf\'e with $\alpha$-nets},
  author = {M{\"u}ller, J{\"o}rg and {\L}ukasz Kaiser and van der Maaten, Laurens and others},
  booktitle = {Proc. of {ACL}}, year = {2019},
  doi = {https://doi.org/10.18653/V1/N19-1423},
  abstract = {We show 50\% gains \& more. See \url{x}.},
  keywords = {retrieval; citation, BERT},
}"""
    paper = parse_bibtex(text, "refs.bib").papers[0]
    assert paper.title == "BERT: Deep Straße — café with α-nets"
    assert paper.authors == ("Jörg Müller", "Łukasz Kaiser", "Laurens van der Maaten")
    assert paper.year == 2019 and paper.venue == "Proc. of ACL"
    assert paper.doi == "10.18653/v1/n19-1423"
    assert paper.abstract.startswith("We show 50% gains & more.")
    assert paper.keywords == ("retrieval", "citation", "BERT")
    assert paper.entry_type == "inproceedings" and paper.source == "bibtex:refs.bib"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("eprint = {1706.03762}, archivePrefix = {arXiv}", "1706.03762"),
        ("eprint = {hep-th/9711200v3}, eprinttype = {arxiv}", "hep-th/9711200"),
        ("url = {https://arxiv.org/abs/2004.04906v3}", "2004.04906"),
        ("eprint = {https://arxiv.org/pdf/1810.04805.pdf}", "1810.04805"),
        ("doi = {10.48550/arXiv.2005.11401}", "2005.11401"),
        ("journal = {arXiv preprint arXiv:1901.04085}", "1901.04085"),
        ("eprint = {12345678}, archivePrefix = {PubMed}", ""),
        ("url = {https://example.org/1234.56789}", ""),
    ],
)
def test_arxiv_id_sources(fields, expected):
    paper = parse_bibtex(f"@article{{k, title = {{T}}, {fields}}}").papers[0]
    assert paper.arxiv_id == expected


def test_entry_types_and_venues():
    text = """
@phdthesis{t, title={Thesis}, school={MIT}, year={1990}}
@techreport{r, title={Report}, institution={NIST}, year={2001}}
@book{b, title={Book}, publisher={CUP}, year={2008}}
@misc{m, title={Misc}, howpublished={Online}}
@article(p, title = "Paren (entry)", journal = "J", year = "2001")
@comment{ignored @article{x, title={no}} }
@preamble{"\\newcommand{\\noop}[1]{}"}
"""
    papers = by_key(parse_bibtex(text))
    assert {k: (p.entry_type, p.venue) for k, p in papers.items()} == {
        "t": ("phdthesis", "MIT"),
        "r": ("techreport", "NIST"),
        "b": ("book", "CUP"),
        "m": ("misc", "Online"),
        "p": ("article", "J"),
    }
    assert papers["p"].title == "Paren (entry)"


def test_every_error_is_reported_with_its_line_and_good_entries_survive():
    result = read_bibtex(FIXTURES / "broken.bib")
    assert sorted(by_key(result)) == ["good1", "good2", "good3", "undefinedmacro"]
    assert by_key(result)["good1"].title == "A Good Title with Müller"
    assert by_key(result)["good2"].venue == "Proceedings of the Annual Meeting of the ACL"
    assert by_key(result)["undefinedmacro"].venue == "nosuchmacro"
    where = {(p.line, p.key): p.message for p in result.problems}
    file = str(FIXTURES / "broken.bib")
    assert "missing closing '}'" in where[(11, "unbalanced")]
    assert "unknown @string macro 'nosuchmacro'" in where[(23, "undefinedmacro")]
    assert "duplicate key 'good1' (first defined at line 4)" in where[(26, "good1")]
    assert "no title" in where[(30, "notitle")]
    assert (35, "syntax") in where
    assert "runs to the end of the file" in where[(45, "truncated")]
    assert all(str(p).startswith(f"{file}:{p.line}: ") for p in result.problems)
    assert result.entries == 9


def test_stray_field_after_extra_closing_brace_is_reported():
    text = "@article{a, title = {A}}}\n  year = {2000},\n}\n@article{b, title={B}}\n"
    result = parse_bibtex(text, "x.bib")
    assert [p.key for p in result.papers] == ["a", "b"]
    assert [str(p) for p in result.problems] == [
        "x.bib:2: text outside any entry ignored: 'year = {2000},' (unbalanced braces above?)"
    ]


def test_percent_comment_lines_and_keyless_entry():
    text = "% @article{commented, title={Nope}}\n@manual{,\n title = {SymPy}, author={{SymPy Team}}, year=2016}\n"
    result = parse_bibtex(text, "x.bib")
    assert [p.key for p in result.papers] == ["team2016sympy"]
    assert "without a citation key; imported as 'team2016sympy'" in result.problems[0].message


def test_non_utf8_bytes_are_decoded_and_reported(tmp_path):
    path = tmp_path / "latin.bib"
    path.write_bytes(b"@article{a,\n  title = {Caf\xe9 au lait},\n  year = {2000}\n}\n")
    result = read_bibtex(path)
    assert result.papers[0].title == "Café au lait"
    assert [(p.line, "not valid UTF-8" in p.message) for p in result.problems] == [(2, True)]


def test_missing_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_bibtex(tmp_path / "nope.bib")


def test_strings_carry_over_between_files():
    first = parse_bibtex('@string{tacl = "Transactions of the ACL"}', "a.bib")
    second = parse_bibtex("@article{k, title={T}, journal=tacl}", "b.bib", macros=dict(first.strings))
    assert second.papers[0].venue == "Transactions of the ACL" and not second.problems


def test_export_escapes_and_round_trips():
    result = read_bibtex(REPO / "data" / "examples" / "refs.bib")
    assert len(result.papers) >= 30 and not result.problems
    extra = parse_bibtex(
        '@misc{s, title = {50\\% of {\\$}5 \\& a\\_b {\\{}x{\\}} Sch{\\"o}lkopf}, author = {Doe, Jane, Jr},'
        " howpublished={Web}, publisher={P}, note={n}}"
    ).papers
    papers = result.papers + extra
    text = papers_to_bibtex(papers)
    assert "eprint        = {1706.03762}" in text and "archivePrefix = {arXiv}" in text
    assert r"50\% of \$5 \& a\_b \{x\} Sch{\"o}lkopf" in text
    again = parse_bibtex(text, "refs.bib")
    assert not again.problems
    assert [dataclasses.replace(p, source="") for p in again.papers] == [
        dataclasses.replace(p, source="") for p in papers
    ]
    assert dict(again.papers[-1].extra) == dict(extra[0].extra)


@pytest.mark.skipif(not EVAL.is_dir(), reason="shared eval papers not present")
def test_eval_bib_files_import_every_entry():
    """Every entry of the real papers' .bib files imports and round-trips (big files with CITEREC_FULL_EVAL=1)."""
    full = os.environ.get("CITEREC_FULL_EVAL") == "1"
    for path in sorted(EVAL.rglob("*.bib")):
        if not full and path.stat().st_size > 300_000:
            continue
        result = read_bibtex(path)
        assert len(result.papers) == result.entries, (path, [str(p) for p in result.problems[:3]])
        again = parse_bibtex(papers_to_bibtex(result.papers), path.name)
        assert len(again.papers) == len(result.papers) and not again.problems
