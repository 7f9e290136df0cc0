"""citerec: suggest `\\cite` keys for a LaTeX draft from your own BibTeX library.

The public API lives here; heavy dependencies (torch, transformers, faiss) are
imported only by the functions that need them.
"""

from __future__ import annotations

import logging

from citerec.errors import CiterecError, InputError, LibraryError, ModelError
from citerec.library import AddReport, Library
from citerec.papers import Paper

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AddReport",
    "CiterecError",
    "InputError",
    "Library",
    "LibraryError",
    "ModelError",
    "Paper",
    "__version__",
]
