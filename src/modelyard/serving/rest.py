"""The HTTP layer over the dataplane, for the three protocols and /metrics: ``ServingApp.handle``
answers one request whose body has been read, and the app is also a hand-written ASGI app over it.

No framework on the hot path (no dependency injection, no validation models, no middleware stack):
a request is one dictionary lookup for its route, orjson and one dataplane call. serve-model's own
HTTP server (``http_server.py``) calls ``handle`` directly; the ASGI entry adds one pass over the
headers, the body read with a size limit, and two ``send`` calls.

Each route belongs to a protocol, which decides the error shape: Seldon's ``{"status": {...}}``, V2's
``{"error"}``, MLflow's ``{"error_code", "message"}``. Every request is counted in the metrics by
protocol, endpoint and status code. ``startup`` (the ASGI lifespan calls it) starts the runtime
(and, unless the model is already loaded, loads it on a background thread so liveness answers
during the load).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from modelyard.serving.codecs import jsonio, seldon, v2
from modelyard.serving.dataplane import DataPlane
from modelyard.serving.error_log import ErrorLog
from modelyard.serving.errors import (
    EndpointNotFound,
    InternalError,
    MethodNotAllowed,
    PayloadTooLarge,
    ServingError,
    UnsupportedMediaType,
)
from modelyard.serving.metrics import Metrics
from modelyard.version import __version__

log = logging.getLogger("modelyard.serving")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"
DEFAULT_MAX_BODY = 100 * 1024 * 1024
_V2_PATHS_KEPT = 256


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes
    content_type: bytes | None
    params: tuple[str, ...] = ()


# A handler returns (status, body, content type).
Reply = tuple[int, bytes, bytes]
Handler = Callable[[Request], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Route:
    protocol: str  # "seldon", "v2", "mlflow" or "server": the error shape
    endpoint: str  # the metrics label
    handler: Handler
    body: bool = False


class ServingApp:
    """The ASGI application. When the lifespan loads the model in the background, ``loaded`` is
    called (on the loading thread) once it is ready, or ``load_failed`` with a one-line message;
    the server process uses them to announce itself, or to exit."""

    def __init__(
        self,
        dataplane: DataPlane,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        loaded: Callable[[], None] | None = None,
        load_failed: Callable[[str], None] | None = None,
    ) -> None:
        self.dataplane = dataplane
        self.runtime = dataplane.runtime
        self.metrics: Metrics = dataplane.runtime.metrics
        self.max_body_bytes = max_body_bytes
        self.loaded = loaded
        self.load_failed = load_failed
        self.loader: threading.Thread | None = None
        self.errors = ErrorLog(log)  # the requests answered with an error, rate-limited
        self._routes = self._route_table()
        # parsed /v2/models/... paths: a client sends the same few again and again
        self._v2_paths: dict[str, tuple[dict[str, Route], tuple[str, ...]]] = {}
        self._v2_actions = _with_head(
            {
                "": {"GET": Route("v2", "metadata", self._v2_model_metadata)},
                "ready": {"GET": Route("v2", "health", self._v2_model_ready)},
                "infer": {"POST": Route("v2", "predict", self._v2_infer, body=True)},
            }
        )

    # -- routing ------------------------------------------------------------------------------

    def _route_table(self) -> dict[str, dict[str, Route]]:
        predict = Route("seldon", "predict", self._seldon_predict, body=True)
        routes = {
            "/api/v1.0/predictions": {"POST": predict},
            "/api/v0.1/predictions": {"POST": predict},
            "/predict": {"POST": predict},
            "/api/v1.0/feedback": {"POST": Route("seldon", "feedback", self._seldon_feedback, body=True)},
            "/api/v0.1/feedback": {"POST": Route("seldon", "feedback", self._seldon_feedback, body=True)},
            "/api/v1.0/metadata": {"GET": Route("seldon", "metadata", self._seldon_metadata)},
            "/api/v1.0/health/status": {"GET": Route("seldon", "health", self._seldon_health)},
            "/health/status": {"GET": Route("seldon", "health", self._seldon_health)},
            "/health/ping": {"GET": Route("seldon", "health", self._ping_text)},
            "/v2": {"GET": Route("v2", "metadata", self._v2_server)},
            "/v2/health/live": {"GET": Route("v2", "health", self._v2_live)},
            "/v2/health/ready": {"GET": Route("v2", "health", self._v2_ready)},
            "/invocations": {"POST": Route("mlflow", "predict", self._mlflow_invocations, body=True)},
            "/ping": {"GET": Route("mlflow", "health", self._mlflow_ping)},
            "/health": {"GET": Route("mlflow", "health", self._mlflow_ping)},
            "/version": {"GET": Route("mlflow", "metadata", self._mlflow_version)},
            "/metrics": {"GET": Route("server", "metrics", self._metrics)},
        }
        return _with_head(routes)

    def _resolve(self, method: str, path: str) -> tuple[Route, tuple[str, ...]]:
        by_method = self._routes.get(path)
        params: tuple[str, ...] = ()
        if by_method is None and path.startswith("/v2/models/"):
            by_method, params = self._v2_model_route(path)
        if by_method is None:
            raise EndpointNotFound(
                f"no endpoint {path}; see /v2, /api/v1.0/predictions, /invocations, /metrics"
            )
        route = by_method.get(method)
        if route is None:
            allowed = ", ".join(sorted(m for m in by_method if m != "HEAD"))
            raise MethodNotAllowed(f"{method} is not allowed on {path}; use {allowed}")
        return route, params

    def _v2_model_route(self, path: str) -> tuple[dict[str, Route] | None, tuple[str, ...]]:
        known = self._v2_paths.get(path)
        if known is not None:
            return known
        by_method, params = self._parse_v2_model_route(path)
        if by_method is not None:
            if len(self._v2_paths) >= _V2_PATHS_KEPT:
                self._v2_paths.clear()
            self._v2_paths[path] = (by_method, params)
        return by_method, params

    def _parse_v2_model_route(self, path: str) -> tuple[dict[str, Route] | None, tuple[str, ...]]:
        parts = path[len("/v2/models/") :].rstrip("/").split("/")
        name, version = parts[0], None
        rest = parts[1:]
        if len(rest) >= 2 and rest[0] == "versions":
            version, rest = rest[1], rest[2:]
        if not name or len(rest) > 1:
            return None, ()
        return self._v2_actions.get(rest[0] if rest else ""), (name, version or "")

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def handle(
        self,
        method: str,
        path: str,
        content_type: bytes | None,
        body: bytes,
        *,
        refused: ServingError | None = None,
    ) -> Reply:
        """Answer one request whose body has been read: (status, body, content type). Errors become
        the route's protocol's error body (``refused``: an error found while reading, such as a body
        over the limit); every answer is counted in the metrics. Raises only on cancellation."""
        started = time.perf_counter()
        metrics = self.metrics
        in_flight = metrics.in_flight
        in_flight.values[()] = in_flight.values.get((), 0.0) + 1.0
        protocol, endpoint = "", "unknown"
        status, payload, media = 499, b"", JSON  # what the metrics say if the request is cancelled
        try:
            route, params = self._resolve(method, path)
            protocol, endpoint = route.protocol, route.endpoint
            if refused is not None:
                raise refused
            status, payload, media = await route.handler(Request(method, path, body, content_type, params))
        except ServingError as exc:
            protocol = protocol or _protocol_of(path)
            status, payload, media = exc.status, _error_body(protocol, exc), JSON
            if endpoint != "health":
                self.errors.record(method, path, status, exc.message)
        except Exception as exc:  # a bug of ours: answer 500, keep serving
            log.exception("unexpected error answering %s %s", method, path)
            protocol = protocol or _protocol_of(path)
            error = InternalError(f"internal error: {type(exc).__name__}: {exc}")
            status, payload, media = 500, _error_body(protocol, error), JSON
        finally:
            in_flight.values[()] -= 1.0
            metrics.observe_request(
                protocol or _protocol_of(path), endpoint, status, time.perf_counter() - started
            )
        return status, payload, media

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        content_type = None
        content_length = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value
            elif key == b"content-length":
                content_length = value
        body, refused = b"", None
        try:
            body = await self._body(receive, content_length)
        except PayloadTooLarge as exc:
            refused = exc
        except _Disconnected:
            self.metrics.observe_request(_protocol_of(path), "unknown", 499, 0.0)
            return
        status, payload, media = await self.handle(method, path, content_type, body, refused=refused)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", media), (b"content-length", b"%d" % len(payload))],
            }
        )
        await send({"type": "http.response.body", "body": payload if method != "HEAD" else b""})

    async def _body(self, receive: Receive, content_length: bytes | None) -> bytes:
        limit = self.max_body_bytes
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            raise PayloadTooLarge.of(int(content_length), limit)
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        body: bytes = message.get("body", b"")
        if not message.get("more_body"):
            if len(body) > limit:
                raise PayloadTooLarge.of(len(body), limit)
            return body
        chunks, size = [body], len(body)
        while message.get("more_body"):
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge.of(size, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def startup(self) -> None:
        """In the running event loop, before serving: start the runtime and, unless the model is
        already loaded, load it on a background thread (liveness answers during the load)."""
        self.runtime.start()
        if self.runtime.phase == "created":
            self._load_in_background()

    async def shutdown(self) -> None:
        """After the last request: stop the batcher and the predict threads."""
        self.errors.close()
        await self.runtime.aclose()

    def _load_in_background(self) -> None:
        def load() -> None:
            try:
                self.runtime.load()
            except BaseException:
                message = f"error: cannot serve model '{self.runtime.name}': {self.runtime.error}"
                if self.load_failed is not None:
                    self.load_failed(message)
                else:
                    log.error(message)
                return
            if self.loaded is not None:
                self.loaded()

        self.loader = threading.Thread(target=load, name="model-loader", daemon=True)
        self.loader.start()

    # -- Seldon -------------------------------------------------------------------------------

    async def _seldon_predict(self, request: Request) -> Reply:
        document = _seldon_json(request)
        return 200, jsonio.dumps(await self.dataplane.seldon_predict(document)), JSON

    async def _seldon_feedback(self, request: Request) -> Reply:
        document = _seldon_json(request)
        return 200, jsonio.dumps(await self.dataplane.seldon_feedback(document)), JSON

    async def _seldon_metadata(self, request: Request) -> Reply:
        return 200, jsonio.dumps(self.dataplane.seldon_metadata()), JSON

    async def _seldon_health(self, request: Request) -> Reply:
        return 200, jsonio.dumps(self.dataplane.seldon_health()), JSON

    async def _ping_text(self, request: Request) -> Reply:
        return 200, b"pong", TEXT

    # -- V2 -----------------------------------------------------------------------------------

    async def _v2_server(self, request: Request) -> Reply:
        return 200, jsonio.dumps(self.dataplane.v2_server_metadata()), JSON

    async def _v2_live(self, request: Request) -> Reply:
        return 200, b'{"live":true}', JSON

    async def _v2_ready(self, request: Request) -> Reply:
        status, document = self.dataplane.v2_ready()
        return status, jsonio.dumps(document), JSON

    async def _v2_model_metadata(self, request: Request) -> Reply:
        name, version = request.params
        return 200, jsonio.dumps(self.dataplane.v2_model_metadata(name, version or None)), JSON

    async def _v2_model_ready(self, request: Request) -> Reply:
        name, version = request.params
        status, document = self.dataplane.v2_model_ready(name, version or None)
        return status, jsonio.dumps(document), JSON

    async def _v2_infer(self, request: Request) -> Reply:
        name, version = request.params
        _require_json(request.content_type, "an inference request")
        document = jsonio.loads(request.body)
        return 200, jsonio.dumps(await self.dataplane.v2_infer(name, version or None, document)), JSON

    # -- MLflow -------------------------------------------------------------------------------

    async def _mlflow_invocations(self, request: Request) -> Reply:
        if request.content_type == b"application/json":  # the common case, without parsing the header
            answer = await self.dataplane.mlflow_invocations(jsonio.loads(request.body))
            return 200, jsonio.dumps(answer), JSON
        mime, charset = _media_type(request.content_type)
        if charset not in (None, "utf-8", "utf8"):
            raise UnsupportedMediaType(f"the scoring server only supports UTF-8, got charset={charset}")
        if mime == "application/json":
            answer = await self.dataplane.mlflow_invocations(jsonio.loads(request.body))
        elif mime == "text/csv":
            answer = await self.dataplane.mlflow_invocations(csv=request.body)
        else:
            raise UnsupportedMediaType(
                "This predictor only supports the following content types: "
                f"['text/csv', 'application/json']. Got '{(request.content_type or b'').decode('latin-1')}'."
            )
        return 200, jsonio.dumps(answer), JSON

    async def _mlflow_ping(self, request: Request) -> Reply:
        self.dataplane.mlflow_ping()
        return 200, b"\n", JSON

    async def _mlflow_version(self, request: Request) -> Reply:
        return 200, __version__.encode(), TEXT

    # -- metrics ------------------------------------------------------------------------------

    async def _metrics(self, request: Request) -> Reply:
        return 200, self.metrics.render(), PROMETHEUS


def _with_head(routes: dict[str, dict[str, Route]]) -> dict[str, dict[str, Route]]:
    for by_method in routes.values():
        if "GET" in by_method:
            by_method["HEAD"] = by_method["GET"]
    return routes


class _Disconnected(Exception):
    """The client went away before its body arrived."""


def _protocol_of(path: str) -> str:
    if path.startswith("/v2"):
        return "v2"
    if path.startswith(("/api/v", "/predict", "/health/")):
        return "seldon"
    return "mlflow"


def _error_body(protocol: str, exc: ServingError) -> bytes:
    if protocol == "seldon":
        return jsonio.dumps(seldon.error(exc.status, exc.message))
    if protocol == "v2":
        return jsonio.dumps(v2.error(exc.message))
    return jsonio.dumps({"error_code": str(exc.code), "message": exc.message})


def _media_type(header: bytes | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    text = header.decode("latin-1")
    mime, _, rest = text.partition(";")
    charset = None
    for part in rest.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip().strip('"').lower()
    return mime.strip().lower(), charset


def _require_json(header: bytes | None, what: str) -> None:
    """Accept JSON, and the content types a JSON body arrives with from ``curl -d`` (form) or
    clients that do not say (none, text/plain); refuse the others (CSV, multipart, images...)."""
    if header is None or header.startswith(b"application/json"):
        return
    mime, _ = _media_type(header)
    if mime is None or mime.endswith("+json") or mime in _JSON_LIKE:
        return
    raise UnsupportedMediaType(f"{what} must be sent as application/json, got '{mime}'")


_JSON_LIKE = frozenset({"application/json", "text/plain", "text/json", "application/x-www-form-urlencoded"})


def _seldon_json(request: Request) -> Any:
    """A Seldon message from a JSON body, or from a form field ``json=`` as Seldon's wrapper takes it
    (``curl -d`` without a content type sends a form content type with a JSON body: read as JSON)."""
    header = request.content_type
    if header is not None and header.startswith(b"application/x-www-form-urlencoded"):
        if request.body.startswith(b"json="):
            fields = parse_qs(request.body.decode("utf-8", "replace"))
            return jsonio.loads(fields.get("json", [""])[0].encode())
        return jsonio.loads(request.body)
    _require_json(header, "a Seldon message")
    return jsonio.loads(request.body)
