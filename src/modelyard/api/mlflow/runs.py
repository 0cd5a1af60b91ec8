"""MLflow runs endpoints: lifecycle, logging, inputs/outputs, metric history, search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.body import json_body, json_response
from modelyard.api.deps import principal, services
from modelyard.api.mlflow import wire
from modelyard.api.mlflow.experiments import parse_view_type
from modelyard.api.openapi import documented
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.tracking import (
    MAX_USER_ID_LENGTH,
    CodeVersion,
    Environment,
    LifecycleStage,
    parse_int,
    validate_run_name,
    validate_text,
)
from modelyard.schemas import tracking_api as api
from modelyard.schemas.api_types import Empty

router = APIRouter()

_RUN_ID = ("run_uuid",)


_MAX_CODE_TEXT = 1000
_MAX_PACKAGES = 2000


def _code_version(raw: Any) -> CodeVersion | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidParameter("Invalid value for parameter 'code_version': expected an object.")
    dirty = raw.get("dirty")
    if dirty is not None and not isinstance(dirty, bool):
        raise InvalidParameter(
            f"Invalid value {dirty!r} for parameter 'code_version.dirty': expected a boolean."
        )
    return CodeVersion(
        repo=validate_text("code_version.repo", raw.get("repo"), _MAX_CODE_TEXT),
        commit=validate_text("code_version.commit", raw.get("commit"), _MAX_CODE_TEXT),
        branch=validate_text("code_version.branch", raw.get("branch"), _MAX_CODE_TEXT),
        dirty=dirty,
    )


def _environment(raw: Any) -> Environment | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidParameter("Invalid value for parameter 'environment': expected an object.")
    packages = raw.get("packages") or {}
    if not isinstance(packages, dict) or len(packages) > _MAX_PACKAGES:
        raise InvalidParameter(
            f"Invalid value for parameter 'environment.packages': expected an object of at most "
            f"{_MAX_PACKAGES} package names and versions."
        )
    checked = {}
    for name, version in packages.items():
        where = f"environment.packages.{name[:100]}"
        checked[name] = validate_text(where, version, _MAX_CODE_TEXT, required=True) or ""
    return Environment(
        python_version=validate_text("environment.python_version", raw.get("python_version"), _MAX_CODE_TEXT),
        platform=validate_text("environment.platform", raw.get("platform"), _MAX_CODE_TEXT),
        packages=checked,
    )


def _model_ids(body: dict[str, Any]) -> list[str]:
    """``models[].model_id`` of a log-inputs body."""
    models = body.get("models") or []
    if not isinstance(models, list):
        raise InvalidParameter("Invalid value for parameter 'models': expected a list.")
    out = []
    for i, m in enumerate(models):
        model_id = m.get("model_id") if isinstance(m, dict) else None
        checked = validate_text(f"models[{i}].model_id", model_id, wire.MAX_ID_LENGTH, required=True)
        out.append(str(checked))
    return out


@router.post("/runs/create")
@documented(body=api.CreateRun, response=api.RunAnswer)
async def create(request: Request) -> Response:
    body = await json_body(request, deep=False)
    run = await run_in_threadpool(
        services(request).tracking.create_run,
        principal(request),
        experiment_id=body.get("experiment_id") or "0",
        user_id=validate_text("user_id", body.get("user_id"), MAX_USER_ID_LENGTH) or "",
        start_time=wire.optional_int(body, "start_time"),
        tags=dict(wire.key_values(body, "tags")),
        run_name=validate_run_name(body.get("run_name")),
        code_version=_code_version(body.get("code_version")),
        environment=_environment(body.get("environment")),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return json_response({"run": wire.run(run)})


@router.get("/runs/get")
@documented(query=api.RunIdQuery, response=api.RunAnswer)
async def get(request: Request) -> Response:
    run_id = wire.require_str(request.query_params, "run_id", aliases=_RUN_ID)
    run = await run_in_threadpool(services(request).tracking.get_run, principal(request), run_id)
    return json_response({"run": wire.run(run)})


@router.post("/runs/update")
@documented(body=api.UpdateRun, response=api.RunInfoAnswer)
async def update(request: Request) -> Response:
    body = await json_body(request, deep=False)
    run = await run_in_threadpool(
        services(request).tracking.update_run,
        principal(request),
        wire.require_str(body, "run_id", aliases=_RUN_ID),
        status=wire.optional_str(body, "status"),
        end_time=wire.optional_int(body, "end_time"),
        run_name=validate_run_name(body.get("run_name")),
    )
    info = wire.run(run)["info"]
    return json_response({"run_info": info})


@router.post("/runs/delete")
@documented(body=api.RunIdBody, response=Empty)
async def delete(request: Request) -> Response:
    body = await json_body(request)
    run_id = wire.require_str(body, "run_id")
    await run_in_threadpool(
        services(request).tracking.set_run_lifecycle, principal(request), run_id, LifecycleStage.DELETED
    )
    return json_response({})


@router.post("/runs/restore")
@documented(body=api.RunIdBody, response=Empty)
async def restore(request: Request) -> Response:
    body = await json_body(request)
    run_id = wire.require_str(body, "run_id")
    await run_in_threadpool(
        services(request).tracking.set_run_lifecycle, principal(request), run_id, LifecycleStage.ACTIVE
    )
    return json_response({})


@router.post("/runs/log-metric")
@documented(body=api.LogMetric, response=Empty)
async def log_metric(request: Request) -> Response:
    body = await json_body(request, deep=False)
    run_id = wire.require_str(body, "run_id", aliases=_RUN_ID)
    metric = wire.parse_metric(body, "metric")
    await run_in_threadpool(
        services(request).tracking.log_batch, principal(request), run_id, metrics=[metric]
    )
    return json_response({})


@router.post("/runs/log-parameter")
@documented(body=api.LogParam, response=Empty)
async def log_param(request: Request) -> Response:
    body = await json_body(request, deep=False)
    run_id = wire.require_str(body, "run_id", aliases=_RUN_ID)
    key = wire.require_str(body, "key")
    value = body.get("value")
    await run_in_threadpool(
        services(request).tracking.log_batch, principal(request), run_id, params=[(key, value)]
    )
    return json_response({})


@router.post("/runs/set-tag")
@documented(body=api.SetRunTag, response=Empty)
async def set_tag(request: Request) -> Response:
    body = await json_body(request, deep=False)
    run_id = wire.require_str(body, "run_id", aliases=_RUN_ID)
    key = wire.require_str(body, "key")
    await run_in_threadpool(
        services(request).tracking.log_batch, principal(request), run_id, tags=[(key, body.get("value", ""))]
    )
    return json_response({})


@router.post("/runs/delete-tag")
@documented(body=api.DeleteRunTag, response=Empty)
async def delete_tag(request: Request) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).tracking.delete_tag,
        principal(request),
        wire.require_str(body, "run_id"),
        wire.require_str(body, "key"),
    )
    return json_response({})


@router.post("/runs/log-batch")
@documented(body=api.LogBatch, response=Empty)
async def log_batch(request: Request) -> Response:
    body = await json_body(request, deep=False)
    run_id = wire.require_str(body, "run_id")
    await run_in_threadpool(
        services(request).tracking.log_batch,
        principal(request),
        run_id,
        metrics=wire.parse_metrics(body),
        params=wire.key_values(body, "params"),
        tags=wire.key_values(body, "tags"),
    )
    return json_response({})


@router.post("/runs/log-inputs")
@documented(body=api.LogInputs, response=Empty)
async def log_inputs(request: Request) -> Response:
    body = await json_body(request)
    await run_in_threadpool(
        services(request).tracking.log_inputs,
        principal(request),
        wire.require_str(body, "run_id"),
        datasets=wire.parse_dataset_inputs(body),
        model_ids=_model_ids(body),
    )
    return json_response({})


@router.post("/runs/outputs")
@documented(body=api.LogOutputs, response=Empty)
async def log_outputs(request: Request) -> Response:
    body = await json_body(request)
    models = body.get("models") or []
    if not isinstance(models, list):
        raise InvalidParameter("Invalid value for parameter 'models': expected a list.")
    parsed = []
    for i, m in enumerate(models):
        model_id = m.get("model_id") if isinstance(m, dict) else None
        checked = validate_text(f"models[{i}].model_id", model_id, wire.MAX_ID_LENGTH, required=True)
        parsed.append((str(checked), parse_int(f"models[{i}].step", m.get("step"), default=0)))
    await run_in_threadpool(
        services(request).tracking.log_outputs,
        principal(request),
        wire.require_str(body, "run_id"),
        models=parsed,
    )
    return json_response({})


@router.post("/runs/search")
@documented(body=api.SearchRuns, body_required=False, response=api.RunsPage)
async def search(request: Request) -> Response:
    body = await json_body(request)
    runs, token = await run_in_threadpool(
        services(request).tracking.search_runs,
        principal(request),
        experiment_ids=wire.id_list(body, "experiment_ids"),
        filter_string=wire.optional_str(body, "filter"),
        view_type=parse_view_type(body.get("run_view_type")),
        max_results=wire.optional_int(body, "max_results"),
        order_by=wire.string_list(body, "order_by"),
        page_token=wire.optional_str(body, "page_token"),
    )
    out: dict[str, Any] = {}
    if runs:
        out["runs"] = [wire.run(r) for r in runs]
    if token:
        out["next_page_token"] = token
    return json_response(out)


@router.get("/metrics/get-history")
@documented(query=api.MetricHistoryQuery, response=api.MetricsPage)
async def metric_history(request: Request) -> Response:
    q = request.query_params
    points, token = await run_in_threadpool(
        services(request).tracking.metric_history,
        principal(request),
        wire.require_str(q, "run_id", aliases=_RUN_ID),
        wire.require_str(q, "metric_key"),
        max_results=wire.optional_int(q, "max_results"),
        page_token=q.get("page_token"),
    )
    out: dict[str, Any] = {}
    if len(points):
        out["metrics"] = wire.metric_points(points)
    if token:
        out["next_page_token"] = token
    return json_response(out)


@router.get("/metrics/get-history-bulk-interval")
@documented(query=api.MetricHistoryBulkQuery, response=api.MetricsPage)
async def metric_history_bulk(request: Request) -> Response:
    q = request.query_params
    flat = dict(q)
    points = await run_in_threadpool(
        services(request).tracking.metric_history_bulk_interval,
        principal(request),
        q.getlist("run_ids"),
        wire.require_str(flat, "metric_key"),
        start_step=wire.optional_int(flat, "start_step"),
        end_step=wire.optional_int(flat, "end_step"),
        max_results=wire.optional_int(flat, "max_results"),
    )
    return json_response({"metrics": [wire.metric(p, with_run=True) for p in points]} if points else {})
