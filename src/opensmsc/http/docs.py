"""The `/docs` page (Swagger UI) of an HTTP app, served from this node's own files.

Its script and style come from the fastapi-offline package's static files (`/docs/assets/`),
never from a public CDN: the page renders on an offline management network. The admin app and
the public API each serve their own.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["DOCS_ASSETS", "install_docs"]

DOCS_ASSETS: Final = "/docs/assets"


def _swagger_ui_files() -> Path:
    # Swagger UI 5 (it reads OpenAPI 3.1, which FastAPI writes), shipped inside a wheel.
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


def install_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Serve `/docs` for `app` (created with docs_url=None, redoc_url=None)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_swagger_ui_files()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            # No badge from the public online validator either.
            swagger_ui_parameters={"validatorUrl": None},
        )
