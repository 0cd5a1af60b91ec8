"""What the compare page shows, built from a ``Comparison`` and the page's query string: the diff
table's sections, the chart dimensions and the choices (metrics, axes, dimensions, brushes), each read
from the URL or given its default.

A malformed choice (``x=sideways``, ``smooth=2``) is refused with a 400 naming the parameter. A
well-formed choice that these runs cannot honour (a metric none of them logged, a dimension they do not
have) is left out and said in a note on the page: a shared link keeps working after its runs change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from modelyard.domain.charts import XAxis
from modelyard.domain.compare import (
    HIDDEN_TAGS,
    ComparedRun,
    DiffRow,
    Dimension,
    DimensionKind,
    diff_rows,
    differs,
    metric_dimension,
    metric_rows,
    param_dimension,
)
from modelyard.domain.errors import InvalidParameter
from modelyard.services.tracking.compare import Comparison

X_AXES = {XAxis.STEP.value: "Step", XAxis.WALL.value: "Wall time", XAxis.RELATIVE.value: "Relative time"}
MAX_SMOOTHING = 0.99
DEFAULT_PARAM_DIMS = 6
DEFAULT_METRIC_DIMS = 2


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    rows: list[DiffRow]

    @property
    def differing(self) -> int:
        return sum(1 for row in self.rows if row.differs)


@dataclass(frozen=True, slots=True)
class RunColumn:
    run: ComparedRun
    name: str
    duration: str


@dataclass
class Choices:
    diff_only: bool = False
    metrics: list[str] = field(default_factory=list)
    x_axis: str = "step"
    log: bool = False
    smooth: float = 0.0
    zoom: tuple[float | None, float | None] = (None, None)
    scatter_x: str = ""
    scatter_y: str = ""
    dims: list[str] = field(default_factory=list)
    color: str = ""
    brushes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class CompareView:
    columns: list[RunColumn]
    attributes: dict[str, bool]  # the run section's rows: whether each differs
    sections: list[Section]
    metric_keys: list[str]
    dims: list[Dimension]
    choices: Choices

    @property
    def rows(self) -> int:
        return len(self.attributes) + sum(len(s.rows) for s in self.sections)

    @property
    def differing(self) -> int:
        return sum(self.attributes.values()) + sum(s.differing for s in self.sections)

    def data(self) -> dict[str, Any]:
        """What the page's scripts draw from (a data attribute, escaped as any attribute is)."""
        return {
            "runs": [
                {"id": c.run.run_id, "name": c.name, "experiment": c.run.experiment_name}
                for c in self.columns
            ],
            "dims": [
                {
                    "id": d.id,
                    "kind": d.kind.value,
                    "key": d.key,
                    "label": d.label,
                    "numeric": d.numeric,
                    "categories": d.categories,
                    "values": list(d.values),
                }
                for d in self.dims
            ],
        }


