"""Error pages of the UI (they keep the navigation), and what happens without a session.

A page asked for without a live session redirects to ``/login?next=<the page>``; an htmx request
gets ``HX-Redirect`` to the same place (htmx then loads it as a whole page); chart data answers 401
JSON. Any other refusal on a UI path (404, 403, 400, 500) is a page with the message, from the same
handlers that answer the API (``api/errors.py`` calls ``ErrorPages`` for these paths).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Scope

from modelyard.api.ui.paths import LOGIN, STATIC_PREFIX, is_data_path, is_ui_path, safe_next
from modelyard.api.ui.security import add_security_headers
from modelyard.api.ui.templating import Templates

TITLES = {
    400: "Bad request",
    401: "Log in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
    501: "Not implemented",
    503: "Unavailable",
}


class LoginRequired(Exception):
    """Raised by a page that needs a user when the request has no live session."""


class ErrorPages:
    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    def wants(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        return is_ui_path(path) and not is_data_path(path) and not path.startswith(STATIC_PREFIX + "/")

    def response(self, scope: Scope, status: int, message: str) -> Response:
        request = Request(scope)
        context: dict[str, Any] = {
            "status": status,
            "title": TITLES.get(status, "Error"),
            "message": message,
        }
        response = self.templates.render(request, "error.html", context, status_code=status)
        # a 500 is answered outside the guard that adds these to every other UI answer
        add_security_headers(response.headers)
        response.headers["cache-control"] = "no-store"
        return response


def login_url(next_path: str) -> str:
    return f"{LOGIN}?next={quote(safe_next(next_path), safe='/')}"


def _requested_page(request: Request) -> str:
    """The page to come back to: for htmx, the page the user is on, not the fragment."""
    current = request.headers.get("hx-current-url")
    if current:
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def login_required(request: Request, _exc: Exception) -> Response:
    target = login_url(_requested_page(request))
    if is_data_path(request.url.path):
        body = orjson.dumps({"error": "Your session has ended; log in again.", "login": target})
        return Response(body, status_code=401, media_type="application/json")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
