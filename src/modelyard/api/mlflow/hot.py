"""The hot MLflow tracking routes, dispatched by exact method and path before FastAPI's router.

A training loop calls a few routes over and over (create, log-batch, update, search, history); on
them FastAPI's route matching and request handling cost about a third of modelyard's own time per
call. ``HotRoutes`` sits just inside the authentication middleware: a request whose method and path
are exactly one of these calls the same endpoint function the router would, and a domain error is
answered by the same function as the app's exception handler. Anything else (another method, a
trailing slash, another path) goes on to the router, which also still serves these paths for the
OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.api.errors import domain_error_response
from modelyard.api.mlflow import runs
from modelyard.domain.errors import DomainError

Endpoint = Callable[[Request], Awaitable[Response]]

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
ROUTES: tuple[tuple[str, str, Endpoint], ...] = (
    ("POST", "/runs/create", runs.create),
    ("POST", "/runs/update", runs.update),
    ("POST", "/runs/log-batch", runs.log_batch),
    ("POST", "/runs/log-metric", runs.log_metric),
    ("POST", "/runs/log-parameter", runs.log_param),
    ("POST", "/runs/set-tag", runs.set_tag),
    ("GET", "/runs/get", runs.get),
    ("POST", "/runs/search", runs.search),
    ("GET", "/metrics/get-history", runs.metric_history),
)


class HotRoutes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = {(method, prefix + path): fn for method, path, fn in ROUTES for prefix in PREFIXES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.routes.get((scope["method"], scope["path"]))
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except DomainError as exc:
            response = await domain_error_response(request, exc)
        await response(scope, receive, send)
