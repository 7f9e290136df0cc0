"""`citerec rerank QUERY --doc TEXT...`: try the judge on a passage and a few candidates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from citerec.cli.common import (
    BackendOption,
    RerankerOption,
    console,
    emit,
    fail,
    rich_progress,
    stdout_console,
    user_errors,
)
from citerec.errors import InputError
from citerec.papers import Paper
from citerec.rerank import DEFAULT_INSTRUCTION, DEFAULT_MAX_LENGTH, DEFAULT_RERANKER, format_document, load_reranker


def read_documents(path: Path) -> list[str]:
    """Documents from a file: JSON lines of paper records (.jsonl), else one document per non-empty line."""
    try:
        text = sys_stdin_text() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read documents: {exc.strerror}", file=str(path)) from exc
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if path.suffix != ".jsonl":
        return [line for _, line in lines]
    docs = []
    for n, line in lines:
        try:
            docs.append(format_document(Paper.from_dict(json.loads(line))))
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise InputError(f"not a paper record: {exc}", file=str(path), line=n) from exc
    return docs


def sys_stdin_text() -> str:
    import sys

    return sys.stdin.read()


def rerank(
    query: Annotated[str, typer.Argument(help="The passage (citation context) to judge candidates against.")],
    doc: Annotated[list[str] | None, typer.Option("--doc", "-d", help="A candidate document (repeatable).")] = None,
    docs_file: Annotated[
        Path | None,
        typer.Option("--docs-file", help="Candidates: one per line, or a .jsonl of paper records; - for stdin."),
    ] = None,
    reranker: RerankerOption = DEFAULT_RERANKER,
    backend: BackendOption = "hf",
    instruction: Annotated[str, typer.Option("--instruction", help="The task instruction.")] = DEFAULT_INSTRUCTION,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:1 (default: cuda if any).")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Pairs per forward pass (default: chosen by device).")
    ] = None,
    max_length: Annotated[int, typer.Option("--max-length", min=64, help="Tokens per prompt.")] = DEFAULT_MAX_LENGTH,
    cache: Annotated[Path | None, typer.Option("--cache", help="SQLite score cache file.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Score candidate documents for a passage with the Qwen3-Reranker judge, best first."""
    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r}: use table or json")
    with user_errors():
        documents = list(doc or []) + (read_documents(docs_file) if docs_file is not None else [])
        if not documents:
            fail("no candidates: give --doc TEXT (repeatable) or --docs-file FILE")
        judge = load_reranker(
            reranker, backend=backend, device=device, batch_size=batch_size, max_length=max_length, cache_path=cache
        )
        with rich_progress() as progress:
            scores = judge.score(query, documents, instruction=instruction, progress=progress)
    ranked = sorted(range(len(documents)), key=lambda i: -scores[i])
    if cache is not None:
        console.print(f"score cache: {judge.hits} hits, {judge.misses} misses", highlight=False)  # type: ignore[attr-defined]
    if fmt == "json":
        rows = [{"rank": r, "index": i, "score": scores[i], "document": documents[i]} for r, i in enumerate(ranked, 1)]
        emit(json.dumps({"model": judge.model_name, "query": query, "results": rows}, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{judge.model_name}: P(yes)", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("document", overflow="fold")
    for r, i in enumerate(ranked, 1):
        text = documents[i] if len(documents[i]) <= 200 else documents[i][:199] + "…"
        table.add_row(str(r), str(i), f"{scores[i]:.4f}", text)
    stdout_console.print(table)
