"""What a draft already says about each paper it cites: the draft's other citing sentences, leave-one-out.

A finishing draft cites most of its papers more than once: on the eval papers
two citing sentences in three cite a paper the same draft cites elsewhere. For a
passage, every paper cited by *another* passage of the same draft carries
evidence: where that passage stands (sentences away, same paragraph, same
section) and what it says about the paper (its sentence, often a better
description than the paper's own abstract; the paper's own clause where the
sentence lists several papers with a phrase each). A passage's own citations never
count for it, so leave-citations-out evaluation stays exact and a passage's
suggestions do not depend on what it already cites.

What the user wrote about a paper in earlier drafts (`citerec library learn`) is
evidence of the second kind only: its sentences describe the paper, but their
distance to the passage means nothing. They count for a passage's recalled
candidates, never from the passage's own draft, never the passage's own sentence.
The sentences other papers cite a paper with (`library enrich --citing-contexts`)
count the same way; the "why" line says who wrote them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from citerec.papers import normalise_key
from citerec.past_sentences import PastSentence, source_name
from citerec.recall.spec import Candidate, Passage

QUOTE_CHARS = 60  # how much of a citing sentence a "why" line quotes


@dataclass(frozen=True)
class Citing:
    """Another passage of the draft that cites a paper: its index among the passages, and where it stands."""

    passage: int  # index into the passages evidence was built from
    distance: int  # sentences between the two passages (-1: positions unknown)
    same_paragraph: bool
    same_section: bool
    earlier: bool  # it comes before the passage in the draft
    sentence: str  # what the draft says there of the paper (citations removed)
    where: str = ""  # a past sentence's file:line in the user's earlier draft ("" for this draft's passages)
    by_others: bool = False  # a past sentence another paper wrote (`where`: its title and year)
    clause: bool = False  # `sentence` is the paper's own clause of a sentence listing several (`Passage.clauses`)

    @property
    def proximity(self) -> float:
        """1 / (1 + distance): 0.5 for the next sentence, small far away; a small constant when unknown."""
        return 1.0 / (1.0 + self.distance) if self.distance >= 0 else 0.01


@dataclass(frozen=True)
class PaperEvidence:
    """Everything the draft, outside one passage, says about one paper (nearest citing passage first)."""

    key: str  # the library key as the draft's known citations name it
    citing: tuple[Citing, ...]  # this draft's other passages (may be empty when only `past` speaks)
    past: tuple[Citing, ...] = ()  # sentences of the user's earlier drafts; `passage` numbered after the passages

    @property
    def count(self) -> int:
        return len(self.citing)

    @property
    def proximity(self) -> float:
        return sum(c.proximity for c in self.citing)

    @property
    def nearest(self) -> Citing:
        return self.citing[0]


def draft_evidence(passages: Sequence[Passage], known: Sequence[Collection[str]]) -> list[dict[str, PaperEvidence]]:
    """For each passage, every paper cited by another passage of its draft (normalised key → evidence).

    `known` are the library keys each passage cites (empty for a placeholder or a
    fresh draft). A passage never sees its own citations, nor those of passages
    of other drafts.
    """
    if not any(known):
        return [{} for _ in passages]
    by_draft: dict[str, list[int]] = {}
    for i, passage in enumerate(passages):
        by_draft.setdefault(passage.draft, []).append(i)
    out: list[dict[str, PaperEvidence]] = [{} for _ in passages]
    for members in by_draft.values():
        citers, names = _citers(members, known)
        for i in members:
            out[i] = _found(passages[i], i, passages, citers, names)
    return out


def evidence_for(
    here: Passage, passages: Sequence[Passage], known: Sequence[Collection[str]]
) -> dict[str, PaperEvidence]:
    """The evidence of a passage that is not among `passages` (a new one, as an editor completes it): every
    paper the passages of its draft cite. `Citing.passage` indexes `passages`; leave its own out of them."""
    citers, names = _citers([j for j, p in enumerate(passages) if p.draft == here.draft], known)
    return _found(here, -1, passages, citers, names)


def _citers(members: Sequence[int], known: Sequence[Collection[str]]) -> tuple[dict[str, list[int]], dict[str, str]]:
    """The passages among `members` that cite each paper (by normalised key), and each key as first written."""
    citers: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for j in members:
        for key in dict.fromkeys(known[j]) if j < len(known) else ():
            norm = normalise_key(key)
            names.setdefault(norm, key)
            citers.setdefault(norm, []).append(j)
    return citers, names


def _found(
    here: Passage, i: int, passages: Sequence[Passage], citers: dict[str, list[int]], names: dict[str, str]
) -> dict[str, PaperEvidence]:
    found = {}
    for norm, js in citers.items():
        citing = sorted((_citing(here, passages[j], j, norm) for j in js if j != i), key=_nearest_first)
        if citing:
            found[norm] = PaperEvidence(names[norm], tuple(citing))
    return found


def past_evidence(
    passages: Sequence[Passage],
    recalled: Sequence[Sequence[Candidate]],
    past: Sequence[PastSentence],
    evidence: Sequence[Mapping[str, PaperEvidence]],
    *,
    after: int | None = None,
) -> list[dict[str, PaperEvidence]]:
    """`evidence` with the past sentences about each passage's recalled candidates added: about any of them
    where the draft gives no evidence (a fresh draft), only about the papers the draft cites elsewhere where it
    does (measured: describing other candidates too costs finishing drafts, benchmarks/learn_from_drafts.py).

    A past sentence is `Citing.passage` `after` + its index in `past` (`after`: len(passages), unless the
    passages stand after others, as `citerec.recall.draft` ranks a new one). Past sentences from the
    passage's own draft are left out (the draft evidence already has them, leave-one-out), and so is the
    passage's own sentence (or its clauses) wherever it was kept."""
    after = len(passages) if after is None else after
    by_key: dict[str, list[int]] = {}
    for m, item in enumerate(past):
        by_key.setdefault(normalise_key(item.key), []).append(m)
    drafts = {p.draft: source_name(p.draft) for p in passages if p.draft} if past else {}
    out = [dict(found) for found in evidence] if evidence else [{} for _ in passages]
    drafted = [any(e.citing for e in found.values()) for found in out]
    for i, passage in enumerate(passages):
        own = {" ".join(text.split()) for text in (passage.sentence or passage.window, *dict(passage.clauses).values())}
        for candidate in recalled[i] if past else ():
            norm = normalise_key(candidate.key)
            said = tuple(
                Citing(after + m, -1, False, False, False, past[m].sentence, past[m].where, past[m].by_others)
                for m in by_key.get(norm, ())
                if past[m].source != drafts.get(passage.draft) and past[m].sentence not in own
            )
            if said and norm not in out[i] and drafted[i]:  # a draft citing papers elsewhere: they alone gain
                said = ()
            if said:
                found = out[i].get(norm)
                out[i][norm] = replace(found, past=said) if found else PaperEvidence(candidate.key, (), said)
    return out


