"""`citerec serve`: the HTTP service (rerank API, suggestions, library search, a web page).

FastAPI and uvicorn (the `serve` extra) are imported only when the command runs.
"""

from __future__ import annotations

import ipaddress
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
    console,
    fail,
    recall_options,
    user_errors,
    warn,
)
from citerec.rerank import DEFAULT_RERANKER

API_KEY_ENV = "CITEREC_API_KEY"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@recall_options
def serve(
    # A click option takes one value; the further names of `--served-model-name A B` (vLLM's form) land here.
    more_names: Annotated[list[str] | None, typer.Argument(metavar="--served-model-name NAME", hidden=True)] = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback exposes the service.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8000,
    library_dir: LibraryDirOption = None,
    bib: Annotated[
        list[Path], typer.Option("--bib", "-b", help="BibTeX file(s) to import into the library first.")
    ] = [],  # noqa: B006
    rerank: RerankOption = "auto",
    reranker: RerankerOption = DEFAULT_RERANKER,
    backend: BackendOption = "hf",
    top: Annotated[int, typer.Option("--top", "-n", help="Default suggestions per passage.", min=1)] = 5,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar=API_KEY_ENV,
            help="Require 'Authorization: Bearer KEY' on /v1 and the rerank API.",
            show_default=False,
        ),
    ] = None,
    max_batch_pairs: Annotated[
        int, typer.Option(help="Most (query, document) pairs merged into one model call.", min=1)
    ] = 64,
    max_queued_pairs: Annotated[
        int, typer.Option(help="Pairs waiting or running before new requests get 503.", min=1)
    ] = 4096,
    batch_wait_ms: Annotated[
        float, typer.Option(help="How long the first request of a batch waits for others.", min=0)
    ] = 5.0,
    served_model_name: Annotated[
        list[str],
        typer.Option(
            "--served-model-name",
            metavar="NAME",
            help="Names a rerank request's 'model' may carry (--served-model-name A B, or repeated); "
            "default: the reranker's path or hub id and its last component.",
        ),
    ] = [],  # noqa: B006
    max_documents: Annotated[int, typer.Option(help="Documents per rerank request (413 past it).", min=1)] = 1000,
    max_document_chars: Annotated[int, typer.Option(help="Characters per document (413 past it).", min=1)] = 20000,
    max_text_chars: Annotated[int, typer.Option(help="Characters of text per /v1/suggest request.", min=1)] = 500_000,
    request_timeout: Annotated[
        float,
        typer.Option(
            "--request-timeout", help="Seconds of model work per request before it is cut off with 504.", min=0.001
        ),
    ] = 120.0,
    *,
    recall: RecallArgs,
) -> None:
    """Serve suggestions and a rerank API over HTTP, with a web page at /."""
    try:
        import uvicorn

        from citerec.serve import ServeLimits, create_app
    except ImportError as exc:
        fail(f"citerec serve needs the 'serve' extra (pip install 'citerec[serve]'): {exc}")
    from citerec.suggest import open_library

    if more_names and not served_model_name:
        fail(f"unexpected argument {more_names[0]!r}: citerec serve takes options only (see --help)")
    if not _is_loopback(host) and not api_key:
        warn(f"binding to {host} without --api-key: anyone who can reach this port can use the service")
    with user_errors():
        options = command_options(recall, top_n=top, rerank=rerank, reranker=reranker, backend=backend)
        limits = ServeLimits(
            max_documents=max_documents,
            max_document_chars=max_document_chars,
            max_text_chars=max_text_chars,
            max_batch_pairs=max_batch_pairs,
            max_queued_pairs=max_queued_pairs,
            batch_wait_ms=batch_wait_ms,
            request_timeout_s=request_timeout,
        )
        library, imports = open_library(library_dir, bib=bib)
        for bib_import, _report in imports:
            for problem in bib_import.problems:
                warn(str(problem))
        console.print("citerec: loading the index and the reranker…", highlight=False)
        names = [*served_model_name, *(more_names or ())]
        app = create_app(library, options=options, api_key=api_key, limits=limits, served_model_names=names)
    service = app.state.service
    for note in service.suggester.load_notes:
        warn(note)
    model = service.model_name or "none (recall only)"
    if service.model_name is None:
        if names:
            warn("--served-model-name has no effect: no reranker is loaded")
    elif app.state.model_names != (service.model_name,):
        model += " (rerank 'model' names: " + ", ".join(app.state.model_names) + ")"
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"citerec: {len(library)} papers from {library.root}, reranker {model}; "
        f"page and API on http://{shown}:{port}/ (docs at /docs)" + (", API key required" if api_key else ""),
        highlight=False,
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
