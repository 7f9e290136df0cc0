"""citerec: suggest `\\cite` keys for a LaTeX draft from your own BibTeX library.

The public API lives here. Names that need the heavier modules (index,
reranker, LaTeX reader) are loaded on first use, so `import citerec` stays
light and never imports torch.

    >>> import citerec
    >>> library, _ = citerec.open_library(".citerec", bib=["refs.bib"])
    >>> result = citerec.suggest("draft.tex", library=library, rerank="off")
    >>> for item in result.contexts: print(item.context.line_start, [s.key for s in item.suggestions])
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from citerec.errors import CiterecError, InputError, LibraryError, ModelError

# `suggest` and `evaluate` are both submodules and public functions: importing the
# modules here, then binding the functions, keeps `citerec.suggest` the function
# whatever is imported later.
from citerec.evaluate import EvalReport, PaperEval, evaluate, evaluate_paper
from citerec.library import AddReport, Library
from citerec.papers import Paper
from citerec.suggest import (
    ContextSuggestions,
    Suggester,
    Suggestion,
    SuggestOptions,
    SuggestResult,
    open_library,
    suggest,
)

if TYPE_CHECKING:
    from citerec.index import Index, ensure_index
    from citerec.ingest import fetch_arxiv, import_bibtex, papers_to_bibtex, read_bibtex, search_arxiv
    from citerec.latex import Context, extract_contexts, read_draft
    from citerec.recall import Candidate, FusionSettings, RecallSpec
    from citerec.rerank import Reranker, load_reranker

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "ensure_index": "citerec.index",
    "Index": "citerec.index",
    "Candidate": "citerec.recall",
    "RecallSpec": "citerec.recall",
    "FusionSettings": "citerec.recall",
    "read_bibtex": "citerec.ingest",
    "import_bibtex": "citerec.ingest",
    "papers_to_bibtex": "citerec.ingest",
    "fetch_arxiv": "citerec.ingest",
    "search_arxiv": "citerec.ingest",
    "read_draft": "citerec.latex",
    "extract_contexts": "citerec.latex",
    "Context": "citerec.latex",
    "load_reranker": "citerec.rerank",
    "Reranker": "citerec.rerank",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'citerec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AddReport",
    "Candidate",
    "CiterecError",
    "Context",
    "ContextSuggestions",
    "EvalReport",
    "FusionSettings",
    "Index",
    "InputError",
    "Library",
    "LibraryError",
    "ModelError",
    "Paper",
    "PaperEval",
    "RecallSpec",
    "Reranker",
    "SuggestOptions",
    "SuggestResult",
    "Suggester",
    "Suggestion",
    "__version__",
    "ensure_index",
    "evaluate",
    "evaluate_paper",
    "extract_contexts",
    "fetch_arxiv",
    "import_bibtex",
    "load_reranker",
    "open_library",
    "papers_to_bibtex",
    "read_bibtex",
    "read_draft",
    "search_arxiv",
    "suggest",
]
