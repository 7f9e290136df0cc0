"""`citerec library enrich`: fill what a thin library leaves out (abstract, DOI, arXiv id, venue, year).

One module per concern: `match` (is this record the entry's paper?), `snapshot`
(the arXiv metadata snapshot, one streaming pass), `http` (timeouts, retries,
rate limits), one module per online source (`arxiv_api`, `openalex`, `crossref`,
`semanticscholar`), `sources` (the `--source` names) and `run` (ask, match,
fill, report). What each source filled is kept with its provenance in the
library (`citerec.library_enriched`). `citing_contexts` and `citing_run` keep,
instead, how other papers cite each entry (`--citing-contexts`,
`citerec.library_citing`). Nothing here imports the library at
import time, so the library may import the storage half without a circle.
"""
