"""The `citerec` command: a thin typer layer over the Python API.

Each group lives in its own module; none of them imports torch at import time,
so `citerec --help` stays fast.
"""

from __future__ import annotations

import logging

import typer

from citerec import __version__
from citerec.cli import check as check_cli
from citerec.cli import evaluate as evaluate_cli
from citerec.cli import index as index_cli
from citerec.cli import library as library_cli
from citerec.cli import lsp as lsp_cli
from citerec.cli import rerank as rerank_cli
from citerec.cli import serve as serve_cli
from citerec.cli import suggest as suggest_cli
from citerec.cli import train as train_cli

app = typer.Typer(
    name="citerec",
    help="Suggest \\cite keys for a LaTeX draft from your BibTeX library (and arXiv).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(library_cli.app, name="library")
app.command("suggest")(suggest_cli.suggest)
app.command("eval")(evaluate_cli.evaluate)
app.command("check")(check_cli.check)
app.command("rerank")(rerank_cli.rerank)
app.add_typer(index_cli.app, name="index")
app.command("serve")(serve_cli.serve)
app.command("lsp")(lsp_cli.lsp)
app.add_typer(train_cli.app, name="train")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"citerec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """citerec: citation recommendation for LaTeX drafts."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # The commands report problems themselves; library warnings would repeat them.
        logging.getLogger("citerec").setLevel(logging.ERROR)
        for noisy in ("bm25s", "sentence_transformers", "transformers", "faiss"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        _quiet_third_party_progress()


def _quiet_third_party_progress() -> None:
    """Keep third-party progress bars and tokenizer fork warnings off stderr (the CLI draws its own)."""
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    app()
