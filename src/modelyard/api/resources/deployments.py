"""The ``deployment`` resource under ``/deployment/api/``: the cube-studio routes, with ids or names.

The generic resource service answers ``_info``, the list (filters, paging, ordering) and the actions;
create, update, show and delete go straight to ``DeploymentService`` because their bodies and answers
are JSON documents (see ``services.resources.deployments``). Every ``<key>`` is a deployment's numeric
id or its name. Operations that take parameters (scale, rollback, promote, tokens, the one-call deploy)
are in ``deployment_ops``, logs in ``deployment_logs``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.body import json_body
from modelyard.api.deps import principal, services
from modelyard.api.openapi import Schema, documented, model_ref, with_doc
from modelyard.api.resources import deployment_logs, deployment_ops
from modelyard.api.resources.openapi import envelope as envelope_schema
from modelyard.api.resources.openapi import resource_docs
from modelyard.api.resources.params import ids_body, list_request
from modelyard.api.resources.routes import envelope
from modelyard.schemas import resources as wire
from modelyard.services import Services
from modelyard.services.resources import ResourceRegistry, ResourceService, ResourceSpec
from modelyard.services.resources import deployments as resource

PROTOCOL_PATHS = {
    "seldon": "api/v1.0/predictions",
    "v2": "v2/models/{name}/infer",
    "mlflow": "invocations",
}


def urls(request: Request, name: str) -> dict[str, str]:
    """The endpoint of each protocol, as this server is reached."""
    base = f"{str(request.base_url).rstrip('/')}/deployment/{name}"
    return {protocol: f"{base}/{path.format(name=name)}" for protocol, path in PROTOCOL_PATHS.items()}


def with_urls(request: Request, view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "urls": urls(request, view["name"])}


DEPLOYMENT = envelope_schema("deployment.answer", model_ref(wire.Deployment), (wire.Deployment,))
KEY = {"key": {"type": "string", "minLength": 1, "description": "The deployment's numeric id or its name."}}
_KEYS = Schema(
    "deployment.keys",
    {
        "type": "object",
        "required": ["ids"],
        "additionalProperties": False,
        "properties": {"ids": {"type": "array", "minItems": 1, "items": {"type": ["integer", "string"]}}},
    },
)


def build_deployment_router(spec: ResourceSpec, registry: ResourceRegistry) -> APIRouter:
    router = APIRouter(tags=["resource: deployment"])
    docs = resource_docs(spec, registry)

    def generic(request: Request) -> ResourceService:
        return ResourceService(services(request), registry, spec.name, principal(request))

    @router.get("/_info", name="deployment_info")
    @with_doc(docs.info)
    async def info(request: Request) -> Response:
        described = await run_in_threadpool(generic(request).info)
        for form in ("add_columns", "edit_columns"):
            for field in described[form]:
                if field["name"] in resource.JSON_FIELDS:
                    field["type"] = "json"
        return envelope(described)

    @router.get("/", name="deployment_list")
    @with_doc(docs.list)
    async def list_items(request: Request) -> Response:
        query = list_request(request)
        return envelope(await run_in_threadpool(generic(request).list_items, query))

    @router.post("/", name="deployment_add")
    @documented(body=wire.CreateDeployment, response=DEPLOYMENT, status=201)
    async def add(request: Request) -> Response:
        body = await json_body(request, allow_empty=False)
        view = await run_in_threadpool(
            resource.create_deployment, services(request), principal(request), body
        )
        return envelope(with_urls(request, view), 201)

    deployment_ops.add_routes(router, with_urls)

    @router.get("/action/{action}/{key}", name="deployment_action")
    @documented(response=DEPLOYMENT, path={**docs.action.path, **KEY})
    async def action(request: Request, action: str, key: str) -> Response:
        def act(svc: Services) -> dict[str, Any]:
            actor = principal(request)
            generic(request).action(action, resource.deployment_id(svc, actor, key))
            return svc.deployments.get(actor, resource.deployment_name(svc, key, actor))

        return envelope(with_urls(request, await run_in_threadpool(act, services(request))))

    @router.post("/multi_action/{action}", name="deployment_multi_action")
    @documented(body=_KEYS, response=docs.multi_action.response, path=docs.multi_action.path)
    async def multi_action(request: Request, action: str) -> Response:
        raw = await ids_body(request)

        def act(svc: Services) -> dict[str, Any]:
            actor = principal(request)
            ids = [resource.deployment_id(svc, actor, k) for k in raw] if isinstance(raw, list) else raw
            return generic(request).multi_action(action, ids)

        return envelope(await run_in_threadpool(act, services(request)))

    @router.get("/{key}", name="deployment_show")
    @documented(response=DEPLOYMENT, path=KEY)
    async def show(request: Request, key: str) -> Response:
        def get(svc: Services) -> dict[str, Any]:
            return svc.deployments.get(
                principal(request), resource.deployment_name(svc, key, principal(request))
            )

        return envelope(with_urls(request, await run_in_threadpool(get, services(request))))

    @router.put("/{key}", name="deployment_edit")
    @documented(body=wire.UpdateDeployment, response=DEPLOYMENT, path=KEY)
    async def edit(request: Request, key: str) -> Response:
        body = await json_body(request, allow_empty=False)
        view = await run_in_threadpool(
            resource.update_deployment, services(request), principal(request), key, body
        )
        return envelope(with_urls(request, view))

    @router.delete("/{key}", name="deployment_delete")
    @documented(response=DEPLOYMENT, path=KEY)
    async def delete(request: Request, key: str) -> Response:
        def remove(svc: Services) -> dict[str, Any]:
            actor = principal(request)
            name = resource.deployment_name(svc, key, actor)
            before = svc.deployments.get(actor, name)
            svc.deployments.delete(actor, name)
            return before

        return envelope(with_urls(request, await run_in_threadpool(remove, services(request))))

    deployment_logs.add_routes(router)
    return router
