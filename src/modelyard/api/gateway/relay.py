"""The gateway process's hop to the API process: every request outside ``/deployment/<name>/``
(tracking, registry, the resource API, the UI, ``/metrics``) is relayed to the API server on its
private address (``runfiles``: a unix socket in the data dir, or a loopback port).

Unlike a prediction, an API request or answer can be large or endless (an artifact upload or
download, ``logs --follow``), so both directions stream, with flow control: a request body is
passed on as it arrives (with its ``Content-Length``, or chunked), an answer is passed back chunk by
chunk once its head is in. The common case — a small body, all of the answer in one read — is one
write and two ``send`` calls; the connections (``stream``) are pooled.

The client's address and scheme go to the API in ``X-Forwarded-For`` / ``X-Forwarded-Proto``
(replacing any the client sent: this gateway already applied uvicorn's proxy-header rules to them),
so the API's authentication throttle and audit see the real client.

While the API process is down (a restart, a crash) its paths answer 503 with ``Retry-After: 1`` in
the surface's error shape (MLflow's ``{"error_code": "TEMPORARILY_UNAVAILABLE", ...}`` or the
resource API's envelope); the mlflow client and ``modelyard.Client`` retry it. A request whose
connection the API closed before a single byte of answer is re-sent once on a fresh connection when
the connection was a pooled one (the API closed it as idle) and the whole body is in hand.
``GET /metrics`` gets the gateway's own series appended to the API's answer.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import orjson
from starlette.types import Message, Receive, Scope, Send

from modelyard.api.errors import is_mlflow_path
from modelyard.api.gateway.metrics import GatewayMetrics
from modelyard.api.gateway.runfiles import RunFiles, read_json
from modelyard.api.gateway.stream import ApiConnection
from modelyard.api.gateway.upstream import Unsent, UpstreamError
from modelyard.controller.backends.local import processes

CONNECT_TIMEOUT_S = 2.0
MAX_IDLE = 64
IDLE_MAX_S = 60.0  # pooled connections older than this are dropped (the API keeps them 75 s)
# hop-by-hop, framing (set again for the hop) and what this gateway sets itself
_DROP_REQUEST = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
        b"content-length",
        b"x-forwarded-for",
        b"x-forwarded-proto",
    }
)
_DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"date",  # this gateway's server adds its own
        b"server",
    }
)
API_DOWN = (
    "The modelyard API server is not running (restarting, or stopped); predictions under "
    "/deployment/<name>/ are still served. Try again in a moment."
)


class _ClientGone(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ApiAddress:
    """Where the API listens: ``unix`` (a socket path) or ``tcp`` (a loopback port), and its pid."""

    kind: str
    target: str
    pid: int
    ident: str

    @classmethod
    def parse(cls, data: dict[str, object]) -> ApiAddress | None:
        try:
            kind, target = str(data["kind"]), str(data["target"])
            pid, ident = int(cast(int, data["pid"])), str(data.get("ident", ""))
        except (KeyError, TypeError, ValueError):
            return None
        return cls(kind, target, pid, ident) if kind in ("unix", "tcp") else None

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "target": self.target, "pid": self.pid, "ident": self.ident}

    def alive(self) -> bool:
        """Whether the process that wrote this address still runs (a TCP port of a dead API could
        since belong to another program, which must not receive our users' credentials)."""
        return processes.poll(self.pid, self.ident) is None


class ApiRelay:
    """The ASGI app behind the gateway in its own process: everything goes to the API process."""

    def __init__(self, files: RunFiles, *, metrics: GatewayMetrics | None = None) -> None:
        self.files = files
        self.metrics = metrics
        self._address: ApiAddress | None = None
        self._address_key: tuple[int, int, int] | None = None
        self._idle: list[ApiConnection] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def reload(self) -> None:
        """Read ``api.json`` again before the next new connection (the API says it moved)."""
        self._address_key = None

    def close(self) -> None:
        for conn in self._idle:
            conn.abort()
        self._idle.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is the process's; no websockets on the API
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        try:
            await self._relay(scope, receive, send, message)
        except _ClientGone:
            return

    # -- one request ------------------------------------------------------------------------------
    async def _relay(self, scope: Scope, receive: Receive, send: Send, first: Message) -> None:
        body: bytes = first.get("body", b"")
        streamed = bool(first.get("more_body", False))
        length = None
        if streamed:
            for key, value in scope["headers"]:
                if key == b"content-length":
                    length = value
        head = _request_head(scope, body, streamed, length)
        is_head = scope["method"] == "HEAD"
        try:
            if streamed:
                conn = await self._connect()
                conn.begin(head=is_head)
                conn.write(head)
                await self._upload(conn, body, receive, chunked=length is None)
            else:
                conn = await self._exchange(head + body, is_head)
        except Unsent:
            await _down(scope, send)
            return
        except UpstreamError as exc:
            await _answer(scope, send, 502, f"Bad answer from the API server: {exc}.")
            return
        await self._pass_back(scope, receive, send, conn)

    async def _exchange(self, data: bytes, is_head: bool) -> ApiConnection:
        """Send a whole request; a pooled connection that the API had closed is retried once fresh."""
        conn = self._checkout()
        if conn is not None:
            conn.begin(head=is_head)
            conn.write(data)
            try:
                await conn.head()
                return conn
            except Unsent:
                pass
        conn = await self._connect()
        conn.begin(head=is_head)
        conn.write(data)
        await conn.head()
        return conn

    async def _upload(self, conn: ApiConnection, body: bytes, receive: Receive, *, chunked: bool) -> None:
        more = True
        while True:
            if conn.head_done or conn.closed:  # answered early (401, 413...) or gone: stop sending
                conn.spoiled = True
                break
            if body:
                conn.write(b"%x\r\n%b\r\n" % (len(body), body) if chunked else body)
                await conn.drain()
            if not more:
                if chunked:
                    conn.write(b"0\r\n\r\n")
                break
            message = await receive()
            if message["type"] == "http.disconnect":
                conn.spoiled = True
                conn.abort()
                raise _ClientGone
            body, more = message.get("body", b""), bool(message.get("more_body", False))
        await conn.head()

    async def _pass_back(self, scope: Scope, receive: Receive, send: Send, conn: ApiConnection) -> None:
        headers = [(k, v) for k, v in conn.headers if k not in _DROP_RESPONSE]
        whole = conn.take_all()
        if whole is None and self.metrics is not None and scope["path"] == "/metrics":
            whole = b"".join([chunk async for chunk in conn.body()])
        if whole is not None:
            if self.metrics is not None and scope["path"] == "/metrics" and conn.status == 200:
                whole += self.metrics.render()
                headers = [(k, v) for k, v in headers if k != b"content-length"]
                headers.append((b"content-length", b"%d" % len(whole)))
            self._release(conn)
            await send({"type": "http.response.start", "status": conn.status, "headers": headers})
            await send({"type": "http.response.body", "body": whole})
            return
        # a long answer: stream it, and drop the API's connection if the client goes away
        watcher = asyncio.ensure_future(_disconnected(receive, conn))
        try:
            await send({"type": "http.response.start", "status": conn.status, "headers": headers})
            async for chunk in conn.body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except UpstreamError:
            if watcher.done():  # the client left first
                return
            raise  # the API died mid-answer: the client's connection must close, not look complete
        finally:
            watcher.cancel()
        self._release(conn)

    # -- the pool ---------------------------------------------------------------------------------
    def _checkout(self) -> ApiConnection | None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): the old one's connections are dead
            self.close()
            self._loop = loop
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_MAX_S:
                conn.reused = True
                return conn
            conn.abort()
        return None

    def _release(self, conn: ApiConnection) -> None:
        if conn.keep_alive and not conn.closed and not conn.spoiled and len(self._idle) < MAX_IDLE:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.abort()

    async def _connect(self) -> ApiConnection:
        address = self._current_address()
        if address is None:
            raise Unsent("the API server has not published its address")
        if not address.alive():
            raise Unsent(f"the API server (pid {address.pid}) is not running")
        loop = asyncio.get_running_loop()
        try:
            if address.kind == "unix":
                connecting = loop.create_unix_connection(ApiConnection, address.target)
            else:
                host, _, port = address.target.rpartition(":")
                connecting = loop.create_connection(ApiConnection, host, int(port))
            _, conn = await asyncio.wait_for(connecting, CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            self._address_key = None  # look at api.json again next time
            raise Unsent(f"cannot connect to the API server: {exc or type(exc).__name__}") from None
        return conn

    def _current_address(self) -> ApiAddress | None:
        path: Path = self.files.api
        try:
            st = os.stat(path)
        except OSError:
            self._address, self._address_key = None, None
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._address_key:
            data = read_json(path)
            self._address = ApiAddress.parse(data) if data is not None else None
            self._address_key = key
        return self._address


def _request_head(scope: Scope, body: bytes, streamed: bool, length: bytes | None) -> bytes:
    target: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    if query:
        target += b"?" + query
    parts = [scope["method"].encode("latin-1"), b" ", target, b" HTTP/1.1\r\n"]
    host = False
    for key, value in scope["headers"]:
        if key not in _DROP_REQUEST:
            parts += (key, b": ", value, b"\r\n")
            host = host or key == b"host"
    server = scope.get("server")
    if not host and server:  # an HTTP/1.0 client: the API builds its URLs from the address it called
        parts += (b"host: ", f"{server[0]}:{server[1]}".encode("latin-1"), b"\r\n")
    client = scope.get("client")
    if client:
        parts += (b"x-forwarded-for: ", str(client[0]).encode("latin-1"), b"\r\n")
    parts += (b"x-forwarded-proto: ", scope.get("scheme", "http").encode("latin-1"), b"\r\n")
    if not streamed:
        parts.append(b"content-length: %d\r\n\r\n" % len(body))
    elif length is not None:
        parts += (b"content-length: ", length, b"\r\n\r\n")
    else:
        parts.append(b"transfer-encoding: chunked\r\n\r\n")
    return b"".join(parts)


async def _disconnected(receive: Receive, conn: ApiConnection) -> None:
    """Abort the API's side when the client goes away in the middle of a long answer."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not conn.done:
                conn.abort()
            return


async def _down(scope: Scope, send: Send) -> None:
    await _answer(scope, send, 503, API_DOWN, retry=True)


async def _answer(scope: Scope, send: Send, status: int, message: str, *, retry: bool = False) -> None:
    """The gateway's own answer on an API path, in the surface's error shape."""
    code = "TEMPORARILY_UNAVAILABLE" if status == 503 else "INTERNAL_ERROR"
    if is_mlflow_path(scope["path"]):
        payload = orjson.dumps({"error_code": code, "message": message})
    else:
        payload = orjson.dumps({"status": status, "message": message, "error_code": code, "result": {}})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    if retry:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
