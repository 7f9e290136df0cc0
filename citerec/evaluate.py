"""Leave-citations-out evaluation of the suggestion pipeline on a real paper.

Every sentence that cites becomes a context whose cited keys are the truth;
the cite commands are removed from what the pipeline sees (the LaTeX reader
always removes them), and the candidates are the paper's own .bib plus optional
distractor libraries. The ranking comes from the same `Suggester` as
`citerec suggest`: there is no separate scoring path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citerec.errors import CiterecError
from citerec.library import Library
from citerec.papers import normalise_key
from citerec.progress import ProgressCallback, no_progress
from citerec.suggest import Suggester, SuggestOptions

if TYPE_CHECKING:
    from citerec.latex import ReadWarning
    from citerec.rerank import Reranker

log = logging.getLogger(__name__)

READINGS = ("finishing", "fresh")  # the draft's other citations known (never a passage's own), or nothing known
RECALL_CUTOFFS = (1, 5, 10, 20)
METRIC_NAMES = tuple(f"recall@{k}" for k in RECALL_CUTOFFS) + ("mrr", "ndcg@10")


def ranking_metrics(ranked: Sequence[str], truth: Sequence[str]) -> dict[str, float]:
    """Recall@k, MRR and binary nDCG@10 of one ranked key list against the true keys."""
    relevant = {normalise_key(k) for k in truth}
    if not relevant:
        raise ValueError("a context needs at least one true key")
    hits = [normalise_key(k) in relevant for k in ranked]
    metrics = {f"recall@{k}": sum(hits[:k]) / len(relevant) for k in RECALL_CUTOFFS}
    first = next((i for i, hit in enumerate(hits) if hit), None)
    metrics["mrr"] = 0.0 if first is None else 1.0 / (first + 1)
    dcg = sum(1.0 / math.log2(i + 2) for i, hit in enumerate(hits[:10]) if hit)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    metrics["ndcg@10"] = dcg / ideal
    return metrics


def average(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over rows (contexts or papers); zeros when there are none."""
    if not rows:
        return {name: 0.0 for name in METRIC_NAMES}
    return {name: sum(row[name] for row in rows) / len(rows) for name in METRIC_NAMES}


@dataclass(frozen=True)
class ContextEval:
    """One leave-citations-out query: where it is, the truth, and what was ranked."""

    file: str
    line: int
    query: str
    truth: tuple[str, ...]
    ranked: tuple[str, ...]
    metrics: dict[str, float]
    sentence: str = ""  # the citing sentence alone (`query` holds it with its neighbours)


@dataclass(frozen=True)
class PaperEval:
    """Averaged metrics of one paper, with its per-context details."""

    name: str
    tex: str
    n_contexts: int
    n_candidates: int
    n_skipped: int  # contexts whose cited keys are all missing from the .bib
    metrics: dict[str, float]
    contexts: tuple[ContextEval, ...] = dataclasses.field(default=(), repr=False)
    warnings: tuple[ReadWarning, ...] = ()  # damage in the paper's source that reading recovered from
    notes: tuple[str, ...] = ()  # what reading skipped or refused, and a draft that cites but gave no context

    def to_json(self, with_contexts: bool = False) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not with_contexts:
            data.pop("contexts")
        return data


@dataclass(frozen=True)
class EvalReport:
    """The result of `citerec eval`: papers, their macro average, and the configuration used."""

    papers: tuple[PaperEval, ...]
    metrics: dict[str, float]
    config: dict[str, Any]

    def to_json(self, with_contexts: bool = False) -> dict[str, Any]:
        return {
            "papers": [p.to_json(with_contexts) for p in self.papers],
            "metrics": self.metrics,
            "config": self.config,
        }


def build_eval_library(bibs: Sequence[Path], root: Path | None = None) -> tuple[Library, list[dict[str, str]]]:
    """One library from several .bib files, and for each file a map from its keys to library keys.

    Keys that collide with a different paper from an earlier file are renamed
    `key@file-stem`; a work listed twice (same DOI, arXiv id or title) is kept
    once. The maps let each paper's truth keys still find their papers.
    """
    from citerec.ingest import read_bibtex

    if root is None:
        digest = hashlib.sha256("\0".join(str(p.resolve()) for p in bibs).encode()).hexdigest()[:12]
        root = Path(tempfile.gettempdir()) / f"citerec-eval-{digest}"
    library = Library(root)  # a kept folder: its index is reused for unchanged papers
    keymaps = []
    macros: dict[str, str] = {}  # @string macros carry from one file to the next, as with \bibliography{a,b}
    with library.transaction():
        library.clear()
        for path in bibs:
            result = read_bibtex(path, macros=macros)
            macros.update(result.strings)
            keymap: dict[str, str] = {}
            for paper in result.papers:
                original = normalise_key(paper.key)
                existing = library.get(paper.key)
                if existing is not None and library.find_duplicate(paper) == existing:
                    keymap[original] = existing.key
                    continue
                if existing is not None:
                    paper = dataclasses.replace(paper, key=library.unique_key(f"{paper.key}@{path.stem}"))
                report = library.add([paper])
                keymap[original] = report.duplicates[0][1] if report.duplicates else paper.key
            keymaps.append(keymap)
        if len(library) == 0:
            raise CiterecError(f"{', '.join(map(str, bibs))}: no entries could be imported")
    return library, keymaps


