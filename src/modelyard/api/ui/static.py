"""The UI's static files under ``/static/ui/``: a URL with the file's content hash (``?v=``, what
``static_url`` writes) is cached for a year; one without it is revalidated each time."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.ui import STATIC_DIR

IMMUTABLE = "public, max-age=31536000, immutable"


class CachedStatic:
    def __init__(self) -> None:
        self.files: ASGIApp = StaticFiles(directory=STATIC_DIR)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        versioned = b"v=" in scope.get("query_string", b"")

        async def cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["cache-control"] = IMMUTABLE if versioned else "no-cache"
            await send(message)

        await self.files(scope, receive, cached)
