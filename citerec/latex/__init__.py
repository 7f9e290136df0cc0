"""Reading LaTeX (or plain-text/Markdown) drafts into citation contexts.

`reader` follows includes and masks what TeX would not typeset, `cites` finds
citation commands and placeholders, `sentences` splits the source into
sentence spans, `text` makes them readable, `contexts` assembles `Context`s.
"""

from citerec.latex.cites import CITE_COMMANDS, Citation, cite_keys_in, find_citations
from citerec.latex.contexts import Context, Placeholder, extract_contexts, unread_citations
from citerec.latex.masking import ReadWarning
from citerec.latex.reader import Draft, Segment, SourceFile, read_draft

__all__ = [
    "CITE_COMMANDS",
    "Citation",
    "Context",
    "Draft",
    "Placeholder",
    "ReadWarning",
    "Segment",
    "SourceFile",
    "cite_keys_in",
    "extract_contexts",
    "find_citations",
    "read_draft",
    "unread_citations",
]
