"""A streaming HTTP/1.1 client connection, for the gateway process's hop to the API (``relay``).

``upstream.Connection`` buffers a replica's whole answer, which suits a prediction; an API answer can
be a multi-gigabyte artifact or an endless ``logs --follow`` stream, so this one hands the answer on
as it arrives: httptools parses it (Content-Length, chunked or until the close) into a head and a
queue of body chunks, reading pauses while more than ``HIGH_WATER`` bytes wait for the client, and a
request body can be written in pieces with ``drain`` between them. Failures are ``upstream``'s:
``Unsent`` when the API closed the connection before a single byte of answer, else ``UpstreamError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools

from modelyard.api.gateway.upstream import Unsent, UpstreamError

HIGH_WATER = 1 << 20  # answer bytes buffered before reading from the API pauses
LOW_WATER = 1 << 18


class ApiConnection(asyncio.Protocol):
    """One connection to the API: a request written whole or streamed, the answer parsed by
    httptools into a head and a queue of body chunks."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.spoiled = False  # the request was not sent whole: never reuse the connection
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._writable = asyncio.Event()
        self._writable.set()
        self.begin(head=False)

    def begin(self, *, head: bool) -> None:
        """Reset for the next request on this connection (``head``: a HEAD request, no body)."""
        self.is_head = head
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.got_bytes = False
        self.head_done = False
        self.done = False
        self.keep_alive = False
        self._framed = False  # Content-Length or chunked: the end is known without a close
        self._chunks: deque[bytes] = deque()
        self._queued = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._error: UpstreamError | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.done:
            self.abort()  # bytes nobody asked for
            return
        self.got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"malformed answer from the API: {exc}"))
            self.abort()
            return
        if self._queued > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        if self.done:
            return
        if self.head_done and not self._framed:  # the body ends with the connection
            self._complete()
        elif not self.got_bytes:
            self._fail(Unsent("the API closed the connection before answering"))
        else:
            self._fail(UpstreamError("the API closed the connection in the middle of its answer"))

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- httptools callbacks ------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value.lower()):
            self._framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if self.status < 200:  # an interim answer (no Expect is sent, so not expected): skip it
            self.headers, self._framed = [], False
            return
        self.head_done = True
        if self.is_head or self.status in (204, 304):
            self._framed = True
            self._complete(reusable=False)  # the parser would wait for the announced body
        else:
            self._wake()

    def on_body(self, body: bytes) -> None:
        if not self.done:
            self._chunks.append(body)
            self._queued += len(body)
            self._wake()

    def on_message_complete(self) -> None:
        if self.head_done and not self.done:
            self._complete(reusable=self._parser.should_keep_alive())

    # -- the caller's side --------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    async def drain(self) -> None:
        await self._writable.wait()

    async def head(self) -> None:
        """Until the answer's status and headers are in (or the exchange failed)."""
        while not self.head_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    def take_all(self) -> bytes | None:
        """The whole body, if all of it is in; None while more is coming."""
        if not self.done:
            return None
        body = b"".join(self._chunks)
        self._chunks.clear()
        self._queued = 0
        return body

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._queued -= len(chunk)
                if self._paused and self._queued < LOW_WATER and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                yield chunk
            if self.done:
                return
            if self._error is not None:
                raise self._error
            await self._wait()

    def abort(self) -> None:
        self.closed = True
        self.keep_alive = False
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self.transport.abort()

    # -- internals --------------------------------------------------------------------------------
    def _complete(self, *, reusable: bool = False) -> None:
        self.done = True
        self.keep_alive = reusable and not self.closed
        self._wake()

    def _fail(self, exc: UpstreamError) -> None:
        if self._error is None:
            self._error = exc
        self._wake()

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
