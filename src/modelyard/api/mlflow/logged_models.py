"""MLflow 3 logged-models endpoints, as ``mlflow.<flavor>.log_model`` calls them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.body import json_body, json_response
from modelyard.api.deps import principal, services
from modelyard.api.mlflow import wire
from modelyard.api.openapi import documented
from modelyard.schemas import tracking_api as api
from modelyard.schemas.api_types import Empty

router = APIRouter()


@router.post("/logged-models")
@documented(body=api.CreateLoggedModel, response=api.LoggedModelAnswer)
async def create(request: Request) -> Response:
    body = await json_body(request)
    model = await run_in_threadpool(
        services(request).logged_models.create,
        principal(request),
        experiment_id=wire.require_str(body, "experiment_id"),
        name=wire.optional_str(body, "name"),
        model_type=wire.optional_str(body, "model_type"),
        source_run_id=wire.optional_str(body, "source_run_id"),
        params=dict(wire.key_values(body, "params")),
        tags=dict(wire.key_values(body, "tags")),
    )
    return json_response({"model": wire.logged_model(model)})


@router.post("/logged-models/search")
@documented(body=api.SearchLoggedModels, body_required=False, response=api.LoggedModelsPage)
async def search(request: Request) -> Response:
    body = await json_body(request)
    models, token = await run_in_threadpool(
        services(request).logged_models.search,
        principal(request),
        experiment_ids=wire.id_list(body, "experiment_ids"),
        max_results=wire.optional_int(body, "max_results"),
        page_token=wire.optional_str(body, "page_token"),
        filter_string=wire.optional_str(body, "filter"),
    )
    out: dict[str, Any] = {}
    if models:
        out["models"] = [wire.logged_model(m) for m in models]
    if token:
        out["next_page_token"] = token
    return json_response(out)


@router.get("/logged-models/{model_id}")
@documented(response=api.LoggedModelAnswer)
async def get(request: Request, model_id: str) -> Response:
    model = await run_in_threadpool(services(request).logged_models.get, principal(request), model_id)
    return json_response({"model": wire.logged_model(model)})


@router.patch("/logged-models/{model_id}")
@documented(body=api.FinalizeLoggedModel, response=api.LoggedModelAnswer)
async def finalize(request: Request, model_id: str) -> Response:
    body = await json_body(request)
    model = await run_in_threadpool(
        services(request).logged_models.finalize,
        principal(request),
        model_id,
        wire.require_str(body, "status"),
    )
    return json_response({"model": wire.logged_model(model)})


@router.delete("/logged-models/{model_id}")
@documented(response=Empty)
async def delete(request: Request, model_id: str) -> Response:
    await run_in_threadpool(services(request).logged_models.delete, principal(request), model_id)
    return json_response({})


@router.patch("/logged-models/{model_id}/tags")
@documented(body=api.LoggedModelTags, response=Empty)
async def set_tags(request: Request, model_id: str) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).logged_models.set_tags,
        principal(request),
        model_id,
        dict(wire.key_values(body, "tags")),
    )
    return json_response({})


@router.delete("/logged-models/{model_id}/tags/{tag_key:path}")
@documented(response=Empty)
async def delete_tag(request: Request, model_id: str, tag_key: str) -> Response:
    await run_in_threadpool(services(request).logged_models.delete_tag, principal(request), model_id, tag_key)
    return json_response({})


@router.post("/logged-models/{model_id}/params")
@documented(body=api.LoggedModelParams, response=Empty)
async def log_params(request: Request, model_id: str) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).logged_models.log_params,
        principal(request),
        model_id,
        dict(wire.key_values(body, "params")),
    )
    return json_response({})
