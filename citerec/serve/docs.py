"""`/docs` served with its Swagger UI assets from an installed package, so it works offline.

FastAPI's own page loads Swagger UI from a CDN: with no network (a laptop on a
train, a cluster node) it is blank. The `fastapi-offline` package ships the
assets; only its static folder is used here. There is no `/redoc`: ReDoc
fetches its logo from a CDN even when its script is local.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

ASSETS_URL = "/docs-assets"


def _assets_dir() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def add_offline_docs(app: FastAPI) -> None:
    """Add `/docs` to an app built with `docs_url=None, redoc_url=None`."""
    assets = _assets_dir()
    if assets is None:
        log.warning("fastapi-offline is not installed: /docs loads its assets from a CDN")
        js, css, icon = (
            "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js",
            "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css",
            "https://fastapi.tiangolo.com/img/favicon.png",
        )
    else:
        app.mount(ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")
        js, css, icon = (
            f"{ASSETS_URL}/swagger-ui-bundle.js",
            f"{ASSETS_URL}/swagger-ui.css",
            f"{ASSETS_URL}/favicon.png",
        )
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=title, swagger_js_url=js, swagger_css_url=css, swagger_favicon_url=icon
        )
