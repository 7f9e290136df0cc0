"""`citerec lsp`: a language server that suggests citations while a LaTeX draft is written.

pygls (the `lsp` extra) is imported only by `citerec.lsp.server`; the cursor
helpers and the engine are plain Python and reuse the suggestion pipeline.
"""
