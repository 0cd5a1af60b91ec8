"""Group quotas for deployments under ``/quota/api/``, in the resource API's envelope.

* ``GET /quota/api/_info``: columns, the edit form, what the caller may do.
* ``GET /quota/api/``: ``{"data": [{"group", "quota", "usage"}], "count"}`` for the groups the caller
  belongs to (platform admins: all).
* ``GET /quota/api/<group>``: one group's quota and usage.
* ``PUT /quota/api/<group>`` ``{"cpu"?, "memory"?, "gpu"?, "deployments"?, "deployments_enabled"?}``:
  platform admins only; fields left out keep their values, ``null`` removes a limit.

A quota is keyed by its group's name, not an id of its own: a group has exactly one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.body import json_body
from modelyard.api.deps import principal, services
from modelyard.api.openapi import documented, model_ref
from modelyard.api.resources.openapi import envelope as envelope_schema
from modelyard.api.resources.routes import envelope
from modelyard.schemas.resources import EditQuota, GroupQuota, ResourceInfo

_COLUMNS = (
    ("group", "Group", "The group's name."),
    (
        "quota",
        "Quota",
        "Limits: cpu (cores), memory, gpu, deployments (null: unlimited), deployments_enabled.",
    ),
    ("usage", "Usage", "What the group's deployments take now (a stopped one counts only as a deployment)."),
)
_EDIT = (
    ("cpu", "CPU", "string", "Cores, e.g. 4 or '500m'; null: unlimited."),
    ("memory", "Memory", "string", "e.g. '8Gi' or '512Mi'; null: unlimited."),
    ("gpu", "GPU", "integer", "Whole GPUs; null: unlimited."),
    ("deployments", "Deployments", "integer", "How many deployments; null: unlimited."),
    ("deployments_enabled", "Deployments enabled", "boolean", "False refuses every new deployment."),
)


def _info(is_admin: bool) -> dict[str, Any]:
    return {
        "name": "quota",
        "label": "Group quotas",
        "description": "What each group's deployments may take; platform admins set it.",
        "route_base": "/quota/api/",
        "primary_key": "group",
        "columns": [{"name": n, "label": label, "description": d} for n, label, d in _COLUMNS],
        "list_columns": [n for n, _, _ in _COLUMNS],
        "show_columns": [n for n, _, _ in _COLUMNS],
        "label_columns": {n: label for n, label, _ in _COLUMNS},
        "add_columns": [],
        "edit_columns": [
            {"name": n, "label": label, "type": t, "description": d, "required": False, "default": None}
            for n, label, t, d in _EDIT
        ],
        "filters": {},
        "actions": {},
        "permissions": ["can_list", "can_show", *(["can_edit"] if is_admin else [])],
    }


_ONE = envelope_schema("quota.answer", model_ref(GroupQuota), (GroupQuota,))
_ALL = envelope_schema(
    "quota.page_answer",
    {
        "type": "object",
        "required": ["data", "count"],
        "properties": {
            "data": {"type": "array", "items": model_ref(GroupQuota)},
            "count": {"type": "integer"},
        },
    },
    (GroupQuota,),
)
_INFO = envelope_schema("resource_info_answer", model_ref(ResourceInfo), (ResourceInfo,))
_GROUP = {"group": {"type": "string", "minLength": 1, "description": "The group's name."}}


def mount_quotas(app: FastAPI) -> None:
    router = APIRouter(tags=["resource: quota"])

    @router.get("/_info", name="quota_info")
    @documented(response=_INFO)
    async def info(request: Request) -> Response:
        return envelope(_info(principal(request).is_admin))

    @router.get("/", name="quota_list")
    @documented(response=_ALL)
    async def list_quotas(request: Request) -> Response:
        found = await run_in_threadpool(services(request).quotas.list_all, principal(request))
        return envelope({"data": found, "count": len(found)})

    @router.get("/{group}", name="quota_show")
    @documented(response=_ONE, path=_GROUP)
    async def show(request: Request, group: str) -> Response:
        return envelope(await run_in_threadpool(services(request).quotas.get, principal(request), group))

    @router.put("/{group}", name="quota_edit")
    @documented(body=EditQuota, response=_ONE, path=_GROUP)
    async def edit(request: Request, group: str) -> Response:
        body = await json_body(request, allow_empty=False)
        return envelope(
            await run_in_threadpool(services(request).quotas.set, principal(request), group, body)
        )

    app.include_router(router, prefix="/quota/api")
