"""``GET /deployment/api/<key>/logs?replica=&tail=&follow=&all=``: what a deployment's replicas print.

Each line starts with its time (UTC); the controller's lines about the replica (started, ready,
probe failed, killed, exited and why, restarted, draining) are among them, marked ``[modelyard
controller]``. Only the replicas the deployment has now (running, or waiting to restart) are shown;
``all=true`` adds those that are gone (replaced, scaled down, failed and removed).

Without ``follow`` the answer is the envelope with ``{"lines": [{"replica", "line"}], "count"}``, oldest
first. With ``follow=true`` it is a ``text/plain`` stream, one ``[replica] line`` per line, that goes on
until the client hangs up; after ``KEEPALIVE_S`` of silence an empty line is sent so that proxies and
clients with read timeouts keep the connection open (readers skip empty lines).

Logs come from the controller's backend, which runs in the server process; a server started without
the controller answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from modelyard.api.deps import principal, services
from modelyard.api.openapi import Content, documented, model_ref
from modelyard.api.resources.openapi import envelope as envelope_schema
from modelyard.api.resources.routes import envelope
from modelyard.controller import Backend, LogLine
from modelyard.domain.errors import DomainError, ErrorCode, InvalidParameter, NotFound
from modelyard.domain.values import ascii_digits
from modelyard.schemas.resources import LogLines, LogsQuery
from modelyard.services import Services
from modelyard.services.resources import deployments as resource

KEEPALIVE_S = 10.0
MAX_TAIL = 10_000
QUERY_KEYS = ("replica", "tail", "follow", "all")
ANSWER = Content(
    {
        "application/json": envelope_schema("deployment.logs_answer", model_ref(LogLines), (LogLines,)),
        "text/plain": {"type": "string", "description": "With follow=true: one '[replica] line' per line."},
    }
)


class ControllerUnavailable(DomainError):
    code = ErrorCode.TEMPORARILY_UNAVAILABLE


def _backend(request: Request) -> Backend:
    controller = getattr(request.app.state, "controller", None)
    backend = getattr(controller, "backend", None)
    if backend is None:
        raise ControllerUnavailable(
            "Logs are unavailable: the controller is not running in this server (it runs replicas and "
            "keeps their logs); start the server with MODELYARD_CONTROLLER=true."
        )
    return cast(Backend, backend)


def _flag(params: Any, key: str) -> bool:
    raw = params.get(key, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise InvalidParameter(f"{key}: expected true or false, got {params[key]!r}.")
    return bool(raw in ("true", "1"))


def _query(request: Request) -> tuple[str | None, int, bool, bool]:
    params = request.query_params
    for key in params:
        if key not in QUERY_KEYS:
            raise InvalidParameter(
                f"Unknown query parameter '{key}'; the parameters are: {', '.join(QUERY_KEYS)}."
            )
    replica = params.get("replica") or None
    follow = _flag(params, "follow")
    gone = _flag(params, "all")
    raw_tail = params.get("tail", "10" if follow else "100")
    if not ascii_digits(raw_tail, 6) or int(raw_tail) > MAX_TAIL:
        raise InvalidParameter(f"tail: expected a whole number from 0 to {MAX_TAIL}, got {raw_tail!r}.")
    return replica, int(raw_tail), follow, gone


def _target(svc: Services, request: Request, key: str, replica: str | None, gone: bool) -> int:
    """The deployment's id, after checking the caller may read it and that ``replica`` is one of its
    (one that is gone is looked for among the log files, with ``all``)."""
    view = svc.deployments.get(principal(request), resource.deployment_name(svc, key, principal(request)))
    if replica is not None and not gone:
        known = sorted(r.get("name", "") for r in view["status"]["replicas_detail"])
        if replica not in known:
            raise NotFound(
                f"replica: deployment '{view['name']}' has no replica '{replica}'; its replicas: "
                f"{', '.join(known) or 'none'} (replicas that are gone: add all=true)."
            )
    return int(view["id"])


def _line(item: LogLine) -> dict[str, Any]:
    return {"replica": item.replica, "line": item.line}


async def _next(lines: AsyncIterator[LogLine]) -> LogLine:
    return await lines.__anext__()


async def _stream(lines: AsyncIterator[LogLine]) -> AsyncIterator[bytes]:
    """Each line as ``[replica] line``; an empty line after ``KEEPALIVE_S`` of silence. The pending read
    is never cancelled by the keep-alive (that would close the backend's iterator), only at the end."""
    pending: asyncio.Task[LogLine] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.create_task(_next(lines))
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_S)
            if not done:
                yield b"\n"
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield f"[{item.replica}] {item.line}\n".encode()
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        closer = getattr(lines, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


def add_routes(router: APIRouter) -> None:
    @router.get("/{key}/logs", name="deployment_logs")
    @documented(
        query=LogsQuery,
        response=ANSWER,
        path={
            "key": {
                "type": "string",
                "minLength": 1,
                "description": "The deployment's numeric id or its name.",
            }
        },
    )
    async def logs(request: Request, key: str) -> Response:
        replica, tail, follow, gone = _query(request)
        backend = _backend(request)
        deployment_id = await run_in_threadpool(_target, services(request), request, key, replica, gone)
        if follow:
            lines = backend.follow(deployment_id, replica=replica, tail=tail, gone=gone)
            return StreamingResponse(_stream(lines), media_type="text/plain; charset=utf-8")
        found = await run_in_threadpool(
            lambda: backend.logs(deployment_id, replica=replica, tail=tail, gone=gone)
        )
        return envelope({"lines": [_line(item) for item in found], "count": len(found)})
