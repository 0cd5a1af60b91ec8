"""The data the web UI's pages fetch as JSON, under ``/ui/data/`` (docs/ui-data.md):

* ``GET series?run_id&key[&x][&min][&max][&points]``: one metric of one run for a chart, cut to the
  range and downsampled to the point budget.
* ``GET series/many?run_id=..&run_id=..&key=..[&x][&min][&max][&points]``: every key of every run.
* ``GET metric-summary?run_id=..[&key=..]``: each metric's latest point, finite minimum and maximum.
* ``GET columns?experiment_id=..``: the param, metric and tag keys the experiments' runs use, and the
  attributes the filter grammar takes.
* ``GET filter-check?filter=..``: whether a run filter parses, and where its mistake is if not.

Authenticated and authorized as every route (a run or experiment of another group answers as a
missing one); refusals are in the platform's error shape (``api.errors``). All are reads (GET), so
they need no CSRF token.
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.responses import Response

from modelyard.api.body import json_response
from modelyard.api.deps import services
from modelyard.api.openapi import documented
from modelyard.api.ui.deps import page_user
from modelyard.domain.charts import MetricSummary, NonFinite, Series, XAxis, XRange
from modelyard.domain.errors import InvalidParameter
from modelyard.schemas import ui_data as schema

router = APIRouter(prefix="/ui/data", tags=["ui"], include_in_schema=False)

_INT_RE = re.compile(r"[+-]?[0-9]{1,30}")


def _required(q: QueryParams, name: str) -> str:
    value = q.get(name)
    if not value:
        raise InvalidParameter(f"Missing value for required parameter '{name}'.")
    return value


def _number(q: QueryParams, name: str) -> float | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidParameter(f"Invalid value '{raw}' for parameter '{name}': expected a number.") from None


def _points(q: QueryParams) -> int | None:
    raw = q.get("points")
    if raw is None or raw == "":
        return None
    if not _INT_RE.fullmatch(raw):
        raise InvalidParameter(f"Invalid value '{raw}' for parameter 'points': expected a whole number.")
    return int(raw)


def _chart_args(q: QueryParams) -> dict[str, Any]:
    raw = q.get("x") or XAxis.STEP.value
    try:
        x_axis = XAxis(raw)
    except ValueError:
        names = ", ".join(a.value for a in XAxis)
        raise InvalidParameter(f"Invalid value '{raw}' for parameter 'x': expected one of {names}.") from None
    return {
        "x_axis": x_axis,
        "x_range": XRange(_number(q, "min"), _number(q, "max")),
        "points": _points(q),
    }


def _non_finite(counts: NonFinite) -> dict[str, int]:
    return {"nan": counts.nan, "inf": counts.pos_inf, "neg_inf": counts.neg_inf}


def _series(s: Series) -> dict[str, Any]:
    return {
        "run_id": s.run_id,
        "key": s.key,
        "x_axis": s.x_axis.value,
        "x": s.x,
        "y": s.y,
        "total": s.total,
        "non_finite": _non_finite(s.non_finite),
        "downsampled": s.downsampled,
        "method": s.method.value,
        "buckets": s.buckets,
        "run_start_time": s.run_start_time,
    }


def _range(x_range: XRange) -> list[float | None] | None:
    return None if x_range.whole else [x_range.low, x_range.high]


def _metric_number(value: float) -> float | str:
    """A value as the MLflow API writes it: a number, or "NaN", "Infinity", "-Infinity"."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _summary(m: MetricSummary) -> dict[str, Any]:
    return {
        "run_id": m.run_id,
        "key": m.key,
        "latest": {
            "value": _metric_number(m.latest.value),
            "step": m.latest.step,
            "timestamp": m.latest.timestamp,
        },
        "min": m.min,
        "max": m.max,
        "count": m.count,
        "non_finite": _non_finite(m.non_finite),
    }


@router.get("/series")
@documented(query=schema.SeriesQuery, response=schema.ChartSeriesAnswer)
async def series(request: Request) -> Response:
    q = request.query_params
    run_id, key = _required(q, "run_id"), _required(q, "key")
    args = _chart_args(q)
    drawn, budget = await run_in_threadpool(
        services(request).charts.series, page_user(request), run_id, key, **args
    )
    return json_response(
        {
            **_series(drawn),
            "max_points": budget,
            "points_requested": args["points"],
            "range": _range(args["x_range"]),
        }
    )


@router.get("/series/many")
@documented(query=schema.ManySeriesQuery, response=schema.ChartManyAnswer)
async def many_series(request: Request) -> Response:
    q = request.query_params
    run_ids, keys = q.getlist("run_id"), q.getlist("key")
    args = _chart_args(q)
    drawn, budget = await run_in_threadpool(
        services(request).charts.many, page_user(request), run_ids, keys, **args
    )
    return json_response(
        {
            "x_axis": args["x_axis"].value,
            "max_points": budget,
            "points_requested": args["points"],
            "range": _range(args["x_range"]),
            "series": [_series(s) for s in drawn],
        }
    )


@router.get("/metric-summary")
@documented(query=schema.SummaryQuery, response=schema.MetricSummaryAnswer)
async def metric_summary(request: Request) -> Response:
    q = request.query_params
    keys = q.getlist("key")
    found = await run_in_threadpool(
        services(request).charts.summaries, page_user(request), q.getlist("run_id"), keys or None
    )
    return json_response({"metrics": [_summary(m) for m in found]})


@router.get("/columns")
@documented(query=schema.ColumnsQuery, response=schema.RunColumnsAnswer)
async def run_columns(request: Request) -> Response:
    found = await run_in_threadpool(
        services(request).columns.run_columns,
        page_user(request),
        request.query_params.getlist("experiment_id"),
    )
    return json_response(
        {
            "experiment_ids": found.experiment_ids,
            "params": found.params,
            "metrics": found.metrics,
            "tags": found.tags,
            "attributes": list(found.attributes),
            "dataset_fields": list(found.dataset_fields),
        }
    )


@router.get("/filter-check")
@documented(query=schema.FilterQuery, response=schema.FilterCheckAnswer)
async def filter_check(request: Request) -> Response:
    checked = services(request).columns.check_filter(request.query_params.get("filter"))
    out: dict[str, Any] = {"valid": checked.valid, "clauses": checked.clauses}
    if checked.error is not None:
        e = checked.error
        out["error"] = {
            "message": e.message,
            "start": e.start,
            "end": e.end,
            "clause_start": e.clause_start,
            "clause_end": e.clause_end,
            "clause": e.clause,
        }
    return json_response(out)
