"""The Qwen3-Reranker contract shared by every backend: prompt, document text, truncation.

Every backend must score exactly the same token sequence, so the prompt pieces
and the truncation rule live here and nowhere else. A prompt is tokenized as
four pieces whose boundaries are natural token boundaries of Qwen's tokenizer
(a special token, or a newline before `<Document>`):

    PREFIX | "<Instruct>: {instruction}\\n<Query>: {query}\\n" | "<Document>: {document}" | SUFFIX

The first two pieces are the same for every candidate of a query (the shared
part a backend may compute once); the last two differ per candidate. vLLM's
score API takes the same split: `PREFIX + query segment` as the query text,
`document segment + SUFFIX` as the document text.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from citerec.papers import Paper
from citerec.progress import ProgressCallback, no_progress

DEFAULT_RERANKER = "Qwen/Qwen3-Reranker-4B"
DEFAULT_INSTRUCTION = (
    "Given a passage from a scientific paper draft, judge whether the candidate paper should be cited in it"
)
DEFAULT_MAX_LENGTH = 8192

PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
YES_TOKEN = "yes"
NO_TOKEN = "no"

# The query is cut only when it alone would leave the document fewer tokens than this.
MIN_DOCUMENT_TOKENS = 64


@runtime_checkable
class Reranker(Protocol):
    """A yes/no judge: P(yes) that each document fits the query, in input order."""

    model_name: str

    def score(
        self,
        query: str,
        documents: Sequence[str],
        *,
        instruction: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[float]: ...

    def score_pairs(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        instruction: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[float]: ...


class BaseReranker(abc.ABC):
    """What every backend shares: `score` is `score_pairs` with one query; empty input costs nothing.

    A backend implements `_score_pairs` for a non-empty list, with the
    instruction and the progress callback already resolved.
    """

    model_name: str

    def score(
        self,
        query: str,
        documents: Sequence[str],
        *,
        instruction: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[float]:
        return self.score_pairs([(query, d) for d in documents], instruction=instruction, progress=progress)

    def score_pairs(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        instruction: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[float]:
        if not pairs:
            return []
        return self._score_pairs(pairs, instruction or DEFAULT_INSTRUCTION, progress or no_progress)

    @abc.abstractmethod
    def _score_pairs(
        self, pairs: Sequence[tuple[str, str]], instruction: str, progress: ProgressCallback
    ) -> list[float]: ...


def recall_order_fusion(reranker: object) -> Callable[[Sequence[float]], list[float]] | None:
    """How `reranker` weighs recall's order into one passage's scores (candidates in recall order), found through
    its wrappers (score cache, server batcher): the small judge's fusion, or None for a judge whose scores stand
    alone (Qwen3's are used exactly as they come)."""
    seen: object | None = reranker
    while seen is not None:
        fuse = getattr(seen, "with_recall_order", None)
        if callable(fuse):
            return fuse  # type: ignore[no-any-return]
        seen = getattr(seen, "inner", None) or getattr(getattr(seen, "batcher", None), "reranker", None)
    return None


def format_document(paper: Paper) -> str:
    """The candidate as the judge sees it: title, a byline (authors, year, venue), the abstract."""
    parts = [paper.title.strip()]
    authors = ", ".join(a.strip() for a in paper.authors[:6] if a.strip())
    if len(paper.authors) > 6:
        authors += " et al."
    byline = " ".join(x for x in (authors, f"({paper.year})" if paper.year else "") if x)
    if paper.venue.strip():
        byline = f"{byline}, {paper.venue.strip()}" if byline else paper.venue.strip()
    if byline:
        parts.append(byline)
    if paper.abstract.strip():
        parts.append(paper.abstract.strip())
    return "\n".join(parts)


def query_segment(query: str, instruction: str) -> str:
    return f"<Instruct>: {instruction}\n<Query>: {query}\n"


def document_segment(document: str) -> str:
    return f"<Document>: {document}"


def format_prompt(query: str, document: str, instruction: str = DEFAULT_INSTRUCTION) -> str:
    """The whole prompt as one string (untruncated): prefix, body, suffix."""
    return PREFIX + query_segment(query, instruction) + document_segment(document) + SUFFIX


def truncate_body(query_ids: list[int], doc_ids: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Cut the body to `budget` tokens: the document's tail first, then the query's.

    The query is cut independently of the document (to leave at least
    `MIN_DOCUMENT_TOKENS` for any document), so every candidate of one query
    shares the same query tokens; that is what makes prefix reuse exact.
    """
    if budget <= 0:
        raise ValueError("max_length leaves no room for the prompt body")
    floor = min(MIN_DOCUMENT_TOKENS, budget // 2)
    query_ids = query_ids[: budget - floor]
    return query_ids, doc_ids[: budget - len(query_ids)]


@dataclass(frozen=True)
class EncodedPair:
    """Token ids of one prompt: `shared` (prefix + query segment) then `tail` (document + suffix)."""

    shared: tuple[int, ...]
    tail: tuple[int, ...]

    @property
    def ids(self) -> list[int]:
        return [*self.shared, *self.tail]

    def __len__(self) -> int:
        return len(self.shared) + len(self.tail)


class PromptEncoder:
    """Tokenizes prompts piecewise and truncates the body so that prefix and suffix survive."""

    def __init__(self, encode: Callable[[list[str]], list[list[int]]], max_length: int = DEFAULT_MAX_LENGTH) -> None:
        """`encode` maps texts to token ids without adding special tokens (a tokenizer batch call)."""
        self._encode = encode
        self.max_length = max_length
        self.prefix_ids, self.suffix_ids = (tuple(ids) for ids in encode([PREFIX, SUFFIX]))
        self.budget = max_length - len(self.prefix_ids) - len(self.suffix_ids)
        if self.budget <= 0:
            raise ValueError(f"max_length {max_length} is shorter than the prompt's fixed prefix and suffix")

    @classmethod
    def for_tokenizer(cls, tokenizer, max_length: int = DEFAULT_MAX_LENGTH) -> PromptEncoder:
        """An encoder over a Hugging Face tokenizer."""
        return cls(lambda texts: tokenizer(texts, add_special_tokens=False)["input_ids"], max_length)

    def encode(self, pairs: Sequence[tuple[str, str]], instruction: str) -> list[EncodedPair]:
        """Encode (query, document) pairs; each distinct query is tokenized once."""
        queries = list(dict.fromkeys(q for q, _ in pairs))
        query_ids = dict(zip(queries, self._encode([query_segment(q, instruction) for q in queries]), strict=True))
        doc_ids = self._encode([document_segment(d) for _, d in pairs])
        out = []
        for (query, _), ids in zip(pairs, doc_ids, strict=True):
            q, d = truncate_body(query_ids[query], ids, self.budget)
            out.append(EncodedPair(self.prefix_ids + tuple(q), tuple(d) + self.suffix_ids))
        return out


def score_api_texts(
    encoder: PromptEncoder, pairs: Sequence[tuple[str, str]], instruction: str, decode: Callable[[Sequence[int]], str]
) -> list[tuple[str, str]]:
    """(query side, document side) strings for vLLM's score API, truncated like every other backend.

    The query side is PREFIX + query segment, the document side the document
    segment + SUFFIX (as in vLLM's Qwen3-Reranker example); both are decoded
    from the truncated token ids, so vLLM sees what the `hf` backend scores.
    """
    return [(decode(p.shared), decode(p.tail)) for p in encoder.encode(pairs, instruction)]


def group_by_query(pairs: Sequence[tuple[str, str]]) -> dict[str, list[int]]:
    """Indices of `pairs` per distinct query, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, (query, _) in enumerate(pairs):
        groups.setdefault(query, []).append(i)
    return groups
