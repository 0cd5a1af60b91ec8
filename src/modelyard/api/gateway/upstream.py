"""The gateway's HTTP/1.1 client for the hop to a replica: keep-alive connections pooled per replica.

A generic client (httpx) costs more per request than the replica's own work on a 1-row prediction,
so this one does only what the hop needs, on a bare ``asyncio.Protocol``: write one request with a
``Content-Length`` body, parse the status line and headers once the blank line arrives, and complete
when the body is in (``Content-Length``, chunked, or until the replica closes). Responses are
buffered whole; there is no streaming, no redirects, no TLS.

The one thing that is not obvious: a failure is reported with whether the request may be retried.
A refused connection was never sent anything; a pooled connection that the replica closed before
answering a single byte was closed by its idle timeout or by a drain (or the replica died, and a
prediction is safe to repeat). Both are ``Unsent`` and are re-sent (a pooled connection's request
once on a fresh connection, then the gateway moves to the next replica); anything later is
``UpstreamError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import cast

CONNECT_TIMEOUT_S = 5.0
MAX_IDLE_PER_REPLICA = 256
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"date",  # the gateway's server adds its own
        b"server",
    }
)


class UpstreamError(Exception):
    """The replica failed after the request may have reached it (or answered nonsense)."""


class Unsent(UpstreamError):
    """The replica never received the request: safe to send it to another replica."""


class UpstreamTimeout(UpstreamError):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _chunked_end(buf: bytearray, start: int) -> tuple[int, bytes] | None:
    """Where a complete chunked body starting at ``start`` ends, and the body; None while incomplete."""
    parts: list[bytes] = []
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise UpstreamError(f"malformed chunk size {size_text[:20]!r}") from None
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)  # skips any trailers
            if end < 0:
                return None
            return end + 4, b"".join(parts)
        if len(buf) < eol + 2 + size + 2:
            return None
        parts.append(bytes(buf[eol + 2 : eol + 2 + size]))
        pos = eol + 2 + size + 2


class Connection(asyncio.Protocol):
    """One keep-alive connection; carries one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._buf = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._head = False
        self._parsed: tuple[int, list[tuple[bytes, bytes]], int, int | None, bool, bool] | None = None

    # -- protocol callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted any more
            return
        self._buf += data
        try:
            response = self._complete()
        except UpstreamError as exc:
            self.close()
            waiter.set_exception(exc)
            return
        if response is not None:
            self._waiter = None
            waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if self._parsed is not None and self._parsed[3] is None and not self._parsed[4]:
            status, headers, start, _, _, _ = self._parsed  # a body delimited by the close
            waiter.set_result(Response(status, headers, bytes(self._buf[start:])))
        elif not self._buf:
            waiter.set_exception(Unsent("the replica closed the connection before answering"))
        else:
            waiter.set_exception(UpstreamError("the replica closed the connection mid-response"))

    # -- requests -------------------------------------------------------------------------------
    def send(self, data: bytes, *, head: bool) -> asyncio.Future[Response]:
        assert self.transport is not None and self._waiter is None
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._buf.clear()
        self._parsed = None
        self._head = head
        self.transport.write(data)
        return waiter

    def fail(self, exc: UpstreamError) -> None:
        waiter, self._waiter = self._waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self.transport.close()

    @property
    def keep_alive(self) -> bool:
        return not self.closed and self._parsed is not None and not self._parsed[5]

    def _complete(self) -> Response | None:
        buf = self._buf
        if self._parsed is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    raise UpstreamError("response headers too large")
                return None
            self._parsed = _parse_head(bytes(buf[:end]), end + 4, self._head)
        status, headers, start, length, chunked, _ = self._parsed
        if length is not None:
            if len(buf) < start + length:
                return None
            return Response(status, headers, bytes(buf[start : start + length]))
        if chunked:
            done = _chunked_end(buf, start)
            if done is None:
                return None
            body = done[1]
            headers.append((b"content-length", b"%d" % len(body)))
            return Response(status, headers, body)
        return None  # until the replica closes the connection


def _parse_head(
    head: bytes, start: int, is_head: bool
) -> tuple[int, list[tuple[bytes, bytes]], int, int | None, bool, bool]:
    """(status, end-to-end headers, body start, content length, chunked, close after)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise UpstreamError(f"malformed status line {lines[0][:60]!r}")
    status = int(parts[1])
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    close = parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise UpstreamError("malformed response header")
        name = name.strip().lower()
        value = value.strip()
        if name == b"content-length":
            if not value.isdigit():
                raise UpstreamError("malformed content-length")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
            continue
        elif name == b"connection":
            lowered = value.lower()
            close = b"close" in lowered or (close and b"keep-alive" not in lowered)
        if name not in _HOP_BY_HOP:
            headers.append((name, value))
    if is_head or status in (204, 304) or 100 <= status < 200:
        length = 0
    elif chunked:
        length = None
        headers = [h for h in headers if h[0] != b"content-length"]
    elif length is None:
        close = True
    return status, headers, start, length, chunked, close


class Upstream:
    """Pools of idle connections, one per replica base URL (``http://host:port``)."""

    def __init__(self, *, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._idle: dict[str, list[Connection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self, url: str) -> Connection:
        loop = asyncio.get_running_loop()
        host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(Connection, host.strip("[]"), int(port)), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise Unsent(f"cannot connect to {url}: {exc or type(exc).__name__}") from None
        return conn

    def _checkout(self, url: str) -> Connection | None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): connections of the old one are dead
            self.close()
            self._loop = loop
        idle = self._idle.get(url)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        return None

    async def request(self, url: str, data: bytes, *, head: bool = False) -> Response:
        """Send ``data`` (a whole request) to ``url``; retries once on a fresh connection when a
        pooled one turns out to be closed before it answered."""
        conn = self._checkout(url)
        if conn is not None:
            try:
                return await self._exchange(url, conn, data, head)
            except Unsent:
                pass
        return await self._exchange(url, await self._connect(url), data, head)

    async def _exchange(self, url: str, conn: Connection, data: bytes, head: bool) -> Response:
        waiter = conn.send(data, head=head)
        timer = asyncio.get_running_loop().call_later(
            self.timeout_s,
            conn.fail,
            UpstreamTimeout(f"the replica did not answer within {self.timeout_s:g} s"),
        )
        try:
            response = await waiter
        except asyncio.CancelledError:
            conn.close()
            raise
        finally:
            timer.cancel()
        if conn.keep_alive:
            idle = self._idle.setdefault(url, [])
            if len(idle) < MAX_IDLE_PER_REPLICA:
                idle.append(conn)
                return response
        conn.close()
        return response

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def request_bytes(
    method: str, target: bytes, host: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    """One HTTP/1.1 request; ``headers`` must already be free of hop-by-hop and framing headers."""
    parts = [method.encode("latin-1"), b" ", target, b" HTTP/1.1\r\nhost: ", host, b"\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"content-length: %d\r\n\r\n" % len(body))
    parts.append(body)
    return b"".join(parts)
