"""The guard in front of every UI path: security headers on every answer, a pre-login cookie for
the CSRF token, and the CSRF check of every state-changing request.

A POST (PUT, PATCH, DELETE) to a UI path is refused with a 403 page unless it carries the page's CSRF
token: in the ``X-CSRF-Token`` header (htmx sends it: ``static/js/app.js``) or, from a plain form,
as the ``csrf_token`` field of an ``application/x-www-form-urlencoded`` body (the body is read here
and handed on unchanged). A multipart form must go through htmx to carry the header.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.api.ui.errors import ErrorPages
from modelyard.api.ui.paths import STATIC_PREFIX, is_ui_path
from modelyard.api.ui.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    PRE_COOKIE,
    add_security_headers,
    cookie_header,
    cookies,
    csrf_valid,
    is_https,
    new_pre_cookie_value,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_REFUSAL = (
    "This form or action was sent without a valid security token (CSRF), so it was not carried out. "
    "Reload the page and try again; if your session ended, log in again."
)


class UiGuard:
    def __init__(self, app: ASGIApp, pages: ErrorPages) -> None:
        self.app = app
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not is_ui_path(path):
            await self.app(scope, receive, send)
            return
        static = path.startswith(STATIC_PREFIX + "/")
        state = scope.setdefault("state", {})
        new_cookie = None
        if not static and not state.get("ui_session") and PRE_COOKIE not in cookies(scope):
            new_cookie = state["ui_new_pre_cookie"] = new_pre_cookie_value()

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                add_security_headers(headers)
                if not static and "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if new_cookie is not None:
                    headers.append(
                        "set-cookie", cookie_header(PRE_COOKIE, new_cookie, secure=is_https(scope))
                    )
            await send(message)

        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, guarded_send)
            return
        receive, sent = await _sent_token(scope, receive)
        if not csrf_valid(scope, sent):
            response = self.pages.response(scope, 403, CSRF_REFUSAL)
            await response(scope, receive, guarded_send)
            return
        await self.app(scope, receive, guarded_send)


async def _sent_token(scope: Scope, receive: Receive) -> tuple[Receive, str | None]:
    """The CSRF token the request carries, and a ``receive`` that replays any body read for it."""
    headers = dict(scope.get("headers", ()))
    header = headers.get(CSRF_HEADER.encode())
    if header:
        return receive, header.decode("latin-1")
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type != b"application/x-www-form-urlencoded":
        return receive, None
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay, values[0] if values else None
