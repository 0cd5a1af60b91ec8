"""The HTTP/1.1 server of ``serve-model``: asyncio + httptools, calling ``ServingApp.handle`` directly.

Why not uvicorn: with a sub-millisecond model, the ASGI adaptation (a scope dict, receive and send
coroutines, message dicts, the proxy-headers middleware, a cycle object per request) costs about
as much as everything else the server does. Here a request is parsed by httptools into a method,
a path, two headers and a body; ``handle`` answers it; the answer is written with one
``transport.write``. The ASGI app (``ServingApp.__call__``) stays for embedding and tests.

What it does: keep-alive (HTTP/1.1 by default, HTTP/1.0 on request) and pipelining (answers in
order, one request at a time per connection; reading pauses while too many wait), bodies by
content-length or chunked, ``Expect: 100-continue``, a body limit answered with 413 before the body
is read (then the connection closes), HEAD, 400 for requests that do not parse, and an idle
keep-alive timeout. ``stop()`` closes the listening socket and idle connections at once, lets
in-flight requests finish (their connections close after the answer) for at most
``drain_seconds``, then closes the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote

import httptools

from modelyard.serving.errors import PayloadTooLarge

if TYPE_CHECKING:
    from modelyard.serving.rest import ServingApp

log = logging.getLogger("modelyard.serving")
access = logging.getLogger("modelyard.serving.access")

KEEPALIVE_SECONDS = 5.0
_MAX_PIPELINED = 16  # requests waiting on one connection before it stops reading
_STATUS_LINES = {int(s): b"HTTP/1.1 %d %s\r\n" % (int(s), s.phrase.encode("latin-1")) for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s"
)


class HttpServer:
    """Serve ``app`` on a bound, listening socket until ``stop()``."""

    def __init__(
        self,
        app: ServingApp,
        *,
        drain_seconds: float = 30.0,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        access_log: bool = False,
    ) -> None:
        self.app = app
        self.drain_seconds = drain_seconds
        self.keepalive_seconds = keepalive_seconds
        self.access_log = access_log
        self.connections: set[_Connection] = set()
        self.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._date = b""
        self._date_second = 0

    # -- running ----------------------------------------------------------------------------------

    async def serve(self, sock: socket.socket) -> None:
        """Start the app, accept on ``sock`` until ``stop()``, drain, shut the app down."""
        self._loop = loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.app.startup()
        server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=2048)
        sweeper = loop.create_task(self._sweep_idle())
        try:
            await self._stop.wait()
        finally:
            self.draining = True
            server.close()  # no new connections from here on
            sweeper.cancel()
            await self._drain()
            await self.app.shutdown()

    def stop(self) -> None:
        """Begin the graceful stop; safe from any thread and from signal handlers."""
        loop, event = self._loop, self._stop
        if loop is None or event is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closing
            loop.call_soon_threadsafe(event.set)

    async def _drain(self) -> None:
        for connection in list(self.connections):
            connection.close_when_idle()
        deadline = time.monotonic() + self.drain_seconds
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.abort()

    async def _sweep_idle(self) -> None:
        """Close keep-alive connections that sent nothing for ``keepalive_seconds``."""
        while True:
            await asyncio.sleep(min(1.0, self.keepalive_seconds))
            cutoff = time.monotonic() - self.keepalive_seconds
            for connection in list(self.connections):
                if connection.idle_since is not None and connection.idle_since < cutoff:
                    connection.close_when_idle()

    def date_header(self) -> bytes:
        now = int(time.time())
        if now != self._date_second:
            self._date_second = now
            self._date = b"date: %s\r\n" % formatdate(now, usegmt=True).encode("latin-1")
        return self._date


@dataclass(slots=True)
class _Request:
    method: str
    path: str
    content_type: bytes | None
    body: bytes
    keep_alive: bool
    version: str
    refused: PayloadTooLarge | None


class _Connection(asyncio.Protocol):
    """One client connection: the httptools parser's callbacks and the answers, in order."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.app = server.app
        self.limit = server.app.max_body_bytes
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.waiting: deque[_Request] = deque()
        self.busy = False  # a request is being answered
        self.closing = False  # close once the answer in progress is written
        self.reading_paused = False
        self.refusing = False  # a 413 is on its way: read nothing more
        self.rejection: bytes | None = None
        self.idle_since: float | None = time.monotonic()
        self._writable = asyncio.Event()
        self._writable.set()
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.content_type: bytes | None = None
        self.content_length: bytes | None = None
        self.expect_continue = False
        self.chunks: list[bytes] = []
        self.size = 0
        self.refused: PayloadTooLarge | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        if self.server.draining:
            transport.close()
            return
        self.server.connections.add(self)
        if self.server.access_log:
            peer = transport.get_extra_info("peername")
            self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.closing = True
        self.waiting.clear()
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self.idle_since = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(b"protocol upgrades are not supported by this server")
        except httptools.HttpParserError as exc:
            self._reject(b"malformed HTTP request: " + str(exc).encode("utf-8", "replace"))

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- httptools callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-type":
            self.content_type = value
        elif name == b"content-length":
            self.content_length = value
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True

    def on_headers_complete(self) -> None:
        length = self.content_length
        if length is not None and length.isdigit() and int(length) > self.limit:
            self._refuse(int(length))  # without reading a body that would be refused anyway
        elif self.expect_continue and self.transport is not None:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self.refused is not None:
            return
        self.size += len(body)
        if self.size > self.limit:  # a chunked body that grew past the limit
            self._refuse(self.size)
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.refused is not None:
            return
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._enqueue(self._request(body))

    # -- answering --------------------------------------------------------------------------------

    def _refuse(self, size: int) -> None:
        """A body over the limit: answer 413 in turn and read nothing more; the connection closes
        once the refusal is written (a body that was not read leaves the stream unusable)."""
        self.refused = PayloadTooLarge.of(size, self.limit)
        self.chunks = []
        self._enqueue(self._request(b""))
        self.refusing = True
        self._pause_reading()

    def _pause_reading(self) -> None:
        if self.transport is not None and not self.reading_paused:
            self.transport.pause_reading()
            self.reading_paused = True

    def _request(self, body: bytes) -> _Request:
        parser = self.parser
        url = self.url
        if b"?" in url or b"%" in url or b"#" in url or not url.startswith(b"/"):
            path = unquote(httptools.parse_url(url).path.decode("latin-1"), errors="replace")
        else:
            path = url.decode("latin-1")
        return _Request(
            parser.get_method().decode("latin-1"),
            path,
            self.content_type,
            body,
            parser.should_keep_alive(),
            parser.get_http_version(),
            self.refused,
        )

    def _enqueue(self, request: _Request) -> None:
        if self.busy:
            self.waiting.append(request)
            if len(self.waiting) >= _MAX_PIPELINED:
                self._pause_reading()
            return
        self.busy = True
        asyncio.get_running_loop().create_task(self._answer(request))

    async def _answer(self, request: _Request) -> None:
        try:
            while True:
                await self._answer_one(request)
                if self.closing or not self.waiting:
                    break
                request = self.waiting.popleft()
                if self.reading_paused and len(self.waiting) < _MAX_PIPELINED // 2 and not self.refusing:
                    self.reading_paused = False
                    if self.transport is not None:
                        self.transport.resume_reading()
        finally:
            self.busy = False
            if self.closing:
                self._close()
            else:
                self.idle_since = time.monotonic()

    async def _answer_one(self, request: _Request) -> None:
        app = self.app
        status, payload, media = await app.handle(
            request.method, request.path, request.content_type, request.body, refused=request.refused
        )
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        keep_alive = (
            request.keep_alive and request.refused is None and not self.closing and not self.server.draining
        )
        if not keep_alive:
            self.closing = True
            self.waiting.clear()
        head = (
            _STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status,
            b"content-type: ",
            media,
            b"\r\ncontent-length: %d\r\n" % len(payload),
            self.server.date_header(),
            b"" if keep_alive else b"connection: close\r\n",
            b"\r\n",
        )
        transport.write(b"".join(head) if request.method == "HEAD" else b"".join((*head, payload)))
        if self.server.access_log:
            access.info(
                '%s - "%s %s HTTP/%s" %d', self.peer, request.method, request.path, request.version, status
            )
        if not self._writable.is_set():
            await self._writable.wait()

    def _reject(self, message: bytes) -> None:
        """A request that does not parse: 400 and close (the stream cannot be trusted past it),
        after the answers to the requests before it."""
        self.rejection = _BAD_REQUEST % (len(message), message)
        self.close_when_idle()

    def close_when_idle(self) -> None:
        self.closing = True
        self.waiting.clear()
        if not self.busy:
            self._close()

    def _close(self) -> None:
        self.server.connections.discard(self)
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if self.rejection is not None:
                transport.write(self.rejection)
            transport.close()

    def abort(self) -> None:
        self.server.connections.discard(self)
        if self.transport is not None:
            self.transport.abort()
