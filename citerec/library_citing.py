"""How other papers cite each library paper: the citing contexts `library enrich --citing-contexts` keeps.

A paper is often described best by the sentences others cite it with. They are
kept per paper with their provenance (the citing paper's id, title and year,
and how the paper was found at the source), and every paper asked is recorded,
contexts or none, so a re-run asks nothing twice. Recall reads them as it reads
the user's past sentences (`Library.past_sentences`), marked `by_others`. A
paper's rows go with the paper; a revert drops them all. Every change is one
transaction of the library's file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from citerec.library_enriched import now_utc
from citerec.library_file import LibraryFile
from citerec.papers import normalise_key
from citerec.past_sentences import PastSentence

FOUND = "found"  # the paper was found at the source (with contexts or none)


@dataclass(frozen=True)
class CitingContext:
    """One sentence another paper cites a library paper with, and where it came from."""

    key: str  # the library key of the cited paper
    sentence: str
    citing_id: str  # the citing paper's id at the source ('' when the source gives none)
    citing_title: str
    citing_year: int | None
    matched_by: str  # how the cited paper was found at the source: doi, arxiv or title
    record: str  # the cited paper's id at the source
    source: str = "semanticscholar"
    fetched_at: str = ""

    def as_past(self) -> PastSentence:
        """The context as recall reads past sentences: by others, the citing paper's title in place of a file."""
        return PastSentence(
            self.key,
            self.sentence,
            f"{self.source}:{self.citing_id}",
            self.citing_title,
            0,
            by_others=True,
            year=self.citing_year,
        )


@dataclass(frozen=True)
class Asked:
    """What a paper was last asked for: by which request, how many contexts wanted, how many kept."""

    request: str
    wanted: int
    kept: int
    status: str

    def answers(self, request: str, wanted: int) -> bool:
        """Whether this ask already answers one by `request` for `wanted` contexts (no need to ask again)."""
        return self.request == request and (wanted <= self.wanted or self.kept < self.wanted)


_COLUMNS = "c.sentence, c.citing_id, c.citing_title, c.citing_year, c.matched_by, c.record, c.source, c.fetched_at"


class CitingContexts(LibraryFile):
    """The `citing_contexts` and `citing_asked` tables of a library file; `Library` drops a paper's rows with it."""

    def keep_citing_contexts(
        self, key: str, source: str, request: str, wanted: int, status: str, contexts: Sequence[CitingContext]
    ) -> bool:
        """Replace what `source` gave for `key` with `contexts` and record the ask, in one transaction.

        False (nothing written) when the paper left the library meanwhile."""
        norm, when = normalise_key(key), now_utc()
        with self.transaction():
            if not self._query("SELECT 1 FROM papers WHERE norm_key = ?", [norm]):
                return False
            self._write("DELETE FROM citing_contexts WHERE norm_key = ? AND source = ?", [norm, source])
            self._write_many(
                "INSERT INTO citing_contexts (norm_key, source, citing_id, citing_title, citing_year, sentence, "
                "matched_by, record, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (norm, source, c.citing_id, c.citing_title, c.citing_year, c.sentence, c.matched_by, c.record, when)
                    for c in contexts
                ),
            )
            self._write(
                "INSERT OR REPLACE INTO citing_asked (norm_key, source, request, wanted, kept, status, asked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [norm, source, request, wanted, len(contexts), status, when],
            )
        return True

    def citing_asked(self, source: str) -> dict[str, Asked]:
        """Every paper asked of `source` for its citing contexts (normalised key → the last ask)."""
        sql = "SELECT norm_key, request, wanted, kept, status FROM citing_asked WHERE source = ?"
        rows = self._query(sql, [source])
        return {norm: Asked(request, int(wanted), int(kept), status) for norm, request, wanted, kept, status in rows}

    def citing_contexts(self, keys: Collection[str] | None = None) -> list[CitingContext]:
        """The citing contexts kept (of `keys` only, when given), by paper then as the source gave them."""
        sql = f"SELECT p.key, {_COLUMNS} FROM citing_contexts c JOIN papers p ON p.norm_key = c.norm_key"
        if keys is None:
            rows = self._query(f"{sql} ORDER BY p.id, c.id")
        else:
            wanted, rows = list(dict.fromkeys(normalise_key(k) for k in keys)), []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self._query(f"{sql} WHERE c.norm_key IN ({marks}) ORDER BY p.id, c.id", chunk)
        return [
            CitingContext(key, sentence, citing_id, title, year, matched_by, record, source, fetched_at)
            for key, sentence, citing_id, title, year, matched_by, record, source, fetched_at in rows
        ]

    def cited_by_others(self, keys: Collection[str] | None = None) -> list[PastSentence]:
        """The citing contexts as past sentences (`by_others`), for recall."""
        return [context.as_past() for context in self.citing_contexts(keys)]

    def revert_citing_contexts(self, source: str) -> tuple[int, int]:
        """Drop every context `source` gave, and its record of what was asked; (contexts, papers) dropped."""
        with self.transaction():
            papers = self._write(
                "SELECT COUNT(DISTINCT norm_key) FROM citing_contexts WHERE source = ?", [source]
            ).fetchone()[0]
            dropped = self._write("DELETE FROM citing_contexts WHERE source = ?", [source]).rowcount
            self._write("DELETE FROM citing_asked WHERE source = ?", [source])
        return dropped, int(papers)

    def forget_citing_contexts(self, norm_keys: Iterable[str] | None = None) -> None:
        """Drop the contexts of removed papers (all of them: None); call inside the removal's transaction."""
        if norm_keys is None:
            self._write("DELETE FROM citing_contexts")
            self._write("DELETE FROM citing_asked")
            return
        keys = [(k,) for k in norm_keys]
        self._write_many("DELETE FROM citing_contexts WHERE norm_key = ?", keys)
        self._write_many("DELETE FROM citing_asked WHERE norm_key = ?", keys)
