"""The inference gateway: ``/deployment/<name>/<rest>`` is forwarded to one of the deployment's ready
replicas as ``<replica>/<rest>?<query>``; everything else (``/deployment/api/...`` included) goes on
to the platform's app.

It is a raw ASGI middleware, outermost, so a prediction never pays for the platform's routing,
dependency injection or middleware: per request it is a cached route, an access check (none for a
public endpoint), the body read with the size limit, one exchange on a pooled keep-alive connection
(``upstream``) and two ``send`` calls. It runs inside the platform's app (``create_app``: tests,
embedding, ``modelyard server --gateway inline``) or in a process of its own in front of it
(``process.py``).

Access to a private endpoint: one of the deployment's client tokens as a Bearer token, or platform
credentials of a user with any role in the deployment's group (or a platform admin); with
authentication switched off for the server, every endpoint is open. Without access, a private
deployment is answered exactly like a name that does not exist, so that nobody can list another
group's deployments by trying names: 401 with a challenge when the request has no credentials, 404
when it has some (valid or not) — the same status and body for a missing deployment, as the
platform's API answers for rows the caller may not see.

The request's ``Authorization``, ``Cookie`` and hop-by-hop headers never reach the replica (the model
is user code). A replica that refuses the connection (just drained or killed) is skipped for the
next one; the request was never sent, so that is safe. The gateway's own errors are in the error
shape of the route's protocol (``shapes``).
"""

from __future__ import annotations

import hashlib
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.api.auth import authenticate
from modelyard.api.gateway import shapes
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
from modelyard.services.deployments import DeploymentService
from modelyard.services.identity import IdentityService
from modelyard.services.identity.secrets import token_hash
from modelyard.services.identity.service import AUTH_CACHE_SECONDS
from modelyard.settings import Settings

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
    """``app`` answers every path outside ``/deployment/<name>/``; ``deployments`` gives the routes
    (and tells of changes made in this process), ``identity`` checks platform credentials."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        deployments: DeploymentService,
        identity: IdentityService,
        metrics: GatewayMetrics | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.app = app
        self.identity = identity
        self.auth = settings.auth
        self.max_body = settings.max_request_bytes
        self.metrics = metrics or GatewayMetrics()
        self.routes = Routes(deployments.route)
        deployments.subscribe(self.routes.invalidate)
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
        protocol = shapes.protocol_of(target)
        label, predictor, status = "", "", 500
        self.metrics.in_flight.inc()
        try:
            plan = await self.routes.get(name)
            if plan is None:
                refusal = _hidden(name, _authorization(scope["headers"]))
                status = refusal[0]
                await _error(send, *refusal, protocol=protocol)
                return
            label = name
            predictor, status = await self._forward(scope, receive, send, plan, target, protocol)
        except _Disconnected:
            status = 499
        except Exception:
            log.exception("gateway failure on %s %s", scope.get("method"), scope.get("path"))
            status = 500
            message = "Internal error in the gateway; the server log has the details."
            await _error(send, 500, message, protocol=protocol)
        finally:
            self.metrics.in_flight.inc(amount=-1.0)
            self.metrics.observe(label, predictor, status, time.perf_counter() - started)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, plan: Plan, target: bytes, protocol: str
    ) -> tuple[str, int]:
        """Answer one request for a known deployment; returns (predictor, status) for the metrics."""
        headers, authorization, length = _split_headers(scope["headers"])
        refusal = await self._refusal(plan, authorization)
        if refusal is not None:
            await _error(send, *refusal, protocol=protocol)
            return "", refusal[0]
        try:
            body = await self._body(receive, length)
        except _TooLarge:
            message = (
                f"Request body exceeds the limit of {self.max_body} bytes (MODELYARD_MAX_REQUEST_BYTES)."
            )
            await _error(send, 413, message, protocol=protocol)
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
                await _error(send, 504, f"Deployment '{name}': {exc}.", protocol=protocol)
                return predictor, 504
            except UpstreamError as exc:
                message = f"Deployment '{name}': bad answer from a replica: {exc}."
                await _error(send, 502, message, protocol=protocol)
                return predictor, 502
            await _reply(send, response, predictor)
            return predictor, response.status
        message = f"Deployment '{name}': no replica accepted the connection; try again shortly."
        await _error(send, 503, message, _RETRY, protocol=protocol)
        return "", 503

    async def _refusal(self, plan: Plan, authorization: bytes | None) -> _Refusal | None:
        """Why the request cannot be forwarded (access, stopped, no ready replica), or None."""
        route = plan.route
        private = route.access is EndpointAccess.PRIVATE and self.auth
        if private and not await self._may_use(route.group_id, route.token_hashes, authorization):
            return _hidden(route.name, authorization)
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
    async def _may_use(self, group_id: int, token_hashes: frozenset[str], header: bytes | None) -> bool:
        """Whether the credentials may use a private endpoint: a client token of the deployment, or
        a user with a role in its group (platform admins have one everywhere)."""
        text = header.decode("latin-1").strip() if header else ""
        if not text:
            return False
        scheme, _, value = text.partition(" ")
        if scheme.lower() == "bearer" and token_hash(value.strip()) in token_hashes:
            return True
        try:
            principal = await self._principal(text)
        except Unauthenticated:
            return False
        return principal.role_in(group_id) is not None

    async def _principal(self, header: str) -> Principal:
        # Passwords (scrypt) are slow on purpose, so a success is remembered briefly.
        key = hashlib.sha256(header.encode()).hexdigest()
        now = time.monotonic()
        hit = self._basic.get(key)
        if hit is not None and now - hit[0] < AUTH_CACHE_SECONDS:
            return hit[1]
        principal = await authenticate(self.identity, header)
        if len(self._basic) > 1000:
            self._basic.clear()
        self._basic[key] = (now, principal)
        return principal


_CHALLENGE = ((b"www-authenticate", b'Bearer realm="modelyard", Basic realm="modelyard"'),)
_RETRY = ((b"retry-after", b"1"),)


def _hidden(name: str, authorization: bytes | None) -> _Refusal:
    """The answer for a deployment that does not exist or that these credentials may not use: it
    depends on whether credentials were sent, never on whether the deployment exists."""
    if authorization is None or not authorization.strip():
        return (
            401,
            f"Deployment '{name}' was not found, or it is private: send one of its client tokens as "
            f"'Authorization: Bearer <token>' (`modelyard deploy tokens {name} create` makes one), or "
            "the token of a user with a role in its group.",
            _CHALLENGE,
        )
    return (
        404,
        f"Deployment '{name}' was not found, or these credentials give no access to it: a private "
        f"deployment takes one of its client tokens (`modelyard deploy tokens {name} create` makes "
        "one) or the credentials of a user with a role in its group; `modelyard deploy list` shows "
        "the deployments you can see.",
        (),
    )


def _authorization(raw: list[tuple[bytes, bytes]]) -> bytes | None:
    for key, value in raw:
        if key == b"authorization":
            return value
    return None


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
    send: Send, status: int, message: str, extra: tuple[tuple[bytes, bytes], ...] = (), *, protocol: str
) -> None:
    payload = shapes.error_body(protocol, status, message)
    headers = [_JSON, (b"content-length", b"%d" % len(payload)), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
