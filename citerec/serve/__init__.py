"""`citerec serve`: an HTTP service over the library, the index and the reranker.

`app` holds the routes, `rerank_api` the rerank routes on the paths vLLM and
Cohere clients call, `service` the state loaded once, `batching` the queue
that merges concurrent scoring into batched reranker calls, `schemas` the
request/response bodies, `limits` the size and queue limits, `static/` the page.
Importing this package loads FastAPI; the CLI imports it only when serving.
"""

from __future__ import annotations

from citerec.serve.app import create_app
from citerec.serve.limits import ServeLimits

__all__ = ["ServeLimits", "create_app"]
