"""`citerec lsp`: the language server on stdin/stdout, for LaTeX editors.

pygls (the `lsp` extra) is imported only when the command runs. stdout belongs
to the protocol: everything human goes to stderr, which editors show in their
server log.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from citerec.cli.common import (
    BackendOption,
    LibraryDirOption,
    RecallArgs,
    RerankerOption,
    RerankOption,
    command_options,
    fail,
    recall_options,
    user_errors,
)
from citerec.rerank import DEFAULT_RERANKER


@recall_options
def lsp(
    library_dir: LibraryDirOption = None,
    bib: Annotated[list[Path], typer.Option("--bib", "-b", help="BibTeX file(s) to import and watch.")] = [],  # noqa: B006
    workspace_bibs: Annotated[
        bool, typer.Option(help="Also import and watch the .bib files in the editor's workspace.")
    ] = True,
    rerank: RerankOption = "off",
    reranker: RerankerOption = DEFAULT_RERANKER,
    backend: BackendOption = "hf",
    items: Annotated[int, typer.Option("--items", help="Ranked keys offered per completion.", min=1)] = 50,
    judged_items: Annotated[
        int,
        typer.Option(
            "--judged-items",
            help="With a judge (--rerank on/auto): recall's first N keys are judged, the rest follow in recall's "
            "order (the completion's latency grows with N).",
            min=1,
        ),
    ] = 20,
    poll: Annotated[
        float,
        typer.Option(
            help="Seconds between checks of the watched .bib files on disk (0: only when the editor reports changes).",
            min=0,
        ),
    ] = 2.0,
    debounce: Annotated[
        float, typer.Option(help="Seconds a changed .bib must stay quiet before it is re-imported.", min=0)
    ] = 0.5,
    log_file: Annotated[Path | None, typer.Option(help="Also write the server's log to this file.")] = None,
    *,
    recall: RecallArgs,
) -> None:
    """Run the language server (stdio): ranked \\cite completion, hovers, missing-key fixes, placeholder actions."""
    try:
        from citerec.lsp.server import ServerSettings, create_server
    except ImportError as exc:
        fail(f"citerec lsp needs the 'lsp' extra (pip install 'citerec[lsp]'): {exc}")
    from citerec.lsp.settings import EditorSettings

    if log_file is not None:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger("citerec").setLevel(logging.INFO)
    with user_errors():
        for path in bib:
            if not path.is_file():
                fail(f"{path}: no such file")
        options = command_options(recall, rerank=rerank, reranker=reranker, backend=backend, top_n=items)
        editor = EditorSettings(
            library_dir=library_dir,
            bib=tuple(bib),
            workspace_bibs=workspace_bibs,
            options=options,
            completion_items=items,
            judged_items=judged_items,
        )
        server = create_server(ServerSettings(editor=editor, poll=poll, debounce=debounce))
    server.start_io()