def _citing(here: Passage, there: Passage, j: int, norm: str) -> Citing:
    """How passage `j` (`there`) stands to `here`, and what it says of the paper `norm`: its own clause where
    its sentence lists several papers with a phrase each, else the sentence."""
    known = here.position >= 0 and there.position >= 0
    clause = there.clause_of(norm)
    return Citing(
        passage=j,
        distance=abs(here.position - there.position) if known else -1,
        same_paragraph=known and here.paragraph >= 0 and here.paragraph == there.paragraph,
        same_section=bool(here.section) and here.section == there.section,
        earlier=known and there.position < here.position,
        sentence=clause or there.sentence or there.window,
        clause=bool(clause),
    )


def _nearest_first(citing: Citing) -> tuple[int, int]:
    return (citing.distance if citing.distance >= 0 else 1 << 30, citing.passage)


def why_cited(evidence: PaperEvidence) -> str:
    """A line for people: where the draft cites the paper nearest to this passage, and what it says there."""
    if not evidence.citing:
        said = evidence.past[0]
        who = "cited by others" if said.by_others else "you cited it before"
        return f"{who} ({said.where}): '{_quote(said.sentence)}'"
    nearest = evidence.nearest
    quote = _quote(nearest.sentence)
    others = f" (and {evidence.count - 1} more)" if evidence.count > 1 else ""
    if nearest.distance < 0:
        where = "cited elsewhere in this draft"
    elif nearest.earlier:
        where = f"cited {nearest.distance} sentence{'s' if nearest.distance != 1 else ''} earlier"
    else:
        where = f"cited {nearest.distance} sentence{'s' if nearest.distance != 1 else ''} later"
    return f"{where}{others}: '{quote}'"


def _quote(sentence: str) -> str:
    words = " ".join(sentence.split())
    if len(words) <= QUOTE_CHARS:
        return words
    return "… " + words[-QUOTE_CHARS:].split(" ", 1)[-1]
