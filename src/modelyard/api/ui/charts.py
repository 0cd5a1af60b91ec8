"""The settings of the run page's charts, read from the URL (the URL is the state; ``static/js/run.js``
writes it back as they change):

* ``x``: ``step`` (default), ``wall`` (wall-clock time) or ``relative`` (time since the run's start);
* ``log=1``: a logarithmic y axis;
* ``smooth``: the weight of the exponential moving average drawn over each line, 0 (none) to 0.99;
* ``chart``: one per chart, the metric keys it draws separated by commas (keys never hold a comma);
  none: one chart per metric.

A bad value is a 400 page naming the parameter; a metric the run does not have is left out with a
notice (a URL shared from another run), and a chart asking for more metrics than one chart draws is
cut with a notice: nothing is dropped without saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from starlette.datastructures import QueryParams

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.tracking import Run

X_AXES = ("step", "wall", "relative")
MAX_KEYS_PER_CHART = 10  # what one request of the chart data takes (/ui/data/series/many)
MAX_SMOOTH = 0.99


@dataclass(slots=True)
class ChartSettings:
    x: str
    log: bool
    smooth: float
    charts: list[list[str]]  # the metric keys of each chart, in order
    chosen: bool  # the charts came from the URL (else: one per metric)
    metric_keys: list[str]  # every metric of the run, sorted
    notices: list[str] = field(default_factory=list)


def _flag(q: QueryParams, name: str) -> bool:
    raw = (q.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise InvalidParameter(f"Invalid value '{raw}' for parameter '{name}': expected 1 or 0.")


def _smooth(q: QueryParams) -> float:
    raw = (q.get("smooth") or "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_SMOOTH:  # NaN fails too
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'smooth': expected a number from 0 to {MAX_SMOOTH}."
        )
    return value


def settings(q: QueryParams, run: Run) -> ChartSettings:
    x = q.get("x") or X_AXES[0]
    if x not in X_AXES:
        raise InvalidParameter(f"Invalid value '{x}' for parameter 'x': expected one of {', '.join(X_AXES)}.")
    keys = sorted({m.key for m in run.metrics})
    out = ChartSettings(
        x=x, log=_flag(q, "log"), smooth=_smooth(q), charts=[], chosen=False, metric_keys=keys
    )
    known = set(keys)
    missing: list[str] = []
    for number, raw in enumerate(q.getlist("chart"), start=1):
        wanted = list(dict.fromkeys(k.strip() for k in raw.split(",") if k.strip()))
        missing += [k for k in wanted if k not in known and k not in missing]
        present = [k for k in wanted if k in known]
        if len(present) > MAX_KEYS_PER_CHART:
            out.notices.append(
                f"Chart {number} asked for {len(present)} metrics; a chart draws at most "
                f"{MAX_KEYS_PER_CHART}, so it shows the first {MAX_KEYS_PER_CHART}. Put the others on "
                "another chart with the chooser."
            )
            present = present[:MAX_KEYS_PER_CHART]
        if present:
            out.charts.append(present)
    if missing:
        shown = ", ".join(f"'{k}'" for k in missing[:20]) + (" …" if len(missing) > 20 else "")
        out.notices.append(f"This run has no metric {shown}: left out of the charts.")
    out.chosen = bool(q.getlist("chart"))
    if not out.chosen:
        out.charts = [[k] for k in keys]
    return out
