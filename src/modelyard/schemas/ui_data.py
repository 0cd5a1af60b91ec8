"""The web UI's data answers under ``/ui/data/`` (metric charts, the runs table's keys, filter checks),
as the OpenAPI document describes them. Query models: one field per query parameter, a list field being
a repeated parameter (``?run_id=a&run_id=b``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from modelyard.domain.charts import (
    DEFAULT_POINTS,
    MAX_POINTS,
    MAX_SERIES_KEYS,
    MAX_SERIES_RUNS,
    MAX_SUMMARY_KEYS,
    MAX_SUMMARY_RUNS,
    MIN_POINTS,
)
from modelyard.domain.tracking import MAX_KEY_LENGTH
from modelyard.schemas.api_types import Answer, MetricNumber

Key = Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH)]
RunId = Annotated[str, Field(min_length=1, max_length=64)]
XAxisName = Literal["step", "wall", "relative"]


class ChartQuery(BaseModel):
    x: XAxisName = Field(
        default="step",
        description="The x axis: the step, the wall-clock time (ms since the epoch) or the time since the "
        "run's start (ms).",
    )
    min: float | None = Field(default=None, description="The zoom's lower end, in the x axis' units.")
    max: float | None = Field(default=None, description="The zoom's upper end, in the x axis' units.")
    points: int | None = Field(
        default=None,
        description=f"The point budget, about twice the chart's width in pixels (default {DEFAULT_POINTS}); "
        f"brought into [{MIN_POINTS}, {MAX_POINTS}].",
    )


class SeriesQuery(ChartQuery):
    run_id: RunId
    key: Key


class ManySeriesQuery(ChartQuery):
    run_id: list[RunId] = Field(min_length=1, max_length=MAX_SERIES_RUNS)
    key: list[Key] = Field(min_length=1, max_length=MAX_SERIES_KEYS)


class SummaryQuery(BaseModel):
    run_id: list[RunId] = Field(min_length=1, max_length=MAX_SUMMARY_RUNS)
    key: list[Key] = Field(
        default_factory=list, max_length=MAX_SUMMARY_KEYS, description="Every metric of the runs if none."
    )


class ColumnsQuery(BaseModel):
    experiment_id: list[Annotated[str, Field(pattern=r"^[0-9]{1,10}$")]] = Field(min_length=1, max_length=100)


class FilterQuery(BaseModel):
    filter: str | None = Field(default=None, max_length=100_000, description="A run search filter.")


class NonFiniteCounts(BaseModel):
    nan: int
    inf: int
    neg_inf: int


class ChartSeries(Answer):
    run_id: str
    key: str
    x_axis: XAxisName
    x: list[int] = Field(description="The x of each point to draw, ascending.")
    y: list[float] = Field(description="The value of each point to draw (finite).")
    total: int = Field(description="Points in the range (exact repeats counted once), non-finite included.")
    non_finite: NonFiniteCounts = Field(
        description="Points in the range whose value is NaN, Infinity or -Infinity (not drawn)."
    )
    downsampled: bool
    method: Literal["none", "minmax"]
    buckets: int = Field(description="Buckets the range was split into (0 when not downsampled).")
    run_start_time: int = Field(description="The run's start time (ms since the epoch).")


class ChartSeriesAnswer(ChartSeries):
    max_points: int = Field(description="The point budget used (the request's, clamped).")
    points_requested: int | None = Field(description="The budget the request asked for, if any.")
    range: list[float | None] | None = Field(description="[min, max] as requested, or null.")


class ChartManyAnswer(Answer):
    x_axis: XAxisName
    max_points: int = Field(description="Each series' point budget (the request's, clamped and shared).")
    points_requested: int | None
    range: list[float | None] | None
    series: list[ChartSeries] = Field(description="Run by run, each run's keys in the order asked.")


class LatestMetricPoint(BaseModel):
    value: MetricNumber
    step: int
    timestamp: int


class MetricSummaryRow(BaseModel):
    run_id: str
    key: str
    latest: LatestMetricPoint
    min: float | None = Field(description="The lowest finite value (null if none).")
    max: float | None = Field(description="The highest finite value (null if none).")
    count: int = Field(description="Points in the history (exact repeats counted once).")
    non_finite: NonFiniteCounts


class MetricSummaryAnswer(Answer):
    metrics: list[MetricSummaryRow]


class RunColumnsAnswer(Answer):
    experiment_ids: list[str]
    params: list[str]
    metrics: list[str]
    tags: list[str]
    attributes: list[str] = Field(description="The attribute keys the filter grammar accepts.")
    dataset_fields: list[str] = Field(description="The dataset fields the filter grammar accepts.")


class FilterCheckError(BaseModel):
    message: str
    start: int = Field(description="Where the offending token starts (a character offset from 0).")
    end: int = Field(description="Where it ends (exclusive); start = end at the end of the text.")
    clause_start: int
    clause_end: int
    clause: str = Field(description="The clause (the text between ANDs) that holds the mistake.")


class FilterCheckAnswer(Answer):
    valid: bool
    clauses: int = Field(description="How many clauses a valid filter has.")
    error: FilterCheckError | None = None
