"""Metric charts for the web UI: histories cut to a range and downsampled to a point budget, several
series in one call (the compare page), and each metric's latest, lowest and highest value.

Runs are authorized as the MLflow API's history reads them (``RunReads.metric_history``): the viewer
role in the run's group, a run of another group answered exactly like a missing one. Points come from
``storage.chart_sql``; the cut and the downsampling (``downsample.minmax_indices``) run in numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from modelyard.domain.charts import (
    MAX_SERIES_KEYS,
    MAX_SERIES_RUNS,
    MAX_SUMMARY_KEYS,
    MAX_SUMMARY_RUNS,
    POINTS_PER_BUCKET,
    LatestPoint,
    Method,
    MetricSummary,
    NonFinite,
    Series,
    XAxis,
    XRange,
    clamp_points,
    share_points,
)
from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.values import INT64_MAX, INT64_MIN
from modelyard.services.tracking.downsample import minmax_indices
from modelyard.storage import chart_sql
from modelyard.storage.chart_sql import EMPTY, Points, RunScope
from modelyard.storage.db import Database
from modelyard.storage.run_writes import run_not_found


class ChartService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def series(
        self,
        actor: Principal,
        run_id: str,
        key: str,
        *,
        x_axis: XAxis = XAxis.STEP,
        x_range: XRange | None = None,
        points: int | None = None,
    ) -> tuple[Series, int]:
        """One metric of one run, and the point budget it was drawn with (``points`` clamped)."""
        drawn, budget = self.many(actor, [run_id], [key], x_axis=x_axis, x_range=x_range, points=points)
        return drawn[0], budget

    def many(
        self,
        actor: Principal,
        run_ids: Sequence[str],
        keys: Sequence[str],
        *,
        x_axis: XAxis = XAxis.STEP,
        x_range: XRange | None = None,
        points: int | None = None,
    ) -> tuple[list[Series], int]:
        """Every key of every run (run by run, keys in the order given), each with the same budget: the
        clamped ``points``, cut so that all of them together stay within MANY_SERIES_POINT_BUDGET."""
        run_ids, keys = _distinct(run_ids, "run_id", MAX_SERIES_RUNS), _distinct(keys, "key", MAX_SERIES_KEYS)
        x_range = x_range or XRange()
        budget = share_points(clamp_points(points), len(run_ids) * len(keys))
        low, high = _step_bounds(x_range) if x_axis is XAxis.STEP else (None, None)
        with self.db.read() as s:
            scopes = _authorize(s, actor, run_ids)
            loaded = chart_sql.load_points(s, run_ids, keys, min_step=low, max_step=high)
        drawn = [
            _draw(loaded.get((run_id, key), EMPTY), run_id, key, scopes[run_id], x_axis, x_range, budget)
            for run_id in run_ids
            for key in keys
        ]
        return drawn, budget

    def summaries(
        self, actor: Principal, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> list[MetricSummary]:
        """The latest point and the finite minimum and maximum of the metrics of the runs (all of each
        run's metrics when ``keys`` is None), run by run, keys sorted."""
        run_ids = _distinct(run_ids, "run_id", MAX_SUMMARY_RUNS)
        wanted = None if keys is None else _distinct(keys, "key", MAX_SUMMARY_KEYS)
        with self.db.read() as s:
            _authorize(s, actor, run_ids)
            latest = chart_sql.latest_points(s, run_ids, wanted)
            found = sorted({row[1] for row in latest})
            loaded = chart_sql.load_points(s, run_ids, found)
        order = {run_id: i for i, run_id in enumerate(run_ids)}
        latest.sort(key=lambda row: (order[row[0]], row[1]))
        out = []
        for run_id, key, value, timestamp, step, is_nan in latest:
            points = loaded.get((run_id, key), EMPTY)
            finite = points.values[np.isfinite(points.values)]
            out.append(
                MetricSummary(
                    run_id=run_id,
                    key=key,
                    latest=LatestPoint(math.nan if is_nan else value, step, timestamp),
                    min=float(finite.min()) if len(finite) else None,
                    max=float(finite.max()) if len(finite) else None,
                    count=len(points),
                    non_finite=_non_finite(points.values),
                )
            )
        return out


def _distinct(values: Sequence[str], name: str, limit: int) -> list[str]:
    out = list(dict.fromkeys(values))
    if not out or not all(out):
        raise InvalidParameter(f"Missing value for required parameter '{name}'.")
    if len(out) > limit:
        raise InvalidParameter(
            f"Too many values for parameter '{name}': {len(out)}; at most {limit} in one request."
        )
    return out


def _authorize(s: Session, actor: Principal, run_ids: Sequence[str]) -> dict[str, RunScope]:
    """Each run's scope, after the history read's check: viewer in its group, hidden like missing."""
    scopes = chart_sql.run_scopes(s, run_ids)
    for run_id in run_ids:
        scope = scopes.get(run_id)
        if scope is None:
            raise NotFound(run_not_found(run_id))
        actor.require(scope.group_id, Role.VIEWER, what=f"Run {run_id}", missing=run_not_found(run_id))
    return scopes


def _step_bounds(x_range: XRange) -> tuple[int | None, int | None]:
    """The whole steps in the range, as int64 bounds for the chunk query."""
    low = None if x_range.low is None else min(max(math.ceil(x_range.low), INT64_MIN), INT64_MAX)
    high = None if x_range.high is None else min(max(math.floor(x_range.high), INT64_MIN), INT64_MAX)
    return low, high


def _non_finite(values: NDArray[np.float64]) -> NonFinite:
    return NonFinite(
        nan=int(np.count_nonzero(np.isnan(values))),
        pos_inf=int(np.count_nonzero(values == math.inf)),
        neg_inf=int(np.count_nonzero(values == -math.inf)),
    )


def _axis(points: Points, x_axis: XAxis, start_time: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The x and y of the points along ``x_axis``, ascending in x."""
    if x_axis is XAxis.STEP:
        return points.steps, points.values
    x = points.stamps if x_axis is XAxis.WALL else points.stamps - np.int64(start_time)
    if len(x) > 1 and not np.all(x[1:] >= x[:-1]):
        order = np.lexsort((points.steps, x))  # by time, then step (stable: the history's order)
        return x[order], points.values[order]
    return x, points.values


def _draw(
    points: Points, run_id: str, key: str, scope: RunScope, x_axis: XAxis, x_range: XRange, budget: int
) -> Series:
    x, y = _axis(points, x_axis, scope.start_time)
    if not x_range.whole:
        inside = np.ones(len(x), np.bool_)
        if x_range.low is not None:
            inside &= x >= x_range.low
        if x_range.high is not None:
            inside &= x <= x_range.high
        x, y = x[inside], y[inside]
    finite = np.isfinite(y)
    non_finite = _non_finite(y)
    total = len(x)
    if non_finite.total:
        x, y = x[finite], y[finite]
    method, buckets = Method.NONE, 0
    if len(x) > budget:
        buckets = budget // POINTS_PER_BUCKET
        low = x_range.low if x_range.low is not None else x[0]
        high = x_range.high if x_range.high is not None else x[-1]
        keep = minmax_indices(x, y, buckets, float(low), float(high))
        x, y, method = x[keep], y[keep], Method.MINMAX
    return Series(
        run_id=run_id,
        key=key,
        x_axis=x_axis,
        x=x.tolist(),
        y=y.tolist(),
        total=total,
        non_finite=non_finite,
        method=method,
        buckets=buckets,
        run_start_time=scope.start_time,
    )
