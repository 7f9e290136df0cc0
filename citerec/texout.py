"""The annotated .tex output: placeholders filled with suggested keys, other suggestions as comments."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from citerec.latex import Draft, extract_contexts, find_citations
from citerec.storage import atomic_open

log = logging.getLogger(__name__)


def _style(draft: Draft, style: str) -> str:
    """The cite command to write: `style` itself, or with "auto" the draft's most used one."""
    if style != "auto":
        return style.lstrip("\\")
    counts = collections.Counter(
        c.command for f in draft.files for c in find_citations(f.masked) if c.command and c.command != "nocite"
    )
    return counts.most_common(1)[0][0] if counts else "cite"


def annotate(
    draft: Draft, suggestions: Mapping[int, Sequence[str]], *, style: str = "auto", mode: str = "sentence"
) -> dict[Path, str]:
    """New text of every file that changes; `suggestions` maps context ids (as `extract_contexts`
    gives them in the same `mode`) to keys. A context's first placeholder is filled; otherwise a
    `% citerec: \\cite{...}` line is added after the line where the sentence ends."""
    command = _style(draft, style)
    contexts = {c.id: c for c in extract_contexts(draft, mode=mode, all_sentences=True)}
    edits: dict[str, list[tuple[int, int, str]]] = collections.defaultdict(list)
    for cid, keys in suggestions.items():
        ctx = contexts.get(cid)
        if ctx is None:
            log.warning("no context with id %s; suggestion skipped", cid)
            continue
        cited = {k.lower() for k in ctx.cited_keys}
        new = [k for k in dict.fromkeys(keys) if k.lower() not in cited]
        if not new:
            continue
        src = draft.file(ctx.file)
        if ctx.placeholders:
            ph = ctx.placeholders[0]
            if ph.command:
                edits[ctx.file].append((ph.arg_start, ph.arg_end, ",".join([*ph.keys, *new])))
            else:
                edits[ctx.file].append((ph.start, ph.end, f"\\{command}{{{','.join(new)}}}"))
            continue
        line_end = src.text.find("\n", max(ctx.start, ctx.end - 1))
        newline = "\r\n" if line_end > 0 and src.text[line_end - 1] == "\r" else "\n"
        at = len(src.text) if line_end < 0 else line_end + 1
        prefix = newline if line_end < 0 else ""
        edits[ctx.file].append((at, at, f"{prefix}% citerec: \\{command}{{{','.join(new)}}}{newline}"))
    outputs: dict[Path, str] = {}
    for name, changes in edits.items():
        src = draft.file(name)
        text = src.text
        for a, b, repl in sorted(changes, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:a] + repl + text[b:]
        outputs[src.path] = text
    return outputs


def write_annotated(outputs: Mapping[Path, str], *, in_place: bool, out_dir: Path | None) -> list[Path]:
    """Write annotated files: over the inputs (atomically) only with `in_place`, else into `out_dir`.

    Every file is written to a temporary beside its target first; only when all are
    on disk are they renamed into place, so a run killed while writing leaves every
    file of the draft as it was (a kill during the renames, a short window, may
    leave some files annotated and others not, each one whole).
    """
    if not in_place and out_dir is None:
        raise ValueError("give out_dir, or in_place=True")
    paths = list(outputs)
    common = Path(os.path.commonpath([Path(p).resolve().parent for p in paths])) if paths else Path.cwd()
    targets: list[Path] = []
    for path in outputs:
        if in_place:
            target = Path(path)
        else:
            assert out_dir is not None
            target = Path(out_dir) / Path(path).resolve().relative_to(common)
            if target.resolve() == Path(path).resolve():
                raise ValueError(f"{path}: out_dir would overwrite the input; use in_place")
        targets.append(target)
    with contextlib.ExitStack() as stack:
        for target, text in zip(targets, outputs.values(), strict=True):
            handle = stack.enter_context(atomic_open(target, "w"))
            handle.write(text)
    return targets
