"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served with assets from the package, not a CDN: the API
documentation works offline. The files and their licences are listed in ``api/static/README.md``. The
document they show, ``/openapi.json``, is built by ``api/openapi.py``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from modelyard.api.openapi import install_openapi

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static/api-docs"


def mount_docs(app: FastAPI) -> None:
    """Add the two documentation pages and their assets (create the app with docs_url=None), and the
    document they show (``api/openapi.py``)."""
    install_openapi(app)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="api-docs-static")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} - API",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{STATIC_PREFIX}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PREFIX}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PREFIX}/swagger-ui/favicon-32x32.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} - API reference",
            redoc_js_url=f"{root}{STATIC_PREFIX}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_PREFIX}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