def evaluate_on_library(
    tex: Path | str,
    suggester: Suggester,
    keymap: dict[str, str],
    *,
    options: SuggestOptions | None = None,
    name: str | None = None,
    reading: str = "finishing",
    bibs: Sequence[Path | str] = (),
) -> PaperEval:
    """Leave-citations-out metrics of one paper against a ready suggester (library + index + reranker).

    `reading` "finishing": the paper's other citations are known to each passage (as when a writer fills a
    gap in a nearly done paper); "fresh": none are (a first draft). `bibs`, the paper's own .bib files, mark
    how far up its includes may reach (`citerec.latex.reader.project_top`)."""
    from citerec.latex import extract_contexts, read_draft, unread_citations

    if reading not in READINGS:
        raise CiterecError(f"reading must be one of {', '.join(READINGS)}, not {reading!r}")

    options = dataclasses.replace(options or suggester.options, include_cited=True, threshold=-math.inf)
    draft = read_draft(tex, allow_outside_includes=options.allow_outside_includes, strict=options.strict, bibs=bibs)
    contexts = [c for c in extract_contexts(draft, mode=options.mode, neighbours=options.neighbours) if c.cited_keys]
    unread = unread_citations(draft, contexts)
    if unread:
        log.warning("%s", unread)
    queries, truths, skipped = [], [], 0
    for context in contexts:
        truth = tuple(dict.fromkeys(keymap[k] for k in map(normalise_key, context.cited_keys) if k in keymap))
        if truth:
            queries.append(context)
            truths.append(truth)
        else:
            skipped += 1
    known = truths if reading == "finishing" else [()] * len(truths)  # truths as library keys (see keymap)
    ranked = suggester.rank(queries, options, known=known)
    rows = []
    for context, truth, result in zip(queries, truths, ranked, strict=True):
        keys = tuple(s.key for s in result.ranking)
        metrics = ranking_metrics(keys, truth)
        rows.append(ContextEval(context.file, context.line_start, context.text, truth, keys, metrics, context.sentence))
    log.info("%s: %d contexts, %d skipped, %d candidates", tex, len(rows), skipped, len(suggester.library))
    return PaperEval(
        name=name or Path(tex).stem,
        tex=str(tex),
        n_contexts=len(rows),
        n_candidates=len(suggester.library),
        n_skipped=skipped,
        metrics=average([r.metrics for r in rows]),
        contexts=tuple(rows),
        warnings=draft.warnings,
        notes=(*draft.problems, *([unread] if unread else [])),
    )


def merge_keymaps(keymaps: Sequence[dict[str, str]]) -> dict[str, str]:
    """One key map for a paper whose bibliography is split over several .bib files (first wins)."""
    merged: dict[str, str] = {}
    for keymap in keymaps:
        for key, target in keymap.items():
            merged.setdefault(key, target)
    return merged


def evaluate_paper(
    tex: Path | str,
    bib: Path | str | Sequence[Path | str],
    *,
    pool: Sequence[Path | str] = (),
    options: SuggestOptions | None = None,
    library_dir: Path | None = None,
    reranker: Reranker | None = None,
    progress: ProgressCallback | None = None,
    name: str | None = None,
    reading: str = "finishing",
) -> PaperEval:
    """Leave-citations-out metrics of the suggestion pipeline on one paper (own .bib + distractors)."""
    options = options or SuggestOptions()
    own = [Path(bib)] if isinstance(bib, (str, Path)) else [Path(b) for b in bib]
    library, keymaps = build_eval_library([*own, *map(Path, pool)], library_dir)
    suggester = Suggester(library, options=options, reranker=reranker, progress=progress or no_progress)
    keymap = merge_keymaps(keymaps[: len(own)])
    return evaluate_on_library(tex, suggester, keymap, options=options, name=name, reading=reading, bibs=own)


def paper_names(texs: Sequence[Path | str]) -> list[str]:
    """A distinct name per paper: the file's stem, with its folder's name when stems repeat (main.tex)."""
    stems = [Path(tex).stem for tex in texs]
    names = [
        stem if stems.count(stem) == 1 else f"{Path(tex).resolve().parent.name}-{stem}"
        for tex, stem in zip(texs, stems, strict=True)
    ]
    return [name if names.count(name) == 1 else f"{name}-{i + 1}" for i, name in enumerate(names)]


def evaluate(
    papers: Sequence[tuple[Path | str, Path | str | Sequence[Path | str]]],
    *,
    pool: Sequence[Path | str] = (),
    options: SuggestOptions | None = None,
    reranker: Reranker | None = None,
    progress: ProgressCallback | None = None,
    library_dir: Path | None = None,
    reading: str = "finishing",
) -> EvalReport:
    """Evaluate several (tex, bib) papers; the report's metrics are the macro average over papers.

    `library_dir` keeps each paper's evaluation library (and index) in a subfolder, for reuse; `reading` is
    finishing or fresh (`evaluate_on_library`).
    """
    options = options or SuggestOptions()
    names = paper_names([tex for tex, _ in papers])
    results = tuple(
        evaluate_paper(
            tex,
            bib,
            pool=pool,
            options=options,
            reranker=reranker,
            progress=progress,
            library_dir=None if library_dir is None else Path(library_dir) / name,
            name=name,
            reading=reading,
        )
        for (tex, bib), name in zip(papers, names, strict=True)
    )
    config = options.to_json() | {"pool": [str(p) for p in pool], "reading": reading}
    return EvalReport(papers=results, metrics=average([p.metrics for p in results if p.n_contexts]), config=config)