def duration_text(start: int, end: int | None) -> str:
    if not end or end < start:
        return "—"
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def build_view(comparison: Comparison, query: QueryParams) -> CompareView:
    runs = comparison.runs
    columns = [
        RunColumn(
            run=run, name=run.run_name or run.run_id[:8], duration=duration_text(run.start_time, run.end_time)
        )
        for run in runs
    ]
    attributes = {
        "experiment": differs(r.experiment_id for r in runs),
        "status": differs(r.status for r in runs),
        "user": differs(r.user_id for r in runs),
        "started": differs(r.start_time // 1000 for r in runs),  # as shown: to the second
        "duration": differs(c.duration for c in columns),
    }
    params = diff_rows([r.params for r in runs])
    metrics = metric_rows([r.metrics for r in runs])
    tags = diff_rows([{k: v for k, v in r.tags.items() if k not in HIDDEN_TAGS} for r in runs])
    sections = [
        Section("params", "Parameters", params),
        Section("metrics", "Latest metrics", metrics),
        Section("tags", "Tags", tags),
    ]
    dims = [param_dimension(row.key, row.values) for row in params]
    dims += [metric_dimension(row.key, [r.metrics.get(row.key) for r in runs]) for row in metrics]
    metric_keys = [row.key for row in metrics]
    choices = read_choices(query, metric_keys, dims, [row.key for row in params if row.differs])
    return CompareView(columns, attributes, sections, metric_keys, dims, choices)


# ---- the choices in the URL ----------------------------------------------------------------------
def _flag(query: QueryParams, name: str) -> bool:
    raw = query.get(name, "")
    if raw not in ("", "0", "1"):
        raise InvalidParameter(f"Invalid value '{raw[:40]}' for parameter '{name}': expected 1 or 0.")
    return raw == "1"


def _number(
    query: QueryParams, name: str, low: float | None = None, high: float | None = None
) -> float | None:
    raw = query.get(name, "")
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        bounds = f" between {low:g} and {high:g}" if low is not None and high is not None else ""
        raise InvalidParameter(
            f"Invalid value '{raw[:40]}' for parameter '{name}': expected a number{bounds}."
        )
    return value


def read_choices(
    query: QueryParams, metric_keys: list[str], dims: list[Dimension], differing: list[str]
) -> Choices:
    """The page's choices: each from the URL if it is there, else its default."""
    choices = Choices(diff_only=_flag(query, "diff"), log=_flag(query, "log"))
    x_axis = query.get("x") or "step"
    if x_axis not in X_AXES:
        raise InvalidParameter(
            f"Invalid value '{x_axis[:40]}' for parameter 'x': expected one of {', '.join(X_AXES)}."
        )
    choices.x_axis = x_axis
    choices.smooth = _number(query, "smooth", 0.0, MAX_SMOOTHING) or 0.0
    low, high = _number(query, "xmin"), _number(query, "xmax")
    if low is not None and high is not None and low > high:
        raise InvalidParameter("Invalid zoom: 'xmin' is greater than 'xmax'.")
    choices.zoom = (low, high)
    notes = choices.notes
    known_metrics = set(metric_keys)
    if "metric" in query:  # present, even empty: the user's own choice (possibly none)
        asked = [k for k in dict.fromkeys(query.getlist("metric")) if k]
        notes += [
            f"metric '{k[:80]}' is not logged by any of these runs" for k in asked if k not in known_metrics
        ]
        choices.metrics = [k for k in asked if k in known_metrics]
    else:
        choices.metrics = metric_keys[:1]
    by_id = {d.id: d for d in dims}
    choices.scatter_x, choices.scatter_y = _scatter_axes(query, dims, differing, notes)
    if "dim" in query:
        asked = [d for d in dict.fromkeys(query.getlist("dim")) if d]
        notes += [
            f"dimension '{d[:80]}' is not a param or metric of these runs" for d in asked if d not in by_id
        ]
        choices.dims = [d for d in asked if d in by_id]
    else:
        choices.dims = _default_dims(dims, differing)
    color = query.get("color")
    if color is None:
        color = next((d.id for d in dims if d.kind is DimensionKind.METRIC), "")
    elif color and (color not in by_id or not by_id[color].numeric):
        notes.append(f"colour '{color[:80]}' is not a numeric param or metric of these runs")
        color = ""
    choices.color = color
    choices.brushes = _brushes(query, set(choices.dims), notes)
    return choices


def _scatter_axes(
    query: QueryParams, dims: list[Dimension], differing: list[str], notes: list[str]
) -> tuple[str, str]:
    ids = [d.id for d in dims]
    params = [d for d in dims if d.kind is DimensionKind.PARAM]
    metrics = [d for d in dims if d.kind is DimensionKind.METRIC]
    varying = [d for d in params if d.key in differing]
    fallback: list[Dimension | None] = [*varying, *params, *metrics, None]
    x_pick = next((d for d in varying if d.numeric), None) or fallback[0]
    y_pick = next((d for d in metrics if d is not x_pick), None) or next(
        (d for d in dims if d is not x_pick), None
    )
    picks = []
    for name, default in (("sx", x_pick), ("sy", y_pick)):
        asked = query.get(name)
        if asked and asked not in ids:
            notes.append(f"scatter axis '{asked[:80]}' is not a param or metric of these runs")
            asked = None
        picks.append(asked or (default.id if default else ""))
    return picks[0], picks[1]


def _default_dims(dims: list[Dimension], differing: list[str]) -> list[str]:
    params = [d.id for d in dims if d.kind is DimensionKind.PARAM and d.key in differing]
    if not params:
        params = [d.id for d in dims if d.kind is DimensionKind.PARAM]
    metrics = [d.id for d in dims if d.kind is DimensionKind.METRIC]
    return params[:DEFAULT_PARAM_DIMS] + metrics[:DEFAULT_METRIC_DIMS]


def _brushes(query: QueryParams, chosen: set[str], notes: list[str]) -> list[str]:
    """``brush=<dimension>:<low>:<high>``, the ends as fractions of the axis (0 at its bottom)."""
    out = []
    for raw in query.getlist("brush"):
        dim, _, rest = raw.rpartition(":")
        dim, _, low_text = dim.rpartition(":")
        try:
            low, high = float(low_text), float(rest)
        except ValueError:
            low = high = math.nan
        if not (0 <= low < high <= 1) or dim not in chosen:
            notes.append(f"brush '{raw[:80]}' does not fit the chosen dimensions")
            continue
        out.append(f"{dim}:{low:g}:{high:g}")
    return out
