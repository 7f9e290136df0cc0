"""Query expansion: pseudo-relevance feedback (`prf`) and rewriting by a chat model (`llm`).

`prf` runs inside recall (it needs the index) and lives in `citerec.recall.feedback`;
`llm` rewrites passages before recall and is here. Both stay off by default (see
docs/evaluation.md). The choice itself is `citerec.choices.Expansion`.
"""
