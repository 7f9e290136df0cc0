"""Query expansion: pseudo-relevance feedback (`prf`) and rewriting by a chat model (`llm`).

`prf` runs inside recall (it needs the index); `llm` rewrites passages before
recall. Both stay off by default: see docs/evaluation.md.
"""

from __future__ import annotations

EXPANSIONS = ("none", "prf", "llm")

__all__ = ["EXPANSIONS"]
