"""Is this metadata record the library entry's paper? Strict matching by id, else title + year + first author.

One paper's title differs between a .bib and a metadata record in many small
ways (LaTeX accents and braces, case, punctuation and hyphens, a subtitle cut, a
word added or dropped between preprint and published version, a typo), so
titles are compared on their letters and digits alone with a similarity ratio
(and, for short titles, word by word). A similar title is not enough: the first
author's surname must agree (and the first initial, where both names have one),
titles must number the same things (Part II, Task 4), and the years may differ
by one at most (a snapshot's first version can be a year
before the published one). A same-titled record by other authors never
matches; a near miss, or two different records that both fit, is reported as
weak or ambiguous and never applied.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from citerec.ingest.texconv import latex_to_text
from citerec.papers import Paper, extract_arxiv_id, normalise_doi, normalise_title

MATCHED, AMBIGUOUS, WEAK, NOT_FOUND = "matched", "ambiguous", "weak", "not found"

STRONG_LONG = 0.90  # title similarity that identifies a long title (30+ letters) ...
STRONG_SHORT = 0.95  # ... and a shorter one (12-29 letters); below 12 letters only an exact title counts
LONG_TITLE, SHORT_TITLE = 30, 12
WEAK_TITLE = 0.80  # a record this close is reported (weak) when something else disagrees
SUBTITLE_SCORE = 0.95  # a short title (12-29 letters) that is another without its subtitle
MIN_SUBTITLE_WORDS = 3  # "BERT" alone, cut from "BERT: Pre-training of …", identifies nothing
WORD_EDIT_SCORE = 0.95  # the same words but one added, dropped or mistyped (titles of three words or more)
TYPO_WORD = 0.75  # a mistyped word's letters ratio to the right one ('reawrd' for 'reward')
ID_TITLE_FLOOR = 0.60  # an id match whose titles differ more than this is reported, not applied
CLEAR_LEAD = 0.05  # two different titles that both fit: the better one must lead by this much
YEAR_SLACK = 1
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_ROMAN = frozenset({"ii", "iii", "iv", "vi", "vii", "viii", "ix", "xi", "xii"})  # not i, v, x: words and letters
_SUBTITLE = re.compile(r"\s*(?::|\s[-\u2013\u2014]{1,2}\s|\?\s|\.\s)\s*")


@dataclass(frozen=True)
class Match:
    """The verdict on one entry: the record it matched (or the best near miss), how, and why not when not."""

    status: str  # MATCHED, AMBIGUOUS, WEAK or NOT_FOUND
    record: Paper | None = None
    matched_by: str = ""  # doi, arxiv or title
    score: float = 0.0  # title similarity of `record`
    reason: str = ""  # why a weak or ambiguous verdict was not applied

    @property
    def applied(self) -> bool:
        return self.status == MATCHED


@dataclass(frozen=True)
class TitleForm:
    """A title as matching compares it: its words, letters alone, and the part before a subtitle.

    The subtitle and number parts are computed when first asked for: a snapshot pass needs the letters of
    millions of titles and the rest of a few."""

    text: str  # the title as Unicode text
    words: tuple[str, ...]
    letters: str

    @classmethod
    def of(cls, title: str) -> TitleForm:
        return _title_form(title)

    @functools.cached_property
    def _main(self) -> tuple[str, ...]:
        return tuple(normalise_title(_SUBTITLE.split(self.text, maxsplit=1)[0]).split())

    @property
    def main_letters(self) -> str:
        """Letters of the part before ':' (the whole title when there is no subtitle)."""
        return "".join(self._main)

    @property
    def main_words(self) -> int:
        return len(self._main)

    @property
    def main_word_list(self) -> tuple[str, ...]:
        return self._main

    @functools.cached_property
    def numbers(self) -> frozenset[str]:
        """Digits and roman numerals: 'Part II' is not 'Part III'."""
        return _numbers(self.words)

    @property
    def main_numbers(self) -> frozenset[str]:
        return _numbers(self._main)


@functools.lru_cache(maxsize=1 << 14)
def _title_form(title: str) -> TitleForm:
    text = latex_to_text(title)
    words = tuple(normalise_title(text).split())
    return TitleForm(text, words, "".join(words))


def _numbers(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w.lstrip("0") or "0" if w.isdigit() else w for w in words if w.isdigit() or w in _ROMAN)


def numbers_differ(a: TitleForm, b: TitleForm) -> bool:
    """Whether the titles number different things ('Part II', 'Task 4', '2017'), a subtitle cut aside."""
    if a.numbers == b.numbers:
        return False
    short, full = (a, b) if len(a.letters) <= len(b.letters) else (b, a)
    return not (short.letters == full.main_letters or short.numbers == full.main_numbers != full.numbers)


def title_similarity(a: TitleForm, b: TitleForm) -> float:
    """1.0 for the same letters; a ratio that survives a typo, a hyphen, a word dropped; a subtitle cut scores
    `SUBTITLE_SCORE` when what remains is long enough to identify a work."""
    if not a.letters or not b.letters:
        return 0.0
    if a.letters == b.letters:
        return 1.0
    score = _ratio(a.letters, b.letters)
    if _one_word_apart(a.words, b.words):
        score = max(score, WORD_EDIT_SCORE)
    for short, full in ((a, b), (b, a)):
        cut = full.main_letters != full.letters and short.main_words >= MIN_SUBTITLE_WORDS
        if cut and len(short.letters) >= SHORT_TITLE:
            penalty = 1.0 if len(full.main_letters) >= LONG_TITLE else SUBTITLE_SCORE  # a long main title is enough
            main = WORD_EDIT_SCORE if _one_word_apart(short.words, full.main_word_list) else 0.0
            score = max(score, penalty * max(main, _ratio(short.letters, full.main_letters)))
    return score


def _one_word_apart(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One word added, dropped or mistyped, the rest of three words or more the same: a short title's ratio
    would fall below what identifies it, though it is the same title."""
    if min(len(a), len(b)) < MIN_SUBTITLE_WORDS or abs(len(a) - len(b)) > 1:
        return False
    edits = [op for op in SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(edits) != 1:
        return False
    tag, i1, i2, j1, j2 = edits[0]
    if tag != "replace":
        return (i2 - i1) + (j2 - j1) == 1
    return i2 - i1 == j2 - j1 == 1 and len(a[i1]) >= 4 and _ratio(a[i1], b[j1]) >= TYPO_WORD


def _ratio(a: str, b: str) -> float:
    """difflib's similarity ratio, skipped (0.0) when its cheap upper bounds already rule a match out."""
    if a == b:
        return 1.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < WEAK_TITLE or matcher.quick_ratio() < WEAK_TITLE:
        return 0.0
    return matcher.ratio()


def strong_title(score: float, form: TitleForm) -> bool:
    """Whether `score` is enough to identify a work with this title (short titles need more)."""
    size = len(form.letters)
    if size >= LONG_TITLE:
        return score >= STRONG_LONG
    if size >= SHORT_TITLE:
        return score >= STRONG_SHORT
    return score >= 1.0


@functools.lru_cache(maxsize=1 << 16)
def name_parts(name: str) -> tuple[str, str]:
    """(surname, first initial) of 'First von Last Jr', 'Last, First', 'F. Last' or 'Last F', normalised
    ('' where there is none)."""
    text = latex_to_text(name) if not name.isascii() or "\\" in name or "{" in name else name
    given: list[str] = []
    if "," in text:
        head, rest = text.split(",", 1)
        if normalise_title(head) in _SUFFIXES:  # 'Jr., John Smith'
            text = rest
        else:
            text = head
            given = [w for w in normalise_title(rest).split() if w not in _SUFFIXES]
    words = [w for w in normalise_title(text).split() if w not in _SUFFIXES]
    if not words:
        return "", ""
    full = [w for w in words if len(w) > 1]  # 'Vaswani A': the initial is not the surname
    last = full[-1] if full else words[-1]
    given = given or [w for w in words if w != last]
    return last, given[0][:1] if given else ""


def surname(name: str) -> str:
    """The normalised surname of a name however it is written ('' if none)."""
    return name_parts(name)[0]


def first_surname(paper: Paper) -> str:
    return surname(paper.authors[0]) if paper.authors else ""


def same_first_author(a: Paper, b: Paper) -> bool | None:
    """Same surname, and the same first initial where both names have one; None when a side has no author."""
    if not a.authors or not b.authors:
        return None
    (mine, my_initial), (theirs, their_initial) = name_parts(a.authors[0]), name_parts(b.authors[0])
    if not mine or not theirs:
        return None
    return mine == theirs and (not my_initial or not their_initial or my_initial == their_initial)


def _same_year(a: int | None, b: int | None) -> bool:
    return a is None or b is None or abs(a - b) <= YEAR_SLACK


@dataclass(frozen=True)
class _Assessed:
    record: Paper
    score: float
    strong: bool
    author: bool | None  # None: a side has no authors to compare
    year: bool

    @property
    def accepted(self) -> bool:
        return self.strong and self.author is True and self.year

    def why_not(self) -> str:
        if not self.strong:
            return f"title only {self.score:.2f} similar" if self.score < 1 else "the titles number different things"
        if self.author is None:
            return "no first author to compare"
        if not self.author:
            return f"first author differs ({self.record.authors[0]})"
        return f"year differs ({self.record.year})"


def _assess(entry: Paper, form: TitleForm, record: Paper) -> _Assessed:
    other = TitleForm.of(record.title)
    score = title_similarity(form, other)
    author = same_first_author(entry, record)
    strong = strong_title(score, form) and not numbers_differ(form, other)
    return _Assessed(record, score, strong, author, _same_year(entry.year, record.year))


def _by_identifier(entry: Paper, candidates: Sequence[Paper]) -> Match | None:
    doi, arxiv = normalise_doi(entry.doi), extract_arxiv_id(entry.arxiv_id)
    form = TitleForm.of(entry.title)
    for how, mine in (("doi", doi), ("arxiv", arxiv)):
        if not mine:
            continue
        for record in candidates:
            theirs = normalise_doi(record.doi) if how == "doi" else extract_arxiv_id(record.arxiv_id)
            if theirs != mine:
                continue
            other = TitleForm.of(record.title)
            score = title_similarity(form, other) if form.letters else 1.0
            cut = bool(form.letters) and (
                other.letters.startswith(form.letters) or form.letters.startswith(other.letters)
            )
            if score < ID_TITLE_FLOOR and not cut:
                return Match(WEAK, record, how, score, f"same {how} but the title differs ({score:.2f})")
            return Match(MATCHED, record, how, score)
    return None


def decide(entry: Paper, candidates: Sequence[Paper]) -> Match:
    """Which of `candidates` (records from one source) is `entry`'s paper, if one clearly is."""
    by_id = _by_identifier(entry, candidates)
    if by_id is not None:
        return by_id
    form = TitleForm.of(entry.title)
    if not form.letters:
        return Match(NOT_FOUND, reason="the entry has no title")
    assessed = sorted(
        (_assess(entry, form, r) for r in candidates),
        key=lambda a: (a.score, -_year_gap(entry, a.record)),
        reverse=True,
    )
    accepted = [a for a in assessed if a.accepted]
    if not accepted:
        near = next((a for a in assessed if a.score >= WEAK_TITLE), None)
        if near is None:
            return Match(NOT_FOUND)
        return Match(WEAK, near.record, "title", near.score, near.why_not())
    best = accepted[0]
    rivals = [
        a for a in accepted[1:] if TitleForm.of(a.record.title).letters != TitleForm.of(best.record.title).letters
    ]
    if rivals and rivals[0].score > best.score - CLEAR_LEAD:
        rival = rivals[0].record
        return Match(AMBIGUOUS, best.record, "title", best.score, f"also fits {_describe(rival)}")
    # versions of one work (same title and first author): the one closest in year, with an abstract
    versions = [a for a in accepted if TitleForm.of(a.record.title).letters == TitleForm.of(best.record.title).letters]
    chosen = min(versions, key=lambda a: (_year_gap(entry, a.record), not a.record.abstract, -a.score))
    return Match(MATCHED, chosen.record, "title", chosen.score)


def _year_gap(entry: Paper, record: Paper) -> int:
    return abs(entry.year - record.year) if entry.year is not None and record.year is not None else 0


def _describe(record: Paper) -> str:
    ident = record.doi or record.arxiv_id or record.key
    return f"{ident} ({record.year or '?'}): {record.title[:60]}"
