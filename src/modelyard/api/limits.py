"""Refuse oversized request bodies with 413 before any handler buffers them."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.api.errors import is_mlflow_path


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
