"""What the user has written about each paper: their past citing sentences, kept from their finished drafts.

`citerec library learn paper.tex` keeps, for every library paper the draft cites,
the sentences that cite it (citations removed; the paper's own clause where a
sentence lists several papers with a phrase each), so a new draft is ranked with
how the user described each paper before (`citerec.recall.evidence`). Rows are
keyed by paper and by the draft they came from: learning a draft again replaces
its rows, `forget` drops them, and removing a paper removes its rows. Each
change is one transaction of the library's SQLite file.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from citerec.latex.clauses import clause_of
from citerec.library_file import LibraryFile
from citerec.papers import normalise_key

if TYPE_CHECKING:
    from citerec.latex import Draft

log = logging.getLogger(__name__)

MISSING_NAMED = 5  # keys a report names when a draft cites papers the library lacks
TITLE_SHOWN = 50  # characters of a citing paper's title a "why" line shows


@dataclass(frozen=True)
class CitingSentence:
    """One sentence of a draft that cites papers: where it is, what it says, which keys it cites, and each key's
    own words where it lists several papers with a phrase each (`citerec.latex.clauses`)."""

    file: str
    line: int
    sentence: str
    keys: tuple[str, ...]
    clauses: tuple[tuple[str, str], ...] = ()

    def said_of(self, key: str) -> str:
        """What the sentence says of `key` (any spelling of it): its clause, or the whole sentence."""
        return clause_of(self.clauses, key) or self.sentence


@dataclass(frozen=True)
class PastSentence:
    """A sentence the user wrote about a library paper, and where: the draft (`source`), its file and line.

    A sentence another paper cites it with (`library enrich --citing-contexts`) describes the paper the same
    way, so recall reads it alike; `by_others` keeps it apart for the people reading why: its `source` is
    `semanticscholar:<citing paper id>`, its `file` the citing paper's title, `year` that paper's year."""

    key: str  # the library key of the paper
    sentence: str
    source: str
    file: str
    line: int
    by_others: bool = False
    year: int | None = None

    @property
    def where(self) -> str:
        if self.by_others:
            title = self.file if len(self.file) <= TITLE_SHOWN else self.file[: TITLE_SHOWN - 1].rstrip() + "…"
            return f'"{title}", {self.year}' if self.year else f'"{title}"'
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class LearnReport:
    """What learning one draft stored: sentences and papers kept, rows replaced, cited keys the library lacks."""

    source: str
    sentences: int
    papers: int
    replaced: int
    missing: tuple[str, ...]

    def summary(self) -> str:
        text = (
            f"{self.source}: {counted(self.sentences, 'citing sentence')} about {counted(self.papers, 'paper')} learned"
        )
        if self.replaced:
            text += f" (replacing {self.replaced} from its last learning)"
        if self.missing:
            named = ", ".join(self.missing[:MISSING_NAMED]) + (", …" if len(self.missing) > MISSING_NAMED else "")
            text += f"; {counted(len(self.missing), 'cited key')} not in the library ({named}), not kept"
        return text


def counted(n: int, noun: str) -> str:
    """'1 paper', '2 papers'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def source_name(path: Path | str) -> str:
    """How a draft is named as a source: its resolved path, so any spelling of it is the same source."""
    return str(Path(path).resolve())


def citing_sentences(draft: Draft) -> list[CitingSentence]:
    """Every sentence of a draft that cites keys, as the reader gives it (citations removed), with its clauses."""
    from citerec.latex import extract_contexts

    return [
        CitingSentence(c.file, c.line_start, c.sentence or c.text, c.cited_keys, c.clauses)
        for c in extract_contexts(draft)
        if c.cited_keys
    ]


class PastSentences(LibraryFile):
    """The past sentences of a library file (its `learned` table: the name kept so existing libraries open);
    `Library` removes a paper's rows with the paper."""

    def learn(self, source: str, citing: Iterable[CitingSentence]) -> LearnReport:
        """Keep the sentences of `source` that cite library papers, replacing what `source` gave before.

        One transaction: a crash keeps the earlier rows or the new ones, never a mix."""
        rows: list[tuple[str, str, str, int, str]] = []
        missing: dict[str, None] = {}
        with self.transaction():
            for item in citing:
                for key in dict.fromkeys(item.keys):
                    norm = normalise_key(key)
                    said = " ".join(item.said_of(key).split())
                    if not self._query("SELECT 1 FROM papers WHERE norm_key = ?", [norm]):
                        missing.setdefault(key, None)
                    elif said:
                        rows.append((norm, source, item.file, item.line, said))
            rows = list(dict.fromkeys(rows))
            replaced = self._write("DELETE FROM learned WHERE source = ?", [source]).rowcount
            columns = "norm_key, source, file, line, sentence"
            self._write_many(f"INSERT INTO learned ({columns}) VALUES (?, ?, ?, ?, ?)", rows)
        report = LearnReport(source, len(rows), len({r[0] for r in rows}), replaced, tuple(missing))
        log.info("%s", report.summary())
        return report

    def learn_draft(self, draft: Draft) -> LearnReport:
        """Learn a draft read with its includes (`citerec.latex.read_draft`), named by its main file."""
        return self.learn(source_name(draft.main), citing_sentences(draft))

    def forget(self, source: str) -> int:
        """Drop every past sentence kept from `source`; how many there were."""
        with self.transaction():
            return self._write("DELETE FROM learned WHERE source = ?", [source]).rowcount

    def past_sources(self) -> list[tuple[str, int]]:
        """Every draft learned from (`library learn`), with how many past sentences it gave."""
        return [(s, n) for s, n in self._query("SELECT source, COUNT(*) FROM learned GROUP BY source ORDER BY source")]

    def past_sentences(self, keys: Collection[str] | None = None) -> list[PastSentence]:
        """The past sentences (of `keys` only, when given), by paper then source and line."""
        sql = (
            "SELECT p.key, l.sentence, l.source, l.file, l.line FROM learned l JOIN papers p ON p.norm_key = l.norm_key"
        )
        if keys is None:
            rows = self._query(f"{sql} ORDER BY p.id, l.source, l.line, l.id")
        else:
            wanted = list(dict.fromkeys(normalise_key(k) for k in keys))
            rows = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self._query(f"{sql} WHERE l.norm_key IN ({marks}) ORDER BY p.id, l.source, l.line, l.id", chunk)
        return [PastSentence(key, sentence, source, file, int(line)) for key, sentence, source, file, line in rows]

    def has_past_sentences(self) -> bool:
        return bool(self._query("SELECT 1 FROM learned LIMIT 1"))
