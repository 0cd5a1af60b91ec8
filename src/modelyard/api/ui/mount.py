"""``mount_ui``: the web UI's routers, static files, error pages and templates on the app."""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.api.ui import (
    artifacts,
    compare,
    data,
    datasets,
    experiments,
    login,
    models,
    placeholders,
    run_page,
    runs_table,
)
from modelyard.api.ui.errors import ErrorPages, LoginRequired, login_required
from modelyard.api.ui.paths import STATIC_PREFIX
from modelyard.api.ui.static import CachedStatic
from modelyard.api.ui.templating import Templates

ROUTERS = (
    login.router,
    experiments.router,
    runs_table.router,
    run_page.router,
    artifacts.router,
    data.router,
    compare.router,
    models.router,
    datasets.router,
    placeholders.router,
)


def mount_ui(app: FastAPI, *, auth: bool) -> ErrorPages:
    """Add the UI; returns its error pages, which the app's ``UiGuard`` middleware needs."""
    templates = Templates(auth=auth)
    pages = ErrorPages(templates)
    app.state.ui_templates = templates
    app.state.html_errors = pages
    app.add_exception_handler(LoginRequired, login_required)
    app.mount(STATIC_PREFIX, CachedStatic(), name="ui-static")
    for router in ROUTERS:
        app.include_router(router)
    return pages
