"""The generic routes of one declared resource, mounted under ``/<name>/api``.

Each route parses the request, calls one ``ResourceService`` use case for the request's principal in
a worker thread (database calls block) and wraps the result in the envelope
``{"status": 0, "message": "success", "result": ...}``. Declared endpoints (``GET /<name>/api/verify``)
are routed before ``/{key}``, so their names never read as ids.
Errors are domain errors, answered by the app's one error handler in the same envelope with the HTTP
status as ``status``. Create, update and delete routes exist only when the resource declares the hook:
elsewhere the method answers 405.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.body import json_body, json_response
from modelyard.api.deps import principal, services
from modelyard.api.openapi import with_doc
from modelyard.api.resources.openapi import resource_docs
from modelyard.api.resources.params import ids_body, list_request
from modelyard.services.resources import ResourceRegistry, ResourceService, ResourceSpec

EndpointRoute = Callable[[Request], Awaitable[Response]]


def envelope(result: Any, status: int = 200) -> Response:
    return json_response({"status": 0, "message": "success", "result": result}, status)


def build_router(spec: ResourceSpec, registry: ResourceRegistry) -> APIRouter:
    router = APIRouter(tags=[f"resource: {spec.name}"])
    name = spec.name
    docs = resource_docs(spec, registry)

    def resource(request: Request) -> ResourceService:
        return ResourceService(services(request), registry, name, principal(request))

    @router.get("/_info", name=f"{name}_info")
    @with_doc(docs.info)
    async def info(request: Request) -> Response:
        return envelope(await run_in_threadpool(resource(request).info))

    for endpoint in spec.endpoints:
        router.add_api_route(
            f"/{endpoint.name}",
            with_doc(docs.endpoint)(_endpoint_route(resource, endpoint.name)),
            methods=["GET"],
            name=f"{name}_{endpoint.name}",
            description=endpoint.description,
        )

    @router.get("/", name=f"{name}_list")
    @with_doc(docs.list)
    async def list_items(request: Request) -> Response:
        query = list_request(request)
        return envelope(await run_in_threadpool(resource(request).list_items, query))

    @router.get("/{key}", name=f"{name}_show")
    @with_doc(docs.show)
    async def show(request: Request, key: str) -> Response:
        return envelope(await run_in_threadpool(resource(request).get, key))

    if spec.create is not None:

        @router.post("/", name=f"{name}_add")
        @with_doc(docs.add)
        async def add(request: Request) -> Response:
            body = await json_body(request, allow_empty=False)
            return envelope(await run_in_threadpool(resource(request).create, body), 201)

    if spec.update is not None:

        @router.put("/{key}", name=f"{name}_edit")
        @with_doc(docs.edit)
        async def edit(request: Request, key: str) -> Response:
            body = await json_body(request, allow_empty=False)
            return envelope(await run_in_threadpool(resource(request).update, key, body))

    if spec.delete is not None:

        @router.delete("/{key}", name=f"{name}_delete")
        @with_doc(docs.delete)
        async def delete(request: Request, key: str) -> Response:
            return envelope(await run_in_threadpool(resource(request).delete, key))

    @router.get("/action/{action}/{key}", name=f"{name}_action")
    @with_doc(docs.action)
    async def action(request: Request, action: str, key: str) -> Response:
        return envelope(await run_in_threadpool(resource(request).action, action, key))

    @router.post("/multi_action/{action}", name=f"{name}_multi_action")
    @with_doc(docs.multi_action)
    async def multi_action(request: Request, action: str) -> Response:
        ids = await ids_body(request)
        return envelope(await run_in_threadpool(resource(request).multi_action, action, ids))

    return router


def _endpoint_route(resource: Callable[[Request], ResourceService], endpoint: str) -> EndpointRoute:
    async def route(request: Request) -> Response:
        return envelope(await run_in_threadpool(resource(request).endpoint, endpoint))

    return route
