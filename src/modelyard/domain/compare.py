"""Comparing runs side by side: which runs a comparison asks for, the rows of its diff table, and each
param and latest metric as a chart dimension.

A comparison holds at most ``MAX_COMPARE_RUNS`` runs; asking for more is refused with a message, never
cut silently. A row of the diff table *differs* when its values are not all the same across the runs,
a run without the key counting as one more value. A dimension is numeric when every run that has it
has a finite number for it (params are text: "0.01" and "1e-3" are numbers, "adam" and "nan" are
not); otherwise it is categorical, its categories sorted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from modelyard.domain.errors import InvalidParameter

MAX_COMPARE_RUNS = 200
# a run id is 32 hex digits; anything that could not be one is not looked up (it is "not found")
_RUN_ID_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# tags a comparison leaves out: the run's name is the column's header, the model history is a long JSON
HIDDEN_TAGS = frozenset({"mlflow.runName", "mlflow.log-model.history"})
PARAM_PREFIX, METRIC_PREFIX = "p.", "m."


def parse_run_ids(raw: str | None) -> list[str]:
    """The run ids of ``runs=<id>,<id>,...`` in the order given, each once; more than
    MAX_COMPARE_RUNS is refused, naming the parameter and the limit."""
    ids = list(dict.fromkeys(part.strip() for part in (raw or "").split(",") if part.strip()))
    if len(ids) > MAX_COMPARE_RUNS:
        raise InvalidParameter(
            f"Too many runs to compare: 'runs' lists {len(ids):,} runs, and a comparison holds at most "
            f"{MAX_COMPARE_RUNS}. Choose at most {MAX_COMPARE_RUNS} runs (for example, filter the runs "
            "table first)."
        )
    return ids


def could_be_run_id(run_id: str) -> bool:
    return _RUN_ID_RE.fullmatch(run_id) is not None


@dataclass(frozen=True, slots=True)
class ComparedRun:
    """What a comparison shows of a run: its own fields, its params and tags, and the latest value of
    each of its metrics (NaN and the infinities as such)."""

    run_id: str
    experiment_id: str
    experiment_name: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]


# ---- the diff table ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DiffRow:
    """One key across the runs: ``values[i]`` is run i's (None: the run has no such key)."""

    key: str
    values: tuple[str | None, ...]
    differs: bool


def differs(values: Iterable[object]) -> bool:
    """Whether the values are not all the same (None, a missing value, is a value of its own; NaN
    equals NaN)."""
    seen: set[object] = set()
    for value in values:
        seen.add("\0nan" if isinstance(value, float) and math.isnan(value) else value)
        if len(seen) > 1:
            return True
    return False


def diff_rows(per_run: Sequence[Mapping[str, str]]) -> list[DiffRow]:
    """A row for each key any run has, keys sorted; ``per_run[i]`` is run i's key -> value."""
    keys = sorted(set().union(*per_run)) if per_run else []
    rows = []
    for key in keys:
        values = tuple(run.get(key) for run in per_run)
        rows.append(DiffRow(key, values, differs(values)))
    return rows


def metric_rows(per_run: Sequence[Mapping[str, float]]) -> list[DiffRow]:
    """The latest metrics as rows: values written as the shortest text that reads back as the same
    number (so two values shown alike are alike); differences decided on the numbers."""
    keys = sorted(set().union(*per_run)) if per_run else []
    rows = []
    for key in keys:
        numbers = [run.get(key) for run in per_run]
        rows.append(
            DiffRow(key, tuple(None if n is None else format_number(n) for n in numbers), differs(numbers))
        )
    return rows


def format_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


# ---- chart dimensions ----------------------------------------------------------------------------
class DimensionKind(StrEnum):
    PARAM = "param"
    METRIC = "metric"

    @property
    def prefix(self) -> str:
        return PARAM_PREFIX if self is DimensionKind.PARAM else METRIC_PREFIX


@dataclass(frozen=True, slots=True)
class Dimension:
    """A param or latest metric across the runs, as a scatter's axis or a parallel coordinate.

    ``values[i]`` is run i's: a finite float for a numeric dimension, the text for a categorical one,
    None where the run has none (or, for a metric, a non-finite latest value), which is not drawn.
    """

    kind: DimensionKind
    key: str
    numeric: bool
    values: tuple[float | str | None, ...]

    @property
    def id(self) -> str:
        return self.kind.prefix + self.key

    @property
    def label(self) -> str:
        return f"{self.kind.value}: {self.key}"

    @property
    def categories(self) -> list[str]:
        return [] if self.numeric else sorted({v for v in self.values if isinstance(v, str)})


def parse_number(text: str) -> float | None:
    """A param's value as a finite number, or None if it is not one."""
    text = text.strip()
    if not _NUMBER_RE.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def param_dimension(key: str, values: Sequence[str | None]) -> Dimension:
    numbers = [None if v is None else parse_number(v) for v in values]
    numeric = all(n is not None for n, v in zip(numbers, values, strict=True) if v is not None)
    if numeric and any(v is not None for v in values):
        return Dimension(DimensionKind.PARAM, key, True, tuple(numbers))
    return Dimension(DimensionKind.PARAM, key, False, tuple(values))


def metric_dimension(key: str, values: Sequence[float | None]) -> Dimension:
    finite = tuple(v if v is not None and math.isfinite(v) else None for v in values)
    return Dimension(DimensionKind.METRIC, key, True, finite)
