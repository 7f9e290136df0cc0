"""Each cited paper's own words in a sentence that lists several papers with a phrase each.

"We use ToolA~\\cite{a} (chain-graph models), ToolB~\\cite{b} (min-cost flow)." says
"chain-graph models" of a and "min-cost flow" of b; the whole sentence describes
neither paper apart from the other. A paper's clause is what the draft evidence and
`library learn` keep of such a sentence for it, so that a later "chain-graph models
\\cite{?}" finds the tool the draft already named for them. Retrieval still reads
the whole sentence: only what is said *about each paper* is narrowed.

The rules are conservative, because a wrong split loses words a paper owns while
the whole sentence only blurs them:

- Only a sentence with two or more citation commands splits (placeholders count as
  commands, `\\nocite` does not), no key cited by two of them. One command citing
  several keys (`\\cite{a,b,c}`) is one list item: its keys share its clause, and a
  sentence with only that command keeps the whole sentence for each key.
- All commands stand at the same bracket depth, in the same group: the sentence
  itself, or a parenthesis around the list; never a command's argument (a
  footnote's words may not be part of the sentence as it is read).
- Between two consecutive commands stands exactly one run of list separators (`,`
  `;` `and` `or`, adjacent ones one run) at the commands' depth, and it stands at
  one end of the gap: right after the first command, after a parenthetical that
  follows it ("ToolA~\\cite{a} (chain-graph models), ToolB~\\cite{b}"; "chain-graph
  models~\\cite{a}, min-cost flow~\\cite{b}"), or right before the second command
  ("\\citet{a} use chains, and \\citet{b} use flows"). Every gap of one sentence has
  its run on the same side. A run in the middle of the gap ("Smith~\\cite{a} proposed
  X, which Jones~\\cite{b} extended"), or more than one ("... \\cite{a}, a solver for
  chains, and ToolB~\\cite{b}"), leaves the sentence whole: whose words are whose is
  a guess there.
- The first item starts after the last `,` `;` `:` before the first command (`and`
  and `or` do not count there: "chain graphs and trees~\\cite{a}" is one item), or
  at the start of the sentence (group). What comes before it is the head; a head
  ending with a colon and at most `HEAD_WORDS` words ("We use three tools:")
  announces the list, and is kept before every clause; any other head is dropped
  (a long lead-in would outweigh the item's own words, the very blur this undoes).
- The last item ends after its command and a parenthetical right after it when the
  runs follow the commands, or at the next separator (or the end) when the runs
  precede them. When the runs follow the commands, what comes after the last item
  is a shared tail: dropped when a separator starts it, and when words do ("... and
  flows~\\cite{b} are popular", "the observation by~\\cite{b} that ...") whose they
  are is a guess, so the sentence stays whole.
- Every clause of a cited key holds at least `MIN_WORDS` words of its own (the
  head not counted); "ToolA~\\cite{a}, ToolB~\\cite{b}" keeps the whole sentence.

Anything else returns no clauses: every key keeps the whole sentence, as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from citerec.latex.cites import Citation
from citerec.papers import normalise_key

MIN_WORDS = 2  # words a clause must hold of its own, or the sentence stays whole
HEAD_WORDS = 6  # the longest head ("We use three tools:") kept before every clause
_SEPARATOR_WORDS = frozenset({"and", "or"})
_HEAD_STOPS = frozenset(",;:")
_WORD = re.compile(r"[^\W_][\w'’-]*")
_COMMAND = re.compile(r"\\(?:[A-Za-z@]+\*?|.)", re.S)
_CLOSING = {"(": ")", "[": "]", "{": "}", "$": "$"}
_TRAILING = " \t\r\n\x01~.!?"


@dataclass(frozen=True)
class Clause:
    """One list item of a sentence: the keys of its citation command and the source spans it reads as, in
    order (the kept head, then the item; citations inside them are the caller's to remove)."""

    keys: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Event:
    """Something met at the list's depth: a citation, a separator, a word, or a bracketed group (`paren`
    when it is a parenthesis or square bracket)."""

    kind: str  # "cite", "sep", "word", "group"
    start: int
    end: int
    text: str = ""
    paren: bool = False


def clause_of(clauses: Sequence[tuple[str, str]], key: str) -> str:
    """The words `clauses` (a sentence's (key, its own words) pairs) give the paper `key` (any spelling of it),
    "" when they give it none. Most sentences have no clauses and are asked once per paper and passage, so the
    common case costs nothing."""
    if not clauses:
        return ""
    norm = normalise_key(key)
    return next((text for cited, text in clauses if normalise_key(cited) == norm), "")


def split_clauses(s: str, start: int, end: int, citations: Sequence[Citation]) -> tuple[Clause, ...]:
    """The clause of each citation command of the sentence `s[start:end]` that cites keys, when the sentence
    lists several papers with words of their own (the rules are the module's); () when the whole sentence
    belongs to every key."""
    items = [c for c in citations if not c.is_nocite and start <= c.start and c.end <= end]
    keys = [k for c in items for k in c.keys]
    if len(items) < 2 or not keys or len(set(keys)) < len(keys):
        return ()
    scanned = _scan(s, start, end, citations, items)
    if scanned is None:
        return ()
    events, group_start, group_end, words = scanned
    at = [n for n, e in enumerate(events) if e.kind == "cite"]
    if len(at) != len(items):  # a command deeper than the others, or in another group
        return ()
    found = [_gap_run(events, a, b) for a, b in zip(at, at[1:], strict=False)]
    runs = [run for run in found if run is not None]
    if len(runs) < len(found):
        return ()
    sides = {side for _, _, side in runs if side != "both"}
    if len(sides) > 1:
        return ()
    after = sides != {"before"}  # the runs follow the commands ("chain graphs~\cite{a}, flows~\cite{b}")
    first, head = _first_start(events, at[0], group_start)
    last = _last_end(s, events, at[-1], group_end, after)
    if last < 0:
        return ()
    bounds = [first, *(x for a, b, _ in runs for x in (a, b)), last]
    spans = [(bounds[2 * n], bounds[2 * n + 1]) for n in range(len(items))]
    kept = head if head is not None and _head_kept(head, words) else None
    out = []
    for cit, (a, b) in zip(items, spans, strict=True):
        if not cit.keys:
            continue
        if sum(1 for w in words if a <= w < b) < MIN_WORDS:
            return ()
        out.append(Clause(cit.keys, (kept, (a, b)) if kept else ((a, b),)))
    return tuple(out)


def _scan(
    s: str, start: int, end: int, citations: Sequence[Citation], items: Sequence[Citation]
) -> tuple[list[_Event], int, int, list[int]] | None:
    """The events at the depth of the first command (inside its group), the group's span, and where every
    word of the sentence starts (at any depth, citations left out). None when brackets do not nest."""
    at = {c.start: c for c in citations if start <= c.start and c.end <= end}
    starts = {c.start for c in items}
    stack: list[tuple[str, int, int]] = []  # (opening, offset, group id)
    group, groups = 0, 0
    level: int | None = None  # the group of the first command
    spans: dict[int, tuple[int, int]] = {0: (start, end)}
    events: list[tuple[int, _Event]] = []
    words: list[int] = []
    i = start
    while i < end:
        c = s[i]
        cit = at.get(i)
        if cit is not None:
            if i in starts:
                if level is None:
                    if any(opening not in "([" for opening, _, _ in stack):
                        return None  # in a command's argument (a footnote): the sentence's reading may drop it
                    level = group
                events.append((group, _Event("cite", i, cit.end)))
            i = cit.end
            continue
        if c == "\\":
            m = _COMMAND.match(s, i, end)
            i = m.end() if m else i + 1
            continue
        if c in "([{" or (c == "$" and not (stack and stack[-1][0] == "$")):
            groups += 1
            stack.append((c, i, group))
            group = groups
            i += 1
            continue
        if c in ")]}$":
            if not stack or _CLOSING[stack[-1][0]] != c:
                return None
            opening, offset, outer = stack.pop()
            spans[group] = (offset + 1, i)
            events.append((outer, _Event("group", offset, i + 1, paren=opening in "([")))
            group = outer
            i += 1
            continue
        if c in ",;:":
            events.append((group, _Event("sep", i, i + 1, c)))
            i += 1
            continue
        m = _WORD.match(s, i, end)
        if m:
            words.append(i)
            kind = "sep" if m.group().lower() in _SEPARATOR_WORDS else "word"
            events.append((group, _Event(kind, i, m.end(), m.group().lower())))
            i = m.end()
            continue
        i += 1
    if stack or level is None:
        return None
    mine = [e for g, e in events if g == level]
    return mine, spans[level][0], spans[level][1], words


def _gap_run(events: list[_Event], a: int, b: int) -> tuple[int, int, str] | None:
    """The one run of separators between the commands at events `a` and `b`: where it starts and ends, and
    on which side of the gap it stands ("after" the first command, "before" the second, or "both" when the
    gap is nothing else). None when there is no such run, more than one, or it stands inside the gap."""
    gap = events[a + 1 : b]
    seps = [n for n, e in enumerate(gap) if e.kind == "sep"]
    if not seps or seps != list(range(seps[0], seps[-1] + 1)):
        return None
    lead = gap[: seps[0]]
    after = not lead or (len(lead) == 1 and lead[0].kind == "group" and lead[0].paren)
    before = seps[-1] == len(gap) - 1
    if not (after or before):
        return None
    side = "both" if after and before else "after" if after else "before"
    return gap[seps[0]].start, gap[seps[-1]].end, side


def _first_start(events: list[_Event], first: int, group_start: int) -> tuple[int, tuple[int, int] | None]:
    """Where the first item starts, and the head before it when a colon ends that head."""
    stops = [e for e in events[:first] if e.kind == "sep" and e.text in _HEAD_STOPS]
    if not stops:
        return group_start, None
    stop = stops[-1]
    return stop.end, ((group_start, stop.end) if stop.text == ":" else None)


def _last_end(s: str, events: list[_Event], last: int, group_end: int, after: bool) -> int:
    """Where the last item ends: after its command (and a parenthetical right after it) when the runs follow
    the commands; else at the next separator, or the end of the group without its closing punctuation. -1
    when words follow the last command there: whether they are its own ("the observation by~\\cite{b} that
    ...") or the list's ("... and flows~\\cite{b} are popular") is a guess."""
    if after:
        rest = events[last + 1 :]
        end = rest.pop(0).end if rest and rest[0].kind == "group" and rest[0].paren else events[last].end
        return -1 if rest and rest[0].kind != "sep" else end
    stop = next((e.start for e in events[last + 1 :] if e.kind == "sep"), group_end)
    while stop > events[last].end and s[stop - 1] in _TRAILING:
        stop -= 1
    return stop


def _head_kept(head: tuple[int, int], words: Sequence[int]) -> bool:
    """Whether the head is short enough to say what the list is without outweighing its items."""
    return 0 < sum(1 for w in words if head[0] <= w < head[1]) <= HEAD_WORDS
