"""Metric charts: what a chart asks for (an x axis, a range, a point budget) and what it gets back.

A chart never needs more points than it has pixels: a long history is downsampled on the server to a
point budget of about twice the chart's width. The method keeps, per x bucket, the first, last, lowest
and highest point, so a spike is never lost and the line's envelope is the history's. Non-finite
values (NaN, ±Infinity) cannot be drawn: they are left out of the points (and of every minimum and
maximum) and counted instead. Nothing is capped silently: an answer says how many points the range
holds, how many it returns, and the budget it was given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from modelyard.domain.errors import InvalidParameter


class XAxis(StrEnum):
    STEP = "step"  # the point's step
    WALL = "wall"  # the point's timestamp, milliseconds since the epoch
    RELATIVE = "relative"  # milliseconds since the run's start time


class Method(StrEnum):
    NONE = "none"  # every point of the range
    MINMAX = "minmax"  # first, last, min and max per x bucket


DEFAULT_POINTS = 1000
MIN_POINTS = 100
MAX_POINTS = 5000
POINTS_PER_BUCKET = 4  # first, last, min, max
MAX_SERIES_RUNS = 200
MAX_SERIES_KEYS = 10
# What one answer with several series may hold in all: each series' budget is cut to share it.
MANY_SERIES_POINT_BUDGET = 500_000
MAX_SUMMARY_RUNS = 200
MAX_SUMMARY_KEYS = 100


def clamp_points(requested: int | None) -> int:
    """The point budget for a request: ``requested`` brought into [MIN_POINTS, MAX_POINTS]."""
    if requested is None:
        return DEFAULT_POINTS
    return min(MAX_POINTS, max(MIN_POINTS, requested))


def share_points(points: int, series: int) -> int:
    """Each series' budget when ``series`` of them share one answer (never below MIN_POINTS)."""
    return max(MIN_POINTS, min(points, MANY_SERIES_POINT_BUDGET // max(series, 1)))


@dataclass(frozen=True, slots=True)
class XRange:
    """A closed range of x values (the chart's zoom); either end may be open."""

    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("min", self.low), ("max", self.high)):
            if value is not None and not math.isfinite(value):
                raise InvalidParameter(f"Invalid value for parameter '{name}': expected a finite number.")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InvalidParameter(
                f"Invalid range: 'min' ({self.low:g}) is greater than 'max' ({self.high:g})."
            )

    @property
    def whole(self) -> bool:
        return self.low is None and self.high is None


@dataclass(frozen=True, slots=True)
class NonFinite:
    nan: int = 0
    pos_inf: int = 0
    neg_inf: int = 0

    @property
    def total(self) -> int:
        return self.nan + self.pos_inf + self.neg_inf


@dataclass(frozen=True, slots=True)
class Series:
    """One metric of one run as a chart draws it. ``total`` counts the range's points (exact repeats of
    a point dropped, as in the metric's history), non-finite ones included; ``x``/``y`` are what to draw."""

    run_id: str
    key: str
    x_axis: XAxis
    x: list[int]
    y: list[float]
    total: int
    non_finite: NonFinite
    method: Method
    buckets: int
    run_start_time: int

    @property
    def downsampled(self) -> bool:
        return self.method is not Method.NONE


@dataclass(frozen=True, slots=True)
class LatestPoint:
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """A metric of a run at a glance: its latest point, and its lowest and highest finite values
    (None when it has none), over its whole history."""

    run_id: str
    key: str
    latest: LatestPoint
    min: float | None
    max: float | None
    count: int
    non_finite: NonFinite = field(default_factory=NonFinite)
