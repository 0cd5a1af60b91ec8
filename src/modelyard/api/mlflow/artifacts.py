"""MLflow artifact routes: ``artifacts/list`` for runs and the ``mlflow-artifacts`` proxy.

The proxy (``/api/2.0/mlflow-artifacts/artifacts/<path>``) is what the official client talks to when a
run's artifact URI is ``mlflow-artifacts:/...``: PUT uploads one file (the raw request body), GET
downloads it, DELETE removes a file or a directory, and ``GET /artifacts?path=<dir>`` lists one level
with paths relative to ``<dir>``. Bodies are streamed both ways; nothing is held whole in memory.

Access: proxied paths start with an experiment id (``<experiment>/<run>/artifacts/...``,
``<experiment>/models/<model>/artifacts/...``); reading needs the viewer role in that experiment's
group, writing the member role. Paths outside any experiment are for platform admins only.

Uploads are counted in the audit trail (one summary per run or logged model, user and interval) and
deletions recorded each (``services.audit``).

Uploaded files are served back from this origin, so types a browser would render as active content
(HTML, SVG, JavaScript) are sent as ``text/plain`` with ``nosniff``: an artifact cannot script the UI.
"""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from modelyard.api.body import json_response
from modelyard.api.deps import principal
from modelyard.api.openapi import Content, documented
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.identity import Role
from modelyard.schemas import tracking_api as api
from modelyard.schemas.api_types import Empty
from modelyard.storage.artifacts import ArtifactInfo, clean_path

if TYPE_CHECKING:
    from modelyard.services import Services

tracking_router = APIRouter()
proxy_router = APIRouter()
_FILE = Content({"application/octet-stream": {"type": "string", "format": "binary"}, "*/*": {}})

_ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/javascript",
        "application/javascript",
        "application/xml",
        "text/xml",
    }
)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _authorize(request: Request, path: str | None, role: Role) -> None:
    """Check the caller's role on the experiment a proxied path belongs to (blocking: call off-loop)."""
    actor = principal(request)
    if actor.is_admin:
        return
    first = clean_path(path).split("/", 1)[0]
    if not first.isdigit():
        actor.require_platform_admin(what=f"Access to artifact path '{clean_path(path) or '/'}'")
    _services(request).experiments.require_access(actor, first, role)


def _files(infos: list[ArtifactInfo]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for info in infos:
        entry: dict[str, Any] = {"path": info.path, "is_dir": info.is_dir}
        if not info.is_dir and info.file_size is not None:
            entry["file_size"] = info.file_size
        out.append(entry)
    return out


def _media_type(path: str) -> str:
    guessed = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return "text/plain" if guessed in _ACTIVE_TYPES else guessed


# -- the tracking API's listing ----------------------------------------------------------------------


@tracking_router.get("/artifacts/list")
@documented(response=api.RunArtifacts)
def list_run_artifacts(
    request: Request,
    run_id: str | None = Query(default=None),
    run_uuid: str | None = Query(default=None),
    path: str | None = Query(default=None),
    page_token: str | None = Query(default=None),  # accepted; one page holds a whole directory
) -> Response:
    rid = run_id or run_uuid
    if not rid:
        raise InvalidParameter("Missing value for required parameter 'run_id'.")
    services = _services(request)
    run = services.tracking.get_run(principal(request), rid)
    files = services.artifact_service.list_run_artifacts(run, path)
    body: dict[str, Any] = {"root_uri": run.artifact_uri}
    if files:
        body["files"] = _files(files)
    return json_response(body)


# -- the mlflow-artifacts proxy ----------------------------------------------------------------------


@proxy_router.get("/artifacts")
@documented(response=api.ProxiedFiles)
def list_proxied(request: Request, path: str | None = Query(default=None)) -> Response:
    _authorize(request, path, Role.VIEWER)
    services = _services(request)
    files = services.artifact_service.list_under(services.artifacts, clean_path(path))
    return json_response({"files": _files(files)} if files else {})


@proxy_router.get("/artifacts/{path:path}")
@documented(response=_FILE)
async def download(request: Request, path: str) -> Response:
    await run_in_threadpool(_authorize, request, path, Role.VIEWER)
    services = _services(request)
    chunks = await services.artifact_service.download(services.artifacts, path)
    return StreamingResponse(
        chunks, media_type=_media_type(path), headers={"X-Content-Type-Options": "nosniff"}
    )


@proxy_router.put("/artifacts/{path:path}")
@documented(body=_FILE, response=Empty)
async def upload(request: Request, path: str) -> Response:
    services = _services(request)
    if not clean_path(path):
        raise InvalidParameter(
            "An artifact path is required: PUT /artifacts/<path> with the file as the body."
        )
    await run_in_threadpool(_authorize, request, path, Role.MEMBER)
    size = await services.artifact_service.upload(services.artifacts, path, request.stream())
    await run_in_threadpool(
        services.audit.appends.artifact_written, principal(request), clean_path(path), size
    )
    return json_response({})


@proxy_router.delete("/artifacts/{path:path}")
@documented(response=Empty)
def delete(request: Request, path: str) -> Response:
    _authorize(request, path, Role.MEMBER)
    services = _services(request)
    services.artifact_service.delete(services.artifacts, path)
    services.audit.artifact_deleted(principal(request), clean_path(path))
    return json_response({})
