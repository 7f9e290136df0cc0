"""Properties of reading damaged drafts and verbatim URLs (hypothesis; profile in tests/helpers/fuzzing.py).

A draft with one brace deleted or added still yields every context of its untouched
paragraphs, and a URL holding `%`, `#`, `&`, `~` and `_` never changes the text around it.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from citerec.latex import extract_contexts, read_draft
from tests.helpers.fuzzing import COUNTS

WORDS = st.sampled_from(["dense", "retrieval", "Transformers", "graph", "networks", "of", "the", "model"])
PHRASE = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
PIECE = st.one_of(
    PHRASE,
    PHRASE.map(lambda p: f"\\emph{{{p}}}"),
    PHRASE.map(lambda p: f"{{\\bf {p}}}"),
    PHRASE.map(lambda p: f"\\textbf{{\\emph{{{p}}}}}"),
    PHRASE.map(lambda p: f"\\footnote{{{p}.}}"),
    st.just("$x^{2}_{i}$"),
    st.just("\\href{http://example.org/a%20b}{the page}"),
)
SENTENCE = st.lists(PIECE, min_size=1, max_size=4).map(" ".join)


def _draft(paragraphs: list[list[str]]) -> str:
    """Paragraphs of sentences; sentence j of paragraph p cites its own key `pPsJ`."""
    return "\n\n".join(
        " ".join(f"{s} \\cite{{p{p}s{j}}}." for j, s in enumerate(sentences)) for p, sentences in enumerate(paragraphs)
    )


def _seen(contexts) -> set[tuple]:
    return {(c.line_start, c.line_end, c.cited_keys, c.sentence, c.text) for c in contexts}


@given(
    paragraphs=st.lists(st.lists(SENTENCE, min_size=1, max_size=3), min_size=2, max_size=5),
    damaged=st.integers(min_value=0),
    where=st.integers(min_value=0),
    change=st.sampled_from(["delete", "{", "}"]),
)
def test_one_brace_deleted_or_added_keeps_every_untouched_paragraph(
    paragraphs: list[list[str]], damaged: int, where: int, change: str
) -> None:
    COUNTS["LaTeX recovery (one brace changed)"] += 1
    text = _draft(paragraphs)
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]  # a paragraph is one line here
    damaged %= len(spans)
    start, end = spans[damaged]
    if change == "delete":
        braces = [k for k in range(start, end) if text[k] in "{}"]
        if not braces:
            return
        at = braces[where % len(braces)]
        broken = text[:at] + text[at + 1 :]
    else:
        at = start + where % (end - start + 1)
        broken = text[:at] + change + text[at:]
    before = extract_contexts(read_draft("d.tex", text=text, is_tex=True, strict=True))
    draft = read_draft("d.tex", text=broken, is_tex=True)
    after = extract_contexts(draft)
    line = damaged * 2 + 1  # paragraphs are single lines separated by one blank line
    untouched = {c for c in _seen(before) if c[0] != line}
    assert untouched <= _seen(after)
    assert all(w.file == "d.tex" and w.line == line for w in draft.warnings), draft.warnings


URL = st.text(alphabet="abcXYZ019/:.?=-%#&~_", min_size=1, max_size=40)
LINK = st.sampled_from(["\\url{%s}", "\\href{%s}{the page}", "\\nolinkurl{%s}", "\\path{%s}", "\\url|%s|"])


@given(url=URL, link=LINK, trailing=st.sampled_from(["", " and more", ".", "% a real comment"]))
def test_a_url_never_changes_the_text_around_it(url: str, link: str, trailing: str) -> None:
    COUNTS["LaTeX reader (verbatim URLs)"] += 1

    def read(u: str):
        text = (
            "Before the link \\cite{a}. We link "
            + link % u
            + f" in this sentence \\cite{{b}}{trailing}\nStill the paragraph \\cite{{c}}.\n\nAfter it \\cite{{d}}.\n"
        )
        draft = read_draft("u.tex", text=text, is_tex=True, strict=True)
        assert draft.warnings == ()
        return [(c.line_start, c.line_end, c.cited_keys, c.sentence, c.text) for c in extract_contexts(draft)]

    plain = read("http://example.org/")
    assert read(url) == plain
    assert {key for _, _, keys, _, _ in plain for key in keys} == {"a", "b", "c", "d"}
