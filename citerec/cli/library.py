"""`citerec library …`: import BibTeX / arXiv, list, export, remove."""

from __future__ import annotations

import typer

app = typer.Typer(help="Manage the paper library (import BibTeX and arXiv, list, export, remove).", no_args_is_help=True)
