"""The rankings the redesign of recall must keep: top-50 recall lists and final suggestions.

`record` ranks every eval paper's citing passages (against the paper's own
library and against the pooled one, the draft's other citations known as in
`citerec eval`), every eval paper as `citerec suggest` reads it, and 50
passages of the example draft against the example library, all with the
default options and no reranker. `scripts/record_rankings.py` writes the result
to `tests/fixtures/rankings/`; `tests/test_rankings_kept.py` compares.
Only the public API is used, so the record outlives any change of internals.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

from citerec import Suggester, SuggestOptions
from citerec.evaluate import build_eval_library, merge_keymaps
from citerec.latex import extract_contexts, read_draft
from citerec.papers import normalise_key

RECORD_DEPTH = 50
EXAMPLE_PASSAGES = 50
DIGITS = 6  # scores are compared rounded: the same arithmetic gives the same digits


def _papers(folder: Path) -> list[tuple[str, Path, list[Path]]]:
    rows = []
    with (folder / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            paths = row["paths"].split(",")
            base = folder / row["name"]
            rows.append((row["name"], base / paths[0], [base / p for p in paths if p.endswith(".bib")]))
    return rows


def _ranked(items: Any) -> list[list[Any]]:
    return [
        [[s.key, round(s.fused_score, DIGITS)] for s in item.ranking[:RECORD_DEPTH]]
        + [["->", [s.key for s in item.suggestions]]]
        for item in items
    ]


def _finishing(suggester: Suggester, tex: Path, keymap: dict[str, str]) -> list[list[Any]]:
    """As `citerec eval` ranks: citing passages, truth known per passage."""
    options = SuggestOptions(rerank="off")
    contexts = [c for c in extract_contexts(read_draft(tex)) if c.cited_keys]
    queries, truths = [], []
    for context in contexts:
        truth = tuple(dict.fromkeys(keymap[k] for k in map(normalise_key, context.cited_keys) if k in keymap))
        if truth:
            queries.append(context)
            truths.append(truth)
    return _ranked(suggester.rank(queries, options, known=truths))


def record(papers_dir: Path, examples_dir: Path, work: Path) -> dict[str, Any]:
    """Every recorded ranking, keyed by where it comes from."""
    out: dict[str, Any] = {}
    papers = _papers(papers_dir)
    pooled_bibs = [bib for _, _, bibs in papers for bib in bibs]
    library, keymaps = build_eval_library(pooled_bibs, work / "pooled")
    suggester = Suggester(library, options=SuggestOptions(rerank="off"))
    start = 0
    for name, tex, bibs in papers:
        keymap = merge_keymaps(keymaps[start : start + len(bibs)])
        start += len(bibs)
        out[f"pooled/{name}"] = _finishing(suggester, tex, keymap)
        out[f"suggest/{name}"] = _ranked(suggester.suggest_path(tex).contexts)
    for name, tex, bibs in papers:
        library, keymaps = build_eval_library(bibs, work / "own" / name)
        own = Suggester(library, options=SuggestOptions(rerank="off"))
        out[f"own/{name}"] = _finishing(own, tex, merge_keymaps(keymaps))
    library, _ = build_eval_library([examples_dir / "refs.bib"], work / "example")
    suggester = Suggester(library, options=SuggestOptions(rerank="off"))
    draft = read_draft(examples_dir / "draft.tex")
    passages = extract_contexts(draft, all_sentences=True)[:EXAMPLE_PASSAGES]
    out["example/passages"] = _ranked(suggester.rank(passages))
    return out


def digest(record_: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The record, compact: per passage its top 10 keys, its suggestions, and a hash of the whole top-50
    list with scores (what the comparison is made on)."""
    out = {}
    for source, passages in record_.items():
        rows = []
        for ranked in passages:
            *ranking, (_, suggestions) = ranked
            whole = hashlib.sha256(json.dumps(ranking).encode("utf-8")).hexdigest()[:16]
            rows.append({"top10": [key for key, _ in ranking[:10]], "suggestions": suggestions, "sha": whole})
        out[source] = rows
    return out


def save(record_: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(record_, handle, sort_keys=True)


def load(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)
