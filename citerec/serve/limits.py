"""Size and queue limits of the service, in one place so the CLI and tests share the defaults.

The limits exist so that one request cannot take the server's memory: the
reranker's cost grows with documents x length, and suggestion requests with
the size of the draft.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException


@dataclass(frozen=True)
class ServeLimits:
    """Per-request size limits (413 past them) and the reranker queue's shape."""

    max_documents: int = 1000
    max_query_chars: int = 4000
    max_document_chars: int = 20000
    max_text_chars: int = 500_000
    max_search_k: int = 200
    max_batch_pairs: int = 64
    max_queued_pairs: int = 4096
    batch_wait_ms: float = 5.0
    batching: bool = True
    pipeline_threads: int = 4  # threads for recall and the suggestion pipeline
    max_pipeline_jobs: int = 32  # suggestion/search requests running or waiting; 503 past it
    max_body_bytes: int = 16 * 1024 * 1024  # request bodies, checked before parsing
    request_timeout_s: float = 120.0  # model work of one request past this: 504, so clients never hang

    def __post_init__(self) -> None:
        for name in (
            "max_documents",
            "max_query_chars",
            "max_document_chars",
            "max_text_chars",
            "max_search_k",
            "max_batch_pairs",
            "max_queued_pairs",
            "pipeline_threads",
            "max_pipeline_jobs",
            "max_body_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not self.request_timeout_s > 0:
            raise ValueError("request_timeout_s must be positive")
        if self.batch_wait_ms < 0:
            raise ValueError("batch_wait_ms must not be negative")


def too_large(what: str, size: int, limit: int, unit: str) -> HTTPException:
    """The 413 for a request past one of the limits, naming the limit's option."""
    return HTTPException(413, f"{what} has {size} {unit}; this server takes at most {limit} (see citerec serve --help)")
