"""One place that turns domain errors into HTTP responses, in the shape of the surface that was called.

MLflow paths answer ``{"error_code", "message"}``; everything else answers the resource API envelope
``{"status": <non-zero>, "message", "result": {}}``. Unexpected exceptions are logged and answered with
a 500 that leaks no internals, by ``UnexpectedErrors``, the outermost middleware. Not by an exception
handler for ``Exception``: Starlette runs that one in its ``ServerErrorMiddleware``, which re-raises
after answering, and uvicorn then drops the keep-alive connection without a ``Connection: close``, so
the client's next request on it fails. Here the exception ends with the answer, and the connection
stays usable.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.domain.errors import DomainError, ErrorCode, HiddenNotFound, PermissionDenied

log = logging.getLogger("modelyard.api")

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_PARAMETER_VALUE: 400,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.RESOURCE_ALREADY_EXISTS: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.RESOURCE_DOES_NOT_EXIST: 404,
    ErrorCode.ENDPOINT_NOT_FOUND: 404,
    ErrorCode.RESOURCE_CONFLICT: 409,
    ErrorCode.ABORTED: 409,
    ErrorCode.REQUEST_LIMIT_EXCEEDED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.TEMPORARILY_UNAVAILABLE: 503,
}

MLFLOW_PREFIXES = ("/api/2.0/", "/ajax-api/2.0/", "/api/3.0/", "/ajax-api/3.0/")


def is_mlflow_path(path: str) -> bool:
    return path.startswith(MLFLOW_PREFIXES)


def error_response(path: str, code: ErrorCode, message: str, status: int | None = None) -> Response:
    http_status = status or HTTP_STATUS.get(code, 400)
    body: dict[str, Any]
    if is_mlflow_path(path):
        body = {"error_code": code.value, "message": message}
    else:
        body = {"status": http_status, "message": message, "error_code": code.value, "result": {}}
    try:
        payload = orjson.dumps(body)
    except orjson.JSONEncodeError:  # a message quoting text that is not Unicode (a lone surrogate)
        body["message"] = message.encode("utf-8", "backslashreplace").decode("utf-8")
        payload = orjson.dumps(body)
    return Response(payload, status_code=http_status, media_type="application/json")


INTERNAL_MESSAGE = "Internal error; the server log has the details."


class HtmlErrors(Protocol):
    """Error pages for the paths a person reads in a browser (the web UI, ``api/ui/errors.py``),
    set as ``app.state.html_errors``; every other path answers in its API's JSON shape."""

    def wants(self, scope: Scope) -> bool: ...

    def response(self, scope: Scope, status: int, message: str) -> Response: ...


def _html(scope: Scope) -> HtmlErrors | None:
    app = scope.get("app")
    pages: HtmlErrors | None = getattr(app.state, "html_errors", None) if app is not None else None
    return pages if pages is not None and pages.wants(scope) else None


def answer(request: Request, code: ErrorCode, message: str, status: int | None = None) -> Response:
    """The refusal in the shape of the path: an error page for the UI, else the API's JSON."""
    pages = _html(request.scope)
    if pages is not None:
        return pages.response(request.scope, status or HTTP_STATUS.get(code, 400), message)
    return error_response(request.url.path, code, message, status)


class UnexpectedErrors:
    """Answer an exception no handler took with a 500 in the surface's error shape, and end it there.

    If the answer had already started when the exception came (a stream that failed half way), the
    exception goes on to the server, which closes the connection: the only way to tell the client
    the answer is cut short. If the answer was complete, the exception is only logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = {"started": False, "complete": False}

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["complete"] = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if state["complete"]:
                return
            if state["started"]:
                raise
            pages = _html(scope)
            if pages is not None:
                response = pages.response(scope, 500, INTERNAL_MESSAGE)
            else:
                response = error_response(
                    scope.get("path", ""), ErrorCode.INTERNAL_ERROR, INTERNAL_MESSAGE, 500
                )
            await response(scope, receive, send)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"'{loc}': {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
    return "Invalid request: " + "; ".join(parts)


async def _audit_refusal(request: Request, exc: DomainError, group_id: int | None) -> None:
    """Failed authorization attempts are part of the audit trail (in their own transaction)."""
    actor = getattr(request.state, "principal", None)
    try:
        await run_in_threadpool(
            request.app.state.services.audit.record_refusal,
            actor=getattr(actor, "username", "anonymous"),
            actor_id=getattr(actor, "user_id", None),
            action=f"{request.method} {request.url.path}",
            resource_type="authorization",
            resource_id=request.url.path,
            reason=exc.message,
            group_id=group_id,
        )
    except Exception:  # auditing must never turn a 403 into a 500
        log.exception("could not audit a refused request")


async def domain_error_response(request: Request, exc: DomainError) -> Response:
    """The answer to a domain error (a refused authorization is audited first)."""
    if isinstance(exc, PermissionDenied | HiddenNotFound):
        await _audit_refusal(request, exc, exc.group_id)
    return answer(request, exc.code, exc.message)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error_response)  # type: ignore[arg-type]

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return answer(request, ErrorCode.INVALID_PARAMETER_VALUE, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return answer(
                request,
                ErrorCode.ENDPOINT_NOT_FOUND,
                f"No endpoint {request.method} {request.url.path}.",
                404,
            )
        if exc.status_code == 405:
            return answer(
                request,
                ErrorCode.ENDPOINT_NOT_FOUND,
                f"Method {request.method} is not allowed on {request.url.path}.",
                405,
            )
        code = ErrorCode.BAD_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
        return answer(request, code, str(exc.detail), exc.status_code)
