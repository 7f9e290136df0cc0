"""Suggesting citations: options, the pipeline, and what it returns.

- `options`: `SuggestOptions`, every knob in one frozen value; `.recall` is the recall request;
- `reading`: draft or text → contexts;
- `pipeline`: `Suggester`, passages → recall (`citerec.recall`) → rerank → cut;
- `rerankers`: the judges, loaded once per model and backend;
- `cut`: judge scores and the cut to the top suggestions;
- `results`: `Suggestion`, `ContextSuggestions`, `SuggestResult` (built once, never patched);
- `api`: `suggest()`, the one-call entry point, and `open_library`.
"""

from __future__ import annotations

from citerec.suggest.api import open_library, suggest
from citerec.suggest.options import (
    DEFAULT_RERANK_THRESHOLD,
    PLAN_AUTO,
    PLAN_LEARNED,
    PLAN_PASSAGE,
    PLAN_WINDOW,
    PLANS,
    RECALL_METHODS,
    RERANK_MODES,
    SuggestOptions,
)
from citerec.suggest.pipeline import Suggester
from citerec.suggest.rerankers import RERANK_CACHE_FILE
from citerec.suggest.results import SCHEMA, ContextSuggestions, Suggestion, SuggestResult

__all__ = [
    "DEFAULT_RERANK_THRESHOLD",
    "PLANS",
    "PLAN_AUTO",
    "PLAN_LEARNED",
    "PLAN_PASSAGE",
    "PLAN_WINDOW",
    "RECALL_METHODS",
    "RERANK_CACHE_FILE",
    "RERANK_MODES",
    "SCHEMA",
    "ContextSuggestions",
    "SuggestOptions",
    "SuggestResult",
    "Suggester",
    "Suggestion",
    "open_library",
    "suggest",
]
