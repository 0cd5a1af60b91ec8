"""MLflow model registry endpoints (``registered-models/...`` and ``model-versions/...``), with the
paths and methods of ``model_registry.proto``. Each route parses, calls one registry service method
and shapes the answer; access checks and rules live in the service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.body import json_body, json_response
from modelyard.api.deps import principal, services
from modelyard.api.mlflow import wire
from modelyard.api.mlflow.registry_wire import (
    flag,
    model_version,
    registered_model,
    request_params,
    string_list,
)
from modelyard.api.openapi import documented
from modelyard.schemas import registry as reg
from modelyard.schemas.api_types import Empty

router = APIRouter()


def _query(request: Request) -> Mapping[str, Any]:
    return request.query_params


# ---- registered models --------------------------------------------------------------------------


@router.post("/registered-models/create")
@documented(body=reg.CreateRegisteredModel, response=reg.RegisteredModelAnswer)
async def create_model(request: Request) -> Response:
    body = await json_body(request)
    model = await run_in_threadpool(
        services(request).registry.create_registered_model,
        principal(request),
        name=wire.require_str(body, "name"),
        description=body.get("description"),
        tags=dict(wire.key_values(body, "tags")),
        group=wire.optional_str(body, "group"),
    )
    return json_response({"registered_model": registered_model(model)})


@router.get("/registered-models/get")
@documented(query=reg.ModelNameQuery, response=reg.RegisteredModelAnswer)
async def get_model(request: Request) -> Response:
    name = wire.require_str(_query(request), "name")
    model = await run_in_threadpool(services(request).registry.get_registered_model, principal(request), name)
    return json_response({"registered_model": registered_model(model)})


@router.post("/registered-models/rename")
@documented(body=reg.RenameRegisteredModel, response=reg.RegisteredModelAnswer)
async def rename_model(request: Request) -> Response:
    body = await json_body(request)
    model = await run_in_threadpool(
        services(request).registry.rename_registered_model,
        principal(request),
        wire.require_str(body, "name"),
        wire.require_str(body, "new_name"),
    )
    return json_response({"registered_model": registered_model(model)})


@router.patch("/registered-models/update")
@documented(body=reg.UpdateRegisteredModel, response=reg.RegisteredModelAnswer)
async def update_model(request: Request) -> Response:
    body = await json_body(request)
    model = await run_in_threadpool(
        services(request).registry.update_registered_model,
        principal(request),
        wire.require_str(body, "name"),
        body.get("description"),
    )
    return json_response({"registered_model": registered_model(model)})


@router.delete("/registered-models/delete")
@documented(body=reg.ModelNameBody, response=Empty)
async def delete_model(request: Request) -> Response:
    params = await request_params(request)
    await run_in_threadpool(
        services(request).registry.delete_registered_model,
        principal(request),
        wire.require_str(params, "name"),
    )
    return json_response({})


@router.get("/registered-models/search")
@documented(query=reg.SearchQuery, response=reg.RegisteredModelsPage)
async def search_models(request: Request) -> Response:
    q = _query(request)
    models, token = await run_in_threadpool(
        services(request).registry.search_registered_models,
        principal(request),
        filter_string=wire.optional_str(q, "filter"),
        max_results=wire.optional_int(q, "max_results"),
        order_by=request.query_params.getlist("order_by"),
        page_token=wire.optional_str(q, "page_token"),
    )
    out: dict[str, Any] = {}
    if models:
        out["registered_models"] = [registered_model(m) for m in models]
    if token:
        out["next_page_token"] = token
    return json_response(out)


@router.get("/registered-models/get-latest-versions")
@documented(query=reg.LatestVersionsQuery, response=reg.ModelVersions)
async def latest_versions(request: Request) -> Response:
    return await _latest_versions(request)


@router.post("/registered-models/get-latest-versions")
@documented(body=reg.LatestVersions, response=reg.ModelVersions)
async def latest_versions_post(request: Request) -> Response:
    return await _latest_versions(request)


async def _latest_versions(request: Request) -> Response:
    params = await request_params(request)
    versions = await run_in_threadpool(
        services(request).registry.get_latest_versions,
        principal(request),
        wire.require_str(params, "name"),
        string_list(params, request, "stages"),
    )
    return json_response({"model_versions": [model_version(v) for v in versions]} if versions else {})


@router.post("/registered-models/set-tag")
@documented(body=reg.SetRegisteredModelTag, response=Empty)
async def set_model_tag(request: Request) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).registry.set_registered_model_tag,
        principal(request),
        wire.require_str(body, "name"),
        body.get("key"),
        body.get("value"),
    )
    return json_response({})


@router.delete("/registered-models/delete-tag")
@documented(body=reg.DeleteRegisteredModelTag, response=Empty)
async def delete_model_tag(request: Request) -> Response:
    params = await request_params(request)
    await run_in_threadpool(
        services(request).registry.delete_registered_model_tag,
        principal(request),
        wire.require_str(params, "name"),
        wire.require_str(params, "key"),
    )
    return json_response({})


@router.post("/registered-models/alias")
@documented(body=reg.SetAlias, response=Empty)
async def set_alias(request: Request) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).registry.set_alias,
        principal(request),
        wire.require_str(body, "name"),
        body.get("alias"),
        body.get("version"),
    )
    return json_response({})


@router.delete("/registered-models/alias")
@documented(body=reg.DeleteAlias, response=Empty)
async def delete_alias(request: Request) -> Response:
    params = await request_params(request)
    await run_in_threadpool(
        services(request).registry.delete_alias,
        principal(request),
        wire.require_str(params, "name"),
        params.get("alias"),
    )
    return json_response({})


@router.get("/registered-models/alias")
@documented(query=reg.AliasQuery, response=reg.ModelVersionAnswer)
async def get_by_alias(request: Request) -> Response:
    q = _query(request)
    version = await run_in_threadpool(
        services(request).registry.get_version_by_alias,
        principal(request),
        wire.require_str(q, "name"),
        q.get("alias"),
    )
    return json_response({"model_version": model_version(version)})


# ---- model versions -----------------------------------------------------------------------------


@router.post("/model-versions/create")
@documented(body=reg.CreateModelVersion, response=reg.ModelVersionAnswer)
async def create_version(request: Request) -> Response:
    body = await json_body(request)
    version = await run_in_threadpool(
        services(request).registry.create_model_version,
        principal(request),
        name=wire.require_str(body, "name"),
        source=wire.require_str(body, "source"),
        run_id=wire.optional_str(body, "run_id"),
        model_id=wire.optional_str(body, "model_id"),
        tags=dict(wire.key_values(body, "tags")),
        run_link=body.get("run_link"),
        description=body.get("description"),
    )
    return json_response({"model_version": model_version(version)})


@router.get("/model-versions/get")
@documented(query=reg.VersionQuery, response=reg.ModelVersionAnswer)
async def get_version(request: Request) -> Response:
    q = _query(request)
    version = await run_in_threadpool(
        services(request).registry.get_model_version,
        principal(request),
        wire.require_str(q, "name"),
        q.get("version"),
    )
    return json_response({"model_version": model_version(version)})


@router.patch("/model-versions/update")
@documented(body=reg.UpdateModelVersion, response=reg.ModelVersionAnswer)
async def update_version(request: Request) -> Response:
    body = await json_body(request)
    version = await run_in_threadpool(
        services(request).registry.update_model_version,
        principal(request),
        wire.require_str(body, "name"),
        body.get("version"),
        body.get("description"),
    )
    return json_response({"model_version": model_version(version)})


@router.delete("/model-versions/delete")
@documented(body=reg.VersionBody, response=Empty)
async def delete_version(request: Request) -> Response:
    params = await request_params(request)
    await run_in_threadpool(
        services(request).registry.delete_model_version,
        principal(request),
        wire.require_str(params, "name"),
        params.get("version"),
    )
    return json_response({})


@router.get("/model-versions/search")
@documented(query=reg.SearchVersionsQuery, response=reg.ModelVersionsPage)
async def search_versions(request: Request) -> Response:
    q = _query(request)
    versions, token = await run_in_threadpool(
        services(request).registry.search_model_versions,
        principal(request),
        filter_string=wire.optional_str(q, "filter"),
        max_results=wire.optional_int(q, "max_results"),
        order_by=request.query_params.getlist("order_by"),
        page_token=wire.optional_str(q, "page_token"),
    )
    out: dict[str, Any] = {}
    if versions:
        out["model_versions"] = [model_version(v) for v in versions]
    if token:
        out["next_page_token"] = token
    return json_response(out)


@router.post("/model-versions/transition-stage")
@documented(body=reg.TransitionStage, response=reg.ModelVersionAnswer)
async def transition_stage(request: Request) -> Response:
    body = await json_body(request)
    version = await run_in_threadpool(
        services(request).registry.transition_stage,
        principal(request),
        wire.require_str(body, "name"),
        body.get("version"),
        wire.require_str(body, "stage"),
        archive_existing_versions=flag(body, "archive_existing_versions"),
    )
    return json_response({"model_version": model_version(version)})


@router.post("/model-versions/set-tag")
@documented(body=reg.SetModelVersionTag, response=Empty)
async def set_version_tag(request: Request) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).registry.set_model_version_tag,
        principal(request),
        wire.require_str(body, "name"),
        body.get("version"),
        body.get("key"),
        body.get("value"),
    )
    return json_response({})


@router.delete("/model-versions/delete-tag")
@documented(body=reg.DeleteModelVersionTag, response=Empty)
async def delete_version_tag(request: Request) -> Response:
    params = await request_params(request)
    await run_in_threadpool(
        services(request).registry.delete_model_version_tag,
        principal(request),
        wire.require_str(params, "name"),
        params.get("version"),
        wire.require_str(params, "key"),
    )
    return json_response({})


@router.get("/model-versions/get-download-uri")
@documented(query=reg.VersionQuery, response=reg.DownloadUri)
async def download_uri(request: Request) -> Response:
    q = _query(request)
    uri = await run_in_threadpool(
        services(request).registry.get_download_uri,
        principal(request),
        wire.require_str(q, "name"),
        q.get("version"),
    )
    return json_response({"artifact_uri": uri})
