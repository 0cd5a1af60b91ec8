"""MLflow experiments endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.body import json_body, json_response
from modelyard.api.deps import principal, services
from modelyard.api.mlflow import wire
from modelyard.api.openapi import documented
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.tracking import LifecycleStage, ViewType
from modelyard.domain.values import ascii_digits
from modelyard.schemas import tracking_api as api
from modelyard.schemas.api_types import Empty

router = APIRouter()


def parse_view_type(raw: Any) -> ViewType:
    if raw in (None, ""):
        return ViewType.ACTIVE_ONLY
    if isinstance(raw, int) or (isinstance(raw, str) and ascii_digits(raw, 3)):
        by_number = {1: ViewType.ACTIVE_ONLY, 2: ViewType.DELETED_ONLY, 3: ViewType.ALL}
        if int(raw) in by_number:
            return by_number[int(raw)]
    elif isinstance(raw, str) and raw.upper() in ViewType.__members__:
        return ViewType[raw.upper()]
    raise InvalidParameter(
        f"Invalid value '{raw}' for parameter 'view_type': use ACTIVE_ONLY, DELETED_ONLY or ALL."
    )


@router.post("/experiments/create")
@documented(body=api.CreateExperiment, response=api.ExperimentIdAnswer)
async def create(request: Request) -> Response:
    body = await json_body(request)
    eid = await run_in_threadpool(
        services(request).experiments.create_experiment,
        principal(request),
        name=wire.require_str(body, "name"),
        artifact_location=wire.optional_str(body, "artifact_location"),
        tags=dict(wire.key_values(body, "tags")),
        project=wire.optional_id_or_name(body, "project"),
    )
    return json_response({"experiment_id": eid})


@router.get("/experiments/get")
@documented(query=api.ExperimentIdQuery, response=api.ExperimentAnswer)
async def get(request: Request) -> Response:
    eid = wire.require_str(request.query_params, "experiment_id")
    exp = await run_in_threadpool(services(request).experiments.get_experiment, principal(request), eid)
    return json_response({"experiment": wire.experiment(exp)})


@router.get("/experiments/get-by-name")
@documented(query=api.ExperimentNameQuery, response=api.ExperimentAnswer)
async def get_by_name(request: Request) -> Response:
    name = wire.require_str(request.query_params, "experiment_name")
    exp = await run_in_threadpool(
        services(request).experiments.get_experiment_by_name, principal(request), name
    )
    return json_response({"experiment": wire.experiment(exp)})


async def _search(request: Request, body: Mapping[str, Any], order_by: list[str]) -> Response:
    experiments, token = await run_in_threadpool(
        services(request).experiments.search,
        principal(request),
        view_type=parse_view_type(body.get("view_type")),
        max_results=wire.optional_int(body, "max_results"),
        filter_string=wire.optional_str(body, "filter"),
        order_by=order_by,
        page_token=wire.optional_str(body, "page_token"),
    )
    out: dict[str, Any] = {}
    if experiments:
        out["experiments"] = [wire.experiment(e) for e in experiments]
    if token:
        out["next_page_token"] = token
    return json_response(out)


@router.post("/experiments/search")
@documented(body=api.SearchExperiments, body_required=False, response=api.ExperimentsPage)
async def search_post(request: Request) -> Response:
    body = await json_body(request)
    return await _search(request, body, wire.string_list(body, "order_by"))


@router.get("/experiments/search")
@documented(query=api.SearchExperimentsQuery, response=api.ExperimentsPage)
async def search_get(request: Request) -> Response:
    q = request.query_params
    return await _search(request, q, q.getlist("order_by"))


@router.post("/experiments/update")
@documented(body=api.UpdateExperiment, response=Empty)
async def update(request: Request) -> Response:
    body = await json_body(request)
    eid = wire.require_str(body, "experiment_id")
    new_name = wire.optional_str(body, "new_name")
    if new_name is not None:
        await run_in_threadpool(
            services(request).experiments.rename_experiment, principal(request), eid, new_name
        )
    return json_response({})


@router.post("/experiments/delete")
@documented(body=api.ExperimentIdBody, response=Empty)
async def delete(request: Request) -> Response:
    body = await json_body(request)
    eid = wire.require_str(body, "experiment_id")
    await run_in_threadpool(
        services(request).experiments.set_lifecycle, principal(request), eid, LifecycleStage.DELETED
    )
    return json_response({})


@router.post("/experiments/restore")
@documented(body=api.ExperimentIdBody, response=Empty)
async def restore(request: Request) -> Response:
    body = await json_body(request)
    eid = wire.require_str(body, "experiment_id")
    await run_in_threadpool(
        services(request).experiments.set_lifecycle, principal(request), eid, LifecycleStage.ACTIVE
    )
    return json_response({})


@router.post("/experiments/set-experiment-tag")
@documented(body=api.SetExperimentTag, response=Empty)
async def set_tag(request: Request) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).experiments.set_tag,
        principal(request),
        wire.require_str(body, "experiment_id"),
        wire.require_str(body, "key"),
        body.get("value", ""),
    )
    return json_response({})


@router.post("/experiments/delete-experiment-tag")
@documented(body=api.DeleteExperimentTag, response=Empty)
async def delete_tag(request: Request) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).experiments.delete_tag,
        principal(request),
        wire.require_str(body, "experiment_id"),
        wire.require_str(body, "key"),
    )
    return json_response({})
