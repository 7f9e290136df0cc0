"""A draft's citations read once, for ranking new passages against them: what an editor asks per keystroke.

`recall` reads a whole draft at once: its passages' evidence, their sentences,
the adaptation to the draft. An editor completes one passage at a time, many
times a second, in a draft that changed only where the cursor is. So the draft's
citing passages are read once, when it is opened or saved (`DraftCitations`: the
passages, the library keys each cites, their sentences embedded), and a new
passage is ranked against them (`recall(…, draft=…)`) with the same evidence,
features and shipped model as `recall`, recalling only the new passage. The
user's past sentences, kept from their other drafts (`citerec library
learn`), are read and embedded with them, so they describe the new passage's
candidates as in `recall`. The per-draft adaptation (`adapt`) is left out: it
recalls every cited passage again. Leave-one-out stays the caller's: it drops
the passage being completed (`without` its position) when the draft held it,
and leaves out the past sentences kept from the draft itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from citerec.recall.features import Clauses, Sentences
from citerec.recall.spec import Passage

if TYPE_CHECKING:
    from citerec.index import Index
    from citerec.past_sentences import PastSentence


@dataclass(frozen=True, eq=False)
class DraftCitations:
    """A draft's citing passages, the library keys each cites, and their sentences as the features read them;
    then the user's past sentences (from other drafts), read the same way."""

    passages: tuple[Passage, ...]
    known: tuple[tuple[str, ...], ...]
    sentences: Sentences
    past: tuple[PastSentence, ...] = ()
    past_sentences: Sentences | None = None  # of `past`, in order (None: none)
    clauses: Clauses | None = None  # the passages' clauses (`Passage.clauses`; None: none)

    @classmethod
    def read(
        cls,
        index: Index,
        passages: Sequence[Passage],
        known: Sequence[Collection[str]],
        *,
        past: Sequence[PastSentence] = (),
        between: Callable[[], None] | None = None,
        chunk: int = 16,
    ) -> DraftCitations:
        """The passages that cite library papers (the others are no evidence), their sentences and clauses
        embedded once, then the `past` sentences, `chunk` at a time with `between` called before each (a caller in the
        background lets others go first)."""
        kept = [i for i, keys in enumerate(known) if keys]
        cited = tuple(passages[i] for i in kept)
        sentences = _embedded(index, [p.sentence or p.window for p in cited], between, chunk)
        said = _embedded(index, [s.sentence for s in past], between, chunk) if past else None
        texts = Clauses.texts_of(cited)
        clauses = Clauses(texts, _embedded(index, texts, between, chunk)) if texts else None
        return cls(cited, tuple(tuple(known[i]) for i in kept), sentences, tuple(past), said, clauses)

    def __len__(self) -> int:
        return len(self.passages)

    def without(self, position: int) -> DraftCitations:
        """The draft without its passage at `position` (the one being completed: its own citations never count)."""
        keep = [j for j, passage in enumerate(self.passages) if passage.position != position]
        if len(keep) == len(self.passages):
            return self
        sentences = Sentences(self.sentences.vectors[keep], tuple(self.sentences.tokens[j] for j in keep))
        passages, known = tuple(self.passages[j] for j in keep), tuple(self.known[j] for j in keep)
        return DraftCitations(passages, known, sentences, self.past, self.past_sentences, self.clauses)


def _embedded(index: Index, texts: Sequence[str], between: Callable[[], None] | None, chunk: int) -> Sentences:
    """The texts' `Sentences`, `chunk` at a time with `between` called before each."""
    sentences = Sentences(np.zeros((0, index.manifest.dimension), np.float32), ())
    for start in range(0, len(texts), chunk):
        if between is not None:
            between()
        sentences = sentences + Sentences.of_texts(index, texts[start : start + chunk])
    return sentences
