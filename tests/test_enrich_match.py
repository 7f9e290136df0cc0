"""Matching a library entry to metadata records: what survives, what never matches, what is only reported."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from citerec.enrich.match import AMBIGUOUS, MATCHED, NOT_FOUND, WEAK, TitleForm, decide, surname, title_similarity
from citerec.papers import Paper

WORDS = (
    "learning neural networks deep representations graph attention retrieval dense sparse passage question "
    "answering language models transformers scalable efficient robust training inference citation recommendation "
    "benchmark evaluation contrastive multilingual semantic parsing generation summarization adversarial "
    "reinforcement policy optimization convex stochastic gradient descent bayesian inference variational"
).split()
SURNAMES = ("Vaswani", "Devlin", "Karpukhin", "Schrödinger", "Poincaré", "García-Pérez", "van der Maaten", "Oğuz")
LATEX = {"ö": '{\\"o}', "é": "{\\'e}", "ğ": "{\\u g}", "í": "{\\'i}"}


def _latex(text: str) -> str:
    return "".join(LATEX.get(c, c) for c in text)


def _record(title: str, author: str, year: int | None = 2019, key: str = "arxiv:1") -> Paper:
    return Paper(key, title, abstract="An abstract.", authors=(author, "Second Author"), year=year)


def test_latex_braces_case_hyphens_and_punctuation_do_not_matter() -> None:
    entry = Paper(
        "k",
        "{BERT}: Pre-Training of {D}eep Bidirectional Transformers for Language Understanding",
        authors=("Devlin, Jacob",),
        year=2019,
    )
    record = _record(
        "BERT: Pretraining of deep bidirectional transformers for language understanding", "Jacob Devlin", 2018
    )
    verdict = decide(entry, [record])
    assert verdict.status == MATCHED and verdict.matched_by == "title" and verdict.score == 1.0


def test_a_subtitle_cut_matches_when_what_remains_identifies_a_work() -> None:
    record = _record("Dense Passage Retrieval: Open-Domain Question Answering at Scale", "Vladimir Karpukhin")
    entry = Paper("k", "Dense passage retrieval", authors=("V. Karpukhin",), year=2019)
    assert decide(entry, [record]).status == MATCHED
    short = Paper("k", "BERT", authors=("Devlin, J.",), year=2019)
    assert decide(short, [_record("BERT: Pre-training of deep transformers", "Jacob Devlin")]).status != MATCHED


def test_a_same_titled_paper_by_other_authors_never_matches_and_the_right_one_wins() -> None:
    entry = Paper("k", "Attention is all you need", authors=("Ashish Vaswani",), year=2017)
    impostor = _record("Attention Is All You Need", "John Smith", 2017, "arxiv:2")
    verdict = decide(entry, [impostor])
    assert verdict.status == WEAK and "first author differs" in verdict.reason
    assert decide(entry, [impostor, _record("Attention is all you need", "A. Vaswani", 2017)]).record.key == "arxiv:1"


def test_a_year_two_apart_or_a_missing_author_is_reported_not_applied() -> None:
    record = _record("Scalable inference for citation recommendation", "Ada Lovelace", 2015)
    far = Paper("k", "Scalable inference for citation recommendation", authors=("Lovelace, Ada",), year=2018)
    assert decide(far, [record]).status == WEAK
    anonymous = Paper("k", "Scalable inference for citation recommendation", year=2015)
    assert decide(anonymous, [record]).reason == "no first author to compare"


def test_two_different_papers_that_both_fit_are_ambiguous() -> None:
    entry = Paper("k", "Robust training of neural retrieval models", authors=("Ada Lovelace",), year=2020)
    one = _record("Robust training of neural retrieval model", "Ada Lovelace", 2020, "arxiv:1")
    two = _record("Robust training for neural retrieval models", "Ada Lovelace", 2020, "arxiv:2")
    assert decide(entry, [one, two]).status == AMBIGUOUS


def test_versions_of_one_work_pick_the_closest_year() -> None:
    entry = Paper("k", "Graph attention networks", authors=("Petar Velickovic",), year=2018)
    preprint = _record("Graph Attention Networks", "Petar Veličković", 2017, "arxiv:1")
    published = _record("Graph attention networks", "P. Velickovic", 2018, "openalex:W1")
    assert decide(entry, [preprint, published]).record.key == "openalex:W1"


def test_ids_match_first_unless_the_titles_disagree() -> None:
    entry = Paper("k", "Attention is all you need", doi="10.5555/3295222", authors=("Nobody",))
    record = Paper("crossref:x", "Attention is all you need", doi="https://doi.org/10.5555/3295222", year=2017)
    assert decide(entry, [record]).matched_by == "doi"
    wrong = Paper("crossref:y", "A survey of protein folding", doi="10.5555/3295222")
    assert decide(entry, [wrong]).status == WEAK
    assert decide(Paper("k", "", arxiv_id="1706.03762"), [Paper("a", "Whatever", arxiv_id="1706.03762v2")]).applied


def test_nothing_close_is_not_found() -> None:
    entry = Paper("k", "Stochastic gradient descent", authors=("Robbins, H.",), year=1951)
    assert decide(entry, [_record("Variational inference", "H. Robbins", 1951)]).status == NOT_FOUND
    assert decide(entry, []).status == NOT_FOUND


def test_surnames_from_every_way_names_are_written() -> None:
    assert {surname(n) for n in ("Ashish Vaswani", "Vaswani, Ashish", "A. Vaswani", "Vaswani A", "Vaswani, A.")} == {
        "vaswani"
    }
    assert surname("Laurens van der Maaten") == surname("van der Maaten, L.") == "maaten"
    assert surname("Barlas O\\u{g}uz") == surname("Barlas Oğuz") == "oguz"
    assert surname("Smith Jr., John") == surname("John Smith Jr") == "smith"


@st.composite
def _perturbed(draw: st.DrawFn) -> tuple[Paper, Paper]:
    """A record and the entry a .bib would hold for it: the same paper written differently."""
    words = draw(st.lists(st.sampled_from(WORDS), min_size=7, max_size=12))
    accent = draw(st.sampled_from(("Schrödinger", "Poincaré", "")))
    subtitle = draw(st.lists(st.sampled_from(WORDS), min_size=2, max_size=4))
    title_words = [*words, accent] if accent else list(words)
    record_title = " ".join(title_words).capitalize() + ": " + " ".join(subtitle)
    author = draw(st.sampled_from(SURNAMES))
    year = draw(st.integers(1990, 2025))
    record = Paper("arxiv:1", record_title, abstract="x", authors=(f"Ann {author}", "B. Other"), year=year)

    entry_words = list(title_words)
    change = draw(st.sampled_from(("none", "typo", "drop", "add")))
    letters = sum(len(w) for w in entry_words)
    if change == "typo":
        i = draw(st.integers(0, len(entry_words) - 1))
        word = entry_words[i]
        j = draw(st.integers(0, len(word) - 1))
        entry_words[i] = word[:j] + ("x" if word[j] != "x" else "y") + word[j + 1 :]
    elif change == "drop":
        i = draw(st.integers(0, len(entry_words) - 1))
        assume(len(entry_words[i]) <= 0.12 * letters)
        del entry_words[i]
    elif change == "add":
        word = draw(st.sampled_from(("a", "on", "the", "for", "new")))
        entry_words.insert(draw(st.integers(0, len(entry_words))), word)
    if draw(st.booleans()):  # a hyphen instead of a space
        i = draw(st.integers(0, len(entry_words) - 2))
        entry_words[i : i + 2] = [f"{entry_words[i]}-{entry_words[i + 1]}"]
    if draw(st.booleans()):  # braces protecting a word's case
        i = draw(st.integers(0, len(entry_words) - 1))
        entry_words[i] = "{" + entry_words[i].upper() + "}"
    title = _latex(" ".join(entry_words).title())
    if change == "none" and draw(st.booleans()):  # the subtitle kept
        title += " -- " + " ".join(subtitle)
    form = draw(st.sampled_from(("full", "comma", "initials")))
    name = {"full": f"Ann {author}", "comma": f"{author}, Ann", "initials": f"A. {author}"}[form]
    entry = Paper("k", title, authors=(_latex(name),), year=year + draw(st.sampled_from((-1, 0, 1))))
    return entry, record


@settings(max_examples=300, deadline=None)
@given(_perturbed())
def test_the_same_paper_written_differently_matches(pair: tuple[Paper, Paper]) -> None:
    entry, record = pair
    verdict = decide(entry, [record])
    assert verdict.status == MATCHED, (entry.title, record.title, verdict)


@settings(max_examples=300, deadline=None)
@given(_perturbed(), st.sampled_from(SURNAMES + ("Smith", "Lovelace", "Wang")))
def test_a_different_first_author_never_matches(pair: tuple[Paper, Paper], other: str) -> None:
    entry, record = pair
    assume(surname(other) != surname(entry.authors[0]))
    impostor = Paper("arxiv:2", record.title, abstract="y", authors=(f"Zoe {other}",), year=record.year)
    assert decide(entry, [impostor]).status != MATCHED
    verdict = decide(entry, [impostor, record])
    assert verdict.status == MATCHED and verdict.record.key == "arxiv:1"


def test_title_similarity_is_symmetric_enough() -> None:
    a, b = TitleForm.of("Deep learning for passage retrieval"), TitleForm.of("Deep-learning for passage retreival")
    assert abs(title_similarity(a, b) - title_similarity(b, a)) < 1e-9 and title_similarity(a, b) > 0.9


def test_titles_that_number_different_things_do_not_match() -> None:
    entry = Paper("k", "Deep retrieval models, Part II", authors=("Ada Lovelace",), year=2020)
    assert decide(entry, [_record("Deep retrieval models, Part III", "Ada Lovelace", 2020)]).status == WEAK
    assert decide(entry, [_record("Deep retrieval models, Part I", "Ada Lovelace", 2020)]).status == WEAK
    task = Paper("k", "SemEval-2017 Task 4: Sentiment analysis in Twitter", authors=("Sara Rosenthal",), year=2017)
    assert (
        decide(task, [_record("SemEval-2017 Task 5: Sentiment analysis in Twitter", "S. Rosenthal", 2017)]).status
        == WEAK
    )
    assert decide(task, [_record("SemEval 2017 task 4", "S. Rosenthal", 2017)]).status == MATCHED
    assert decide(
        task, [_record("{SemEval}-2017 Task 4: Sentiment Analysis in {Twitter}", "Rosenthal, S.", 2017)]
    ).applied


def test_the_same_surname_with_another_first_initial_is_another_author() -> None:
    entry = Paper("k", "Optimal recharging scheduling for urban electric buses", authors=("Yusheng Wang",), year=2017)
    other = _record("Optimal recharging scheduling for urban electric buses", "Gang Wang", 2017, "arxiv:2")
    assert decide(entry, [other]).status == WEAK
    right = _record("Optimal-recharging scheduling for urban electric buses", "Y. Wang", 2017)
    assert decide(entry, [other, right]).record.key == "arxiv:1"
    assert decide(entry, [_record(entry.title, "Wang, Y.-S.", 2017)]).applied
    assert decide(entry, [_record(entry.title, "Wang", 2017)]).applied  # no initial to compare


def test_a_short_title_survives_one_word_added_dropped_or_mistyped() -> None:
    entry = Paper("k", "Reward is enough", authors=("David Silver",), year=2021)
    assert decide(entry, [_record("Reawrd is enough", "D. Silver", 2021)]).applied
    rigid = Paper("k", "Rigid body dynamics algorithms", authors=("Roy Featherstone",), year=2008)
    assert decide(rigid, [_record("Rigid Body New Dynamics Algorithms", "R. Featherstone", 2008)]).applied
    assert decide(rigid, [_record("Rigid body algorithms", "R. Featherstone", 2008)]).applied
    assert not decide(rigid, [_record("Soft body dynamics algorithms", "R. Featherstone", 2008)]).applied
    assert not decide(rigid, [_record("Rigid dynamics", "R. Featherstone", 2008)]).applied  # two words left
