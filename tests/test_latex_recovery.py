"""Every real draft is read: verbatim arguments as LaTeX reads them, damage recovered with a warning.

The excerpts below are written for these tests after three kinds of finished theses
that used to be refused whole: a URL holding `%` in `\\href`, links to a shared
folder (`Shared%20Documents`), and a title page that opens `{\\centering` and never
closes it. The corpus test reads every eval paper and counts its citations twice.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citerec.cli import app
from citerec.errors import InputError
from citerec.latex import CITE_COMMANDS, extract_contexts, read_draft

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "papers"
runner = CliRunner()

APPENDIX = r"""\section{Model parameters}
Dense retrieval with a dual encoder finds passages for open-domain questions \citep{karpukhin2020dense}.

The decay constants come from the curated database\footnote{See
\href{http://example.org/db.aspx?&id=1075&trm=mean%20lifetime}{link} for the table.} and were
checked against a probabilistic relevance framework with BM25 term weighting \cite{robertson2009probabilistic}.

Self-attention alone suffices for sequence transduction \cite{vaswani2017attention}.
"""

SHARED_LINKS = r"""\section{Data}
The raw recordings are \href{https://files.example.org/sites/lab/Shared%20Documents/raw_data#v2}{\underline{here}},
the calibration \href{https://files.example.org/sites/lab/Shared%20Documents/cal~1}{\underline{here}} and the
scripts \href{https://files.example.org/sites/lab/Shared%20Documents/code&x}{\underline{here}}.
Passages were embedded with Siamese BERT networks for sentence similarity \cite{reimers2019sentence}.
"""

TITLEPAGE = r"""\begin{titlepage}
{\centering
{\Large Citation recommendation for \LaTeX{} drafts\par}
\vspace{1cm}
A. Student
\end{titlepage}
"""

THESIS = r"""\documentclass{report}
\begin{document}
\input{titlepage}
\chapter{Introduction}
Pre-trained deep bidirectional Transformers give language representations \cite{devlin2019bert}.
Dense vectors are searched with a billion-scale similarity search library on GPUs \cite{?}.
\input{appendix_model}
\input{data}
\end{document}
"""


def _thesis(folder: Path) -> Path:
    (folder / "titlepage.tex").write_text(TITLEPAGE, encoding="utf-8")
    (folder / "appendix_model.tex").write_text(APPENDIX, encoding="utf-8")
    (folder / "data.tex").write_text(SHARED_LINKS, encoding="utf-8")
    (folder / "thesis.tex").write_text(THESIS, encoding="utf-8")
    return folder / "thesis.tex"


def _words(contexts) -> set[str]:
    return {w for c in contexts for w in re.findall(r"\w+", f"{c.text} {c.sentence} {c.wide}")}


# -- verbatim arguments ------------------------------------------------------------------


def test_a_percent_in_an_href_url_is_part_of_the_url() -> None:
    draft = read_draft("appendix_model.tex", text=APPENDIX, is_tex=True, strict=True)
    assert draft.warnings == ()
    contexts = extract_contexts(draft)
    assert [(c.line_start, c.cited_keys) for c in contexts] == [
        (2, ("karpukhin2020dense",)),
        (4, ("robertson2009probabilistic",)),
        (8, ("vaswani2017attention",)),
    ]
    assert "checked against a probabilistic relevance framework" in contexts[1].sentence
    assert not {"aspx", "trm", "20lifetime", "1075", "example"} & _words(contexts)


def test_links_to_a_shared_folder_keep_their_text_and_hide_their_urls() -> None:
    draft = read_draft("data.tex", text=SHARED_LINKS, is_tex=True, strict=True)
    assert draft.warnings == ()
    (context,) = extract_contexts(draft)
    assert context.cited_keys == ("reimers2019sentence",) and context.line_start == 5
    assert "The raw recordings are here, the calibration here and the scripts here." in context.text
    assert not {"Shared", "Documents", "20Documents", "raw_data", "sites", "files"} & _words([context])


@pytest.mark.parametrize(
    "verbatim",
    [
        r"\verb|%{zzhidden#_|",
        r"\verb*+zzhidden}%+",
        r"\lstinline{zzhidden{x}%}",
        r"\lstinline[language=C]|zzhidden%{|",
        r"\mintinline{python}|zzhidden % {|",
        r"\url{http://zzhidden.org/a%20b_c#d}",
        r"\url|http://zzhidden.org/{%|",
        r"\path{C:/zzhidden/%x_y}",
        r"\nolinkurl{zzhidden%_{}}",
        r"\href[pdfnewwindow]{http://zzhidden.org/%7B}{the page}",
        "\\begin{verbatim}\nzzhidden % {\n\\end{verbatim}",
        "\\begin{lstlisting}[language=Python]\nzzhidden = '%{'\n\\end{lstlisting}",
        "\\begin{minted}{python}\nzzhidden = '}'  # %\n\\end{minted}",
        "\\begin{comment}\nzzhidden {\n\\end{comment}",
    ],
)
def test_verbatim_arguments_are_text_never_syntax_nor_query_words(verbatim: str) -> None:
    text = f"Before the code we cite \\cite{{a}}. Shown {verbatim} here.\nAfter it, words and \\cite{{b}}.\n"
    draft = read_draft("v.tex", text=text, is_tex=True, strict=True)
    contexts = extract_contexts(draft, all_sentences=True)
    assert draft.warnings == ()
    assert [c.cited_keys for c in contexts if c.cited_keys] == [("a",), ("b",)]
    assert contexts[-1].line_start == verbatim.count("\n") + 2
    assert "zzhidden" not in " ".join(c.text for c in contexts)


# -- recovery ----------------------------------------------------------------------------


def test_a_title_page_group_never_closed_is_closed_at_its_end() -> None:
    draft = read_draft("titlepage.tex", text=TITLEPAGE + "\nWe build on dense retrieval \\cite{k1}.\n", is_tex=True)
    assert [str(w) for w in draft.warnings] == ["titlepage.tex:2: '{' is never closed; closed at \\end{titlepage}"]
    assert [(c.line_start, c.cited_keys) for c in extract_contexts(draft)] == [(8, ("k1",))]
    with pytest.raises(InputError, match=r"^titlepage.tex:2: '\{' is never closed$"):
        read_draft("titlepage.tex", text=TITLEPAGE, is_tex=True, strict=True)


@pytest.mark.parametrize(
    ("damage", "line", "message"),
    [
        (r"\emph{unclosed \cite{d}.", 2, "'{' is never closed; closed at the end of the paragraph"),
        (r"A stray brace } \cite{d}.", 2, "'}' closes nothing; ignored"),
        (r"\url{http://example.org/runaway", 2, "\\url argument is never closed; skipped to the end of the paragraph"),
        (r"\verb|runaway", 2, "\\verb| is never closed on its line; skipped to the end of the line"),
        ("\\begin{verbatim}\nnever ended", 2, "\\begin{verbatim} is never ended; skipped to the end of the paragraph"),
        ("\\iffalse never closed", 2, "\\iffalse is never closed by \\fi; skipped to the end of the paragraph"),
    ],
)
def test_damage_is_a_warning_and_the_paragraphs_around_it_are_read(damage: str, line: int, message: str) -> None:
    text = f"First paragraph \\cite{{a}}.\n{damage}\n\nLast paragraph \\cite{{z}}.\n"
    draft = read_draft("d.tex", text=text, is_tex=True)
    assert [(w.file, w.line, w.message) for w in draft.warnings] == [("d.tex", line, message)]
    keys = [c.cited_keys for c in extract_contexts(draft)]
    assert keys[0] == ("a",) and keys[-1] == ("z",)


def test_strict_keeps_the_refusal_for_unclosed_groups_and_blocks() -> None:
    for damage in (r"\emph{unclosed", "\\begin{verbatim}\nx", "\\iffalse x", r"\url{http://x.org/"):
        with pytest.raises(InputError, match=r"^d.tex:2: "):
            read_draft("d.tex", text=f"Fine.\n{damage}\n\nMore.\n", is_tex=True, strict=True)


def test_repeated_damage_lists_fifty_warnings_and_counts_the_rest() -> None:
    text = "".join(f"\\emph{{open {k} \\cite{{k{k}}}.\n\n" for k in range(60))
    draft = read_draft("d.tex", text=text, is_tex=True)
    assert len(draft.warnings) == 51 and draft.warnings[-1].message.startswith("10 more damaged places")
    assert len(extract_contexts(draft)) == 60


# -- every surface -----------------------------------------------------------------------


def test_suggest_reads_the_damaged_thesis_with_a_warning(example_library_dir, tmp_path: Path) -> None:
    thesis = _thesis(tmp_path)
    args = ["suggest", str(thesis), "-L", str(example_library_dir), "--rerank", "off"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["warnings"] == [
        {"file": "titlepage.tex", "line": 2, "message": "'{' is never closed; closed at \\end{titlepage}"}
    ]
    places = {(c["file"], c["line_start"]) for c in data["contexts"]}
    assert {("thesis.tex", 5), ("thesis.tex", 6), ("appendix_model.tex", 4), ("data.tex", 5)} <= places
    assert all(c["suggestions"] for c in data["contexts"])
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "1 reading warning(s)" in table.stdout and "titlepage.tex:2: '{' is never closed" in table.stdout
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1
    (line,) = strict.output.strip().splitlines()  # one line, naming the draft and the damaged file and line
    assert line.startswith("error: ") and line.endswith("thesis.tex: titlepage.tex:2: '{' is never closed")


def test_eval_reports_the_warnings_of_each_paper(tmp_path: Path, examples_dir: Path) -> None:
    thesis = _thesis(tmp_path)
    bib = examples_dir / "refs.bib"
    args = ["eval", str(thesis), "--bib", str(bib), "--rerank", "off", "-L", str(tmp_path / "lib")]
    result = runner.invoke(app, [*args, "--json", "-"])
    assert result.exit_code == 0, result.output
    (paper,) = json.loads(result.stdout)["papers"]
    assert paper["n_contexts"] == 5
    assert [(w["file"], w["line"]) for w in paper["warnings"]] == [("titlepage.tex", 2)]
    table = runner.invoke(app, args)
    assert "titlepage.tex:2: '{' is never closed; closed at \\end{titlepage}" in table.stdout
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1 and "titlepage.tex:2: '{' is never closed" in strict.output


def test_python_api_strict_option(example_library_dir, tmp_path: Path) -> None:
    from citerec import suggest
    from citerec.library import Library

    thesis = _thesis(tmp_path)
    library = Library(example_library_dir)
    result = suggest(thesis, library=library, rerank="off")
    assert [w.line for w in result.warnings] == [2] and result.contexts
    with pytest.raises(InputError, match="titlepage.tex:2:"):
        suggest(thesis, library=library, rerank="off", strict=True)


def test_language_server_shows_each_warning_on_its_line() -> None:
    from lsprotocol import types as lsp

    from citerec.lsp.features import READ_WARNING, read_warning_diagnostics
    from citerec.lsp.positions import Positions

    text = "Fine \\cite{a}.\n\\textbf{open é\n\nMore.\n"
    (diagnostic,) = read_warning_diagnostics(text, Positions(text))
    assert diagnostic.severity == lsp.DiagnosticSeverity.Warning and diagnostic.code == READ_WARNING
    assert diagnostic.range == lsp.Range(lsp.Position(1, 0), lsp.Position(1, 14))
    assert diagnostic.message == "'{' is never closed; closed at the end of the paragraph"
    assert read_warning_diagnostics(APPENDIX, Positions(APPENDIX)) == []


def test_http_suggest_returns_the_warnings(_indexed_example_library) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from citerec.library import Library
    from citerec.serve import create_app
    from tests.test_serve_api import call

    app = create_app(Library(_indexed_example_library), reranker=None)
    try:
        body = {"tex": TITLEPAGE + "\nPre-trained bidirectional Transformers \\cite{?}.\n", "rerank": "off"}
        (response,) = call(app, ("POST", "/v1/suggest", body))
    finally:
        app.state.service.close()
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["warnings"] == [
        {"file": "<text>", "line": 2, "message": "'{' is never closed; closed at \\end{titlepage}"}
    ]
    assert data["contexts"][0]["suggestions"]


def test_web_page_lists_the_warnings_of_a_result() -> None:
    static = Path(__file__).resolve().parents[1] / "citerec" / "serve" / "static"
    assert 'id="suggest-warnings"' in (static / "index.html").read_text(encoding="utf-8")
    script = (static / "page.js").read_text(encoding="utf-8")
    assert "result.warnings" in script and "${w.file}:${w.line}: ${w.message}" in script


# -- the eval papers ---------------------------------------------------------------------

# Citation commands counted independently of the reader, with regexes over each file's text:
# the root file's document body; `\url`/`\href`/`\path`/`\nolinkurl` arguments and then `%`
# comments removed; float bodies reduced to their captions; table bodies and the bibliography
# (`tabular`-like environments, `thebibliography`) and sectioning titles removed: what the
# reader leaves out on purpose, as these are not passages of running text.
_CITE = re.compile(
    r"\\(?:" + "|".join(sorted(CITE_COMMANDS - {"nocite"}, key=len, reverse=True)) + r")\*?(?![A-Za-z@])"
)
_URL = re.compile(r"\\(?:url|href|path|nolinkurl)\s*\{[^{}\n]*\}")
_COMMENT = re.compile(r"(?<!\\)((?:\\\\)*)%[^\n]*")
_FLOAT = re.compile(r"\\begin\{(figure|table|wrapfigure|wraptable|SCfigure|algorithm)(\*?)\}(.*?)\\end\{\1\2\}", re.S)
_TABLE = re.compile(r"\\begin\{(tabular\*?|tabularx|longtable|tblr|tabu|thebibliography)\}.*?\\end\{\1\}", re.S)
_CAPTION = re.compile(r"\\caption(?:of)?\*?\s*(?:\[[^\]]*\])?\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}")
_TITLE = re.compile(r"\\(?:part|chapter|(?:sub)*section|paragraph)\*?\s*(?:\[[^\]]*\])?\s*\{(?:[^{}]|\{[^{}]*\})*\}")


def _running_cites(text: str, root: bool) -> int:
    if root:
        begin, end = text.find("\\begin{document}"), text.find("\\end{document}")
        text = text[max(begin, 0) : end if end >= 0 else len(text)]
    text = _COMMENT.sub(r"\1", _URL.sub(" ", text))
    text = _FLOAT.sub(lambda m: " ".join(_CAPTION.findall(m.group(3))), text)
    return len(_CITE.findall(_TITLE.sub(" ", _TABLE.sub(" ", text))))


@pytest.mark.skipif(not (EVAL / "MANIFEST.tsv").is_file(), reason="shared eval papers absent")
def test_every_eval_paper_is_read_whole_and_its_citations_found() -> None:
    with open(EVAL / "MANIFEST.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    off = []
    for row in rows:
        draft = read_draft(EVAL / row["name"] / row["paths"].split(",")[0])  # zero refusals: never raises
        contexts = extract_contexts(draft)
        counted = sum(_running_cites(f.text, k == 0) for k, f in enumerate(draft.files))
        found = sum(
            len(_CITE.findall(_COMMENT.sub(r"\1", _URL.sub(" ", draft.file(c.file).text[c.start : c.end]))))
            for c in contexts
        )
        if abs(found - counted) > 0.02 * counted:
            off.append((row["name"], counted, found, [str(w) for w in draft.warnings]))
    assert rows and not off, off
