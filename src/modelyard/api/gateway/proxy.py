"""The inference gateway: ``/deployment/<name>/<rest>`` is forwarded to one of the deployment's ready
replicas as ``<replica>/<rest>?<query>``; everything else (``/deployment/api/...`` included) goes on
to the platform's app.

It is a raw ASGI middleware, outermost, so a prediction never pays for the platform's routing,
dependency injection or middleware: per request it is a cached route, an access check (none for a
public endpoint), the body read with the size limit, one exchange on a pooled keep-alive connection
(``upstream``) and two ``send`` calls. Access to a private endpoint: one of the deployment's
client tokens as a Bearer token, or platform credentials of a user with any role in the deployment's
group (or a platform admin); with authentication switched off for the server, every endpoint is open.

The request's ``Authorization``, ``Cookie`` and hop-by-hop headers never reach the replica (the model
is user code). A replica that refuses the connection (just drained or killed) is skipped for the
next one; the request was never sent, so that is safe. Errors are JSON in the protocol's shape where
it is easy: Open Inference V2 paths answer ``{"error"}``, the others ``{"error", "status"}``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.api.auth import authenticate
from modelyard.api.gateway.metrics import GatewayMetrics
from modelyard.api.gateway.routes import Plan, Routes
from modelyard.api.gateway.upstream import (
    Response,
    Unsent,
    Upstream,
    UpstreamError,
    UpstreamTimeout,
    request_bytes,
)
from modelyard.domain.deployments import RESERVED_NAMES, EndpointAccess
from modelyard.domain.errors import Unauthenticated
from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.services.identity.secrets import token_hash
from modelyard.services.identity.service import AUTH_CACHE_SECONDS

log = logging.getLogger("modelyard.gateway")

PREFIX = "/deployment/"
_PREFIX_BYTES = len(PREFIX)
DEFAULT_TIMEOUT_S = 300.0
# Never forwarded: credentials for the platform, hop-by-hop headers, and what the gateway sets itself.
_DROP = frozenset(
    {
        b"authorization",
        b"cookie",
        b"host",
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
    }
)
_JSON = (b"content-type", b"application/json")


class _Disconnected(Exception):
    pass


class _TooLarge(Exception):
    pass


_Refusal = tuple[int, str, tuple[tuple[bytes, bytes], ...]]


class Gateway:
    def __init__(
        self,
        app: ASGIApp,
        *,
        services: Services,
        metrics: GatewayMetrics | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.app = app
        self.services = services
        self.auth = services.settings.auth
        self.max_body = services.settings.max_request_bytes
        self.metrics = metrics or GatewayMetrics()
        self.routes = Routes(services.deployments.route)
        services.deployments.subscribe(self.routes.invalidate)
        self.upstream = Upstream(timeout_s=timeout_s)
        self._basic: dict[str, tuple[float, Principal]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(PREFIX):
                name = path[_PREFIX_BYTES:].partition("/")[0]
                if name and name not in RESERVED_NAMES:
                    await self._serve(scope, receive, send, name)
                    return
        elif scope["type"] == "lifespan":
            receive = self._watch_shutdown(receive)
        await self.app(scope, receive, send)

    def _watch_shutdown(self, receive: Receive) -> Receive:
        async def watched() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.upstream.close()
            return message

        return watched

    # -- one request ------------------------------------------------------------------------------
    async def _serve(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        started = time.perf_counter()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        cut = raw_path.find(b"/", _PREFIX_BYTES)
        target = raw_path[cut:] if cut >= 0 else b"/"
        v2 = target.startswith(b"/v2")
        label, predictor, status = "", "", 500
        self.metrics.in_flight.inc()
        try:
            plan = await self.routes.get(name)
            if plan is None:
                status = 404
                message = f"No deployment named '{name}'; `modelyard deploy list` shows them."
                await _error(send, 404, message, v2=v2)
                return
            label = name
            predictor, status = await self._forward(scope, receive, send, plan, target, v2)
        except _Disconnected:
            status = 499
        except Exception:
            log.exception("gateway failure on %s %s", scope.get("method"), scope.get("path"))
            status = 500
            await _error(send, 500, "Internal error in the gateway; the server log has the details.", v2=v2)
        finally:
            self.metrics.in_flight.inc(amount=-1.0)
            self.metrics.observe(label, predictor, status, time.perf_counter() - started)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, plan: Plan, target: bytes, v2: bool
    ) -> tuple[str, int]:
        """Answer one request for a known deployment; returns (predictor, status) for the metrics."""
        headers, authorization, length = _split_headers(scope["headers"])
        refusal = await self._refusal(plan, authorization)
        if refusal is not None:
            await _error(send, *refusal, v2=v2)
            return "", refusal[0]
        try:
            body = await self._body(receive, length)
        except _TooLarge:
            message = (
                f"Request body exceeds the limit of {self.max_body} bytes (MODELYARD_MAX_REQUEST_BYTES)."
            )
            await _error(send, 413, message, v2=v2)
            return "", 413
        query: bytes = scope.get("query_string", b"")
        if query:
            target = target + b"?" + query
        method: str = scope["method"]
        name = plan.route.name
        for predictor, url in self.routes.candidates(plan):
            data = request_bytes(method, target, url[7:].encode(), headers, body)
            try:
                response = await self.upstream.request(url, data, head=method == "HEAD")
            except Unsent:
                self.metrics.retries.inc((name,))
                continue
            except UpstreamTimeout as exc:
                await _error(send, 504, f"Deployment '{name}': {exc}.", v2=v2)
                return predictor, 504
            except UpstreamError as exc:
                await _error(send, 502, f"Deployment '{name}': bad answer from a replica: {exc}.", v2=v2)
                return predictor, 502
            await _reply(send, response, predictor)
            return predictor, response.status
        message = f"Deployment '{name}': no replica accepted the connection; try again shortly."
        await _error(send, 503, message, _RETRY, v2=v2)
        return "", 503

    async def _refusal(self, plan: Plan, authorization: bytes | None) -> _Refusal | None:
        """Why the request cannot be forwarded (access, stopped, no ready replica), or None."""
        route = plan.route
        if route.access is EndpointAccess.PRIVATE and self.auth:
            refused = await self._authorize(route.name, route.group_id, route.token_hashes, authorization)
            if refused is not None:
                return refused[0], refused[1], _CHALLENGE if refused[0] == 401 else ()
        if route.stopped:
            return 503, f"Deployment '{route.name}' is stopped; start it to serve again.", ()
        if not plan.ready:
            message = f"Deployment '{route.name}' has no ready replica (phase {route.phase.value}"
            message += f": {route.message})." if route.message else ")."
            return 503, message, _RETRY
        return None

    async def _body(self, receive: Receive, length: bytes | None) -> bytes:
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise _TooLarge
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            if len(body) > self.max_body:
                raise _TooLarge
            return body
        parts = [body]
        size = len(body)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    # -- access -----------------------------------------------------------------------------------
    async def _authorize(
        self, name: str, group_id: int, token_hashes: frozenset[str], header: bytes | None
    ) -> tuple[int, str] | None:
        """None when the credentials may use the endpoint, else (status, message)."""
        text = header.decode("latin-1").strip() if header else ""
        if not text:
            return 401, (
                f"Deployment '{name}' is private: send 'Authorization: Bearer <token>' with one of its "
                "client tokens, or the token of a user with a role in its group."
            )
        scheme, _, value = text.partition(" ")
        if scheme.lower() == "bearer" and token_hash(value.strip()) in token_hashes:
            return None
        try:
            principal = await self._principal(text)
        except Unauthenticated as exc:
            return 403, f"Credentials refused for deployment '{name}': {exc.message}"
        if principal.role_in(group_id) is None:
            return 403, (
                f"Permission denied: user '{principal.username}' has no role in the group of deployment "
                f"'{name}'; use one of its client tokens, or ask a group admin for the viewer role."
            )
        return None

    async def _principal(self, header: str) -> Principal:
        # Passwords (scrypt) are slow on purpose, so a success is remembered briefly.
        key = hashlib.sha256(header.encode()).hexdigest()
        now = time.monotonic()
        hit = self._basic.get(key)
        if hit is not None and now - hit[0] < AUTH_CACHE_SECONDS:
            return hit[1]
        principal = await authenticate(self.services.identity, header)
        if len(self._basic) > 1000:
            self._basic.clear()
        self._basic[key] = (now, principal)
        return principal


_CHALLENGE = ((b"www-authenticate", b'Bearer realm="modelyard", Basic realm="modelyard"'),)
_RETRY = ((b"retry-after", b"1"),)


def _split_headers(
    raw: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], bytes | None, bytes | None]:
    """(headers to forward, Authorization, Content-Length) in one pass."""
    headers: list[tuple[bytes, bytes]] = []
    authorization: bytes | None = None
    length: bytes | None = None
    for key, value in raw:
        if key in _DROP:
            if key == b"authorization":
                authorization = value
            elif key == b"content-length":
                length = value
            continue
        headers.append((key, value))
    return headers, authorization, length


async def _reply(send: Send, response: Response, predictor: str) -> None:
    headers = response.headers
    headers.append((b"x-modelyard-predictor", predictor.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _error(
    send: Send, status: int, message: str, extra: tuple[tuple[bytes, bytes], ...] = (), *, v2: bool
) -> None:
    shape: dict[str, Any] = {"error": message} if v2 else {"error": message, "status": status}
    payload = orjson.dumps(shape)
    headers = [_JSON, (b"content-length", b"%d" % len(payload)), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
