"""The runs table's vocabulary: which columns it can show, how a column is named in a URL, and how
the table is sorted.

A column is written ``<kind>:<key>`` (``param:lr``, ``metric:val loss``, ``min:loss``,
``max:loss``, ``tag:team``) or, for an attribute, by its bare name (``name``, ``start_time``,
``duration``...). Keys never hold a comma (``validate_key``), so a list of columns is written
comma-separated in one query parameter. Attributes are the run's own fields plus two derived
ones: ``duration`` (end minus start, none while running) and ``source`` (the
``mlflow.source.name`` tag). A metric's ``min`` and ``max`` are over its whole history; they are
shown but cannot sort the table, because no index holds them (the latest value, ``metric:``, can).

Sorting puts runs that lack the value last in both directions, and a NaN metric after every
number but before a missing one; ties are broken by the run id, in the sort's direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from modelyard.domain.errors import InvalidParameter

SOURCE_TAG = "mlflow.source.name"
MAX_COLUMNS = 60


class ColumnKind(StrEnum):
    ATTRIBUTE = "attr"
    PARAM = "param"
    METRIC = "metric"
    METRIC_MIN = "min"
    METRIC_MAX = "max"
    TAG = "tag"


@dataclass(frozen=True, slots=True)
class Attribute:
    label: str
    numeric: bool = False


ATTRIBUTES: dict[str, Attribute] = {
    "name": Attribute("Name"),
    "status": Attribute("Status"),
    "start_time": Attribute("Started", numeric=True),
    "end_time": Attribute("Ended", numeric=True),
    "duration": Attribute("Duration", numeric=True),
    "user_id": Attribute("User"),
    "source": Attribute("Source"),
    "experiment_id": Attribute("Experiment", numeric=True),
    "run_id": Attribute("Run id"),
}
_PREFIXES = {kind.value: kind for kind in ColumnKind if kind is not ColumnKind.ATTRIBUTE}
KIND_LABELS = {
    ColumnKind.PARAM: "param",
    ColumnKind.METRIC: "metric",
    ColumnKind.METRIC_MIN: "min",
    ColumnKind.METRIC_MAX: "max",
    ColumnKind.TAG: "tag",
}


@dataclass(frozen=True, slots=True)
class Column:
    kind: ColumnKind
    key: str

    @property
    def id(self) -> str:
        """How the column is written in a URL."""
        return self.key if self.kind is ColumnKind.ATTRIBUTE else f"{self.kind.value}:{self.key}"

    @property
    def label(self) -> str:
        if self.kind is ColumnKind.ATTRIBUTE:
            return ATTRIBUTES[self.key].label
        if self.kind in (ColumnKind.METRIC_MIN, ColumnKind.METRIC_MAX):
            return f"{self.key} ({self.kind.value})"
        return self.key

    @property
    def sortable(self) -> bool:
        return self.kind not in (ColumnKind.METRIC_MIN, ColumnKind.METRIC_MAX)

    @property
    def numeric(self) -> bool:
        if self.kind is ColumnKind.ATTRIBUTE:
            return ATTRIBUTES[self.key].numeric
        return self.kind in (ColumnKind.METRIC, ColumnKind.METRIC_MIN, ColumnKind.METRIC_MAX)


@dataclass(frozen=True, slots=True)
class Sort:
    column: Column
    ascending: bool


DEFAULT_SORT = Sort(Column(ColumnKind.ATTRIBUTE, "start_time"), ascending=False)
NAME = Column(ColumnKind.ATTRIBUTE, "name")


def parse_column(text: str, *, what: str = "cols") -> Column:
    """One column id; a bad one is refused naming the parameter it came in."""
    raw = text.strip()
    prefix, colon, key = raw.partition(":")
    if colon:
        kind = _PREFIXES.get(prefix)
        if kind is None:
            kinds = ", ".join(sorted(_PREFIXES))
            raise InvalidParameter(
                f"Invalid column '{raw}' in parameter '{what}': '{prefix}' is not a column kind; "
                f"write <kind>:<key> with a kind among {kinds}, or an attribute name."
            )
        if not key:
            raise InvalidParameter(
                f"Invalid column '{raw}' in parameter '{what}': the key after '{prefix}:' is empty."
            )
        return Column(kind, key)
    if raw not in ATTRIBUTES:
        names = ", ".join(ATTRIBUTES)
        raise InvalidParameter(
            f"Invalid column '{raw}' in parameter '{what}': not an attribute (attributes: {names}); "
            "params, metrics and tags are written param:<key>, metric:<key>, tag:<key>."
        )
    return Column(ColumnKind.ATTRIBUTE, raw)


def parse_columns(text: str | None) -> list[Column] | None:
    """A comma-separated list of columns, without repeats; None when the parameter is absent (the
    table then shows its default columns)."""
    if text is None:
        return None
    out: list[Column] = []
    for part in text.split(","):
        if part.strip():
            column = parse_column(part)
            if column not in out and column != NAME:  # the name column is always shown, first
                out.append(column)
    if len(out) > MAX_COLUMNS:
        raise InvalidParameter(
            f"Too many columns in parameter 'cols': {len(out)}; the table shows at most {MAX_COLUMNS}."
        )
    return out


def parse_sort(column: str | None, direction: str | None) -> Sort:
    """``sort`` (a column id) and ``dir`` (``asc`` or ``desc``); the default is newest first."""
    if not column:
        if direction not in (None, "", "asc", "desc"):
            raise InvalidParameter(f"Invalid value '{direction}' for parameter 'dir': expected asc or desc.")
        ascending = DEFAULT_SORT.ascending if not direction else direction == "asc"
        return Sort(DEFAULT_SORT.column, ascending)
    parsed = parse_column(column, what="sort")
    if not parsed.sortable:
        raise InvalidParameter(
            f"Invalid value '{column}' for parameter 'sort': a metric's min and max cannot sort the table; "
            f"sort by its latest value, metric:{parsed.key}."
        )
    if direction not in (None, "", "asc", "desc"):
        raise InvalidParameter(f"Invalid value '{direction}' for parameter 'dir': expected asc or desc.")
    return Sort(parsed, ascending=direction != "desc")


def default_columns(params: list[str], metrics: list[str], *, several_experiments: bool) -> list[Column]:
    """Status, start, duration, the first three params and metrics (by name); the name column is
    always the first and is not listed."""
    attrs = ["status", "start_time", "duration"]
    if several_experiments:
        attrs.insert(0, "experiment_id")
    return [
        *(Column(ColumnKind.ATTRIBUTE, a) for a in attrs),
        *(Column(ColumnKind.PARAM, k) for k in sorted(params)[:3]),
        *(Column(ColumnKind.METRIC, k) for k in sorted(metrics)[:3]),
    ]
