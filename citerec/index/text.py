"""What BM25 sees: LaTeX-cleaned, stop-word-free, stemmed tokens of papers and queries.

Papers and queries go through the same `tokenize`, so a stem in a passage
matches the same stem in a title. Bibliographies keep LaTeX markup
(`{\\em GPU}`, `$k$-means`, `\\&`) that would otherwise become junk tokens.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from citerec.papers import Paper

TOKENIZER_VERSION = 1  # bump when tokens change: saved BM25 indexes then rebuild

_CITE_LIKE = re.compile(
    r"\\(?:[a-zA-Z]*cite[a-zA-Z]*|ref|eqref|autoref|cref|Cref|label|url)\*?(?:\[[^\]]*\])*\{[^}]*\}"
)
_COMMAND = re.compile(r"\\[a-zA-Z@]+\*?")
_ESCAPED = re.compile(r"\\(.)")
_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
_MARKUP = re.compile(r"[{}\[\]$^_~]")
_WORD = re.compile(r"(?u)\b\w\w+\b")


def clean_latex(text: str) -> str:
    """Plain words from LaTeX-ish text: drop citations, comments and command names, keep arguments."""
    text = _COMMENT.sub(" ", text)
    text = _CITE_LIKE.sub(" ", text)
    text = _COMMAND.sub(" ", text)
    text = _ESCAPED.sub(r"\1", text)
    text = _MARKUP.sub(" ", text)
    return " ".join(text.split())


@functools.cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@functools.cache
def _stemmer() -> Callable[[list[str]], list[str]]:
    import Stemmer

    return Stemmer.Stemmer("english").stemWords


def tokenize(text: str) -> list[str]:
    """Lower-cased English word stems of `text`, without stop words or one-letter words."""
    stop = _stopwords()
    words = [w for w in _WORD.findall(clean_latex(text).lower()) if w not in stop]
    return _stemmer()(words)


def surname(author: str) -> str:
    """The family name of "Last, First" or "First Last"."""
    author = author.strip()
    if "," in author:
        return author.split(",", 1)[0].strip()
    parts = author.split()
    return parts[-1] if parts else ""


def bm25_document(paper: Paper) -> str:
    """What BM25 indexes for a paper: title, abstract, keywords and author surnames.

    Surnames match passages such as "as Smith et al. showed"; keywords add
    vocabulary the abstract may lack.
    """
    parts = [paper.title, paper.abstract, " ".join(paper.keywords), " ".join(surname(a) for a in paper.authors)]
    return " ".join(p for p in parts if p)
