"""Refuse what no route can take before any handler sees it: oversized bodies (413, before they are
buffered), NUL characters in the path or the query string (400, naming the parameter; PostgreSQL
cannot compare or store text holding one, so it would reach no further than the first query) and other
control characters in the path (a final newline would route the request elsewhere)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.api.errors import error_response, is_mlflow_path
from modelyard.domain.errors import ErrorCode

_CONTROL = re.compile(r"[\x01-\x1f\x7f]")


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Applies to every request except artifact uploads, which are streamed to the store, never buffered."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "PUT" and "/mlflow-artifacts/" in scope["path"]):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        message = f"Request body exceeds the limit of {self.max_bytes} bytes (MODELYARD_MAX_REQUEST_BYTES)."
        body: dict[str, object]
        if is_mlflow_path(scope.get("path", "")):
            body = {"error_code": "INVALID_PARAMETER_VALUE", "message": message}
        else:
            body = {"status": 413, "message": message, "result": {}}
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class RequestLineGuard:
    """A NUL character (``%00``) in the path or a query parameter, or another control character in the
    path, is refused with 400 naming where."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _nul_in_request_line(scope)
            if problem is not None:
                response = error_response(scope["path"], ErrorCode.INVALID_PARAMETER_VALUE, problem)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_in_request_line(scope: Scope) -> str | None:
    path: str = scope["path"]
    if "\x00" in path:
        return "Invalid request path: NUL characters (%00) are not allowed in a path."
    if _CONTROL.search(path):
        # Starlette matches routes with a regex ending in '$', which also matches before a final newline:
        # '/run/api/%0A' would answer as '/run/api/' (the list), not as the run with id '\n'.
        return "Invalid request path: control characters (%01-%1F, %7F) are not allowed in a path."
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            name = key.replace("\x00", "\\u0000")
            return f"Invalid value for query parameter '{name}': NUL characters (%00) are not allowed."
    return "Invalid query string: NUL characters (%00) are not allowed."
