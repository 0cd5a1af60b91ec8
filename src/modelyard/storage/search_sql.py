"""Run and experiment search as SQL: a parsed filter and ordering become a SELECT of ids.

Works the same on SQLite and PostgreSQL, with MLflow's SQL-store semantics:

- a metric clause compares the run's latest value; a NaN metric satisfies only ``!=``;
- a metric, param or tag clause needs the key to exist (``params.p != 'x'`` skips runs without
  ``p``); ``IS NULL`` means the key is absent, ``IS NOT NULL`` that it is present;
- LIKE is case-sensitive on both databases (GLOB on SQLite, where LIKE ignores case), ILIKE is
  not (on SQLite only ASCII letters fold); in both, a backslash escapes ``%``, ``_`` or itself;
- a dataset clause matches runs with at least one input dataset whose name, digest or context
  (the input tag ``mlflow.data.context``) satisfies it;
- ordering puts runs that lack the key last in either direction, and a NaN metric after every
  number but before a missing one; text sorts by code point (``COLLATE "C"`` on PostgreSQL);
  ties break on ``start_time DESC`` (unless ordered by start time) and then ``run_uuid``.

Which of two shapes a search ordered by a metric takes (reading every run in scope, or walking the
metric's index: ``Lead``), and the caching of the statements, are ``storage.run_search``'s.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

from sqlalchemy import (
    Select,
    SQLColumnExpression,
    Subquery,
    Table,
    and_,
    case,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.search import Comparison, Entity, Op, OrderBy, Value
from modelyard.storage.orm import (
    DatasetRow,
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    ParamRow,
    RunInputRow,
    RunRow,
    TagRow,
)

DATASET_CONTEXT_TAG = "mlflow.data.context"

# Core tables, not the ORM classes: an ORM attribute or alias in an expression is adapted on every use,
# which cost about as much as SQLite's running of a search over 1,000 runs.
RUNS: Table = RunRow.__table__  # type: ignore[assignment]
_PARAMS: Table = ParamRow.__table__  # type: ignore[assignment]
_TAGS: Table = TagRow.__table__  # type: ignore[assignment]
_METRICS: Table = LatestMetricRow.__table__  # type: ignore[assignment]

_RUN_COLUMNS: dict[str, SQLColumnExpression[Any]] = {
    "run_id": RUNS.c.run_uuid,
    "run_name": RUNS.c.name,
    "status": RUNS.c.status,
    "user_id": RUNS.c.user_id,
    "artifact_uri": RUNS.c.artifact_uri,
    "lifecycle_stage": RUNS.c.lifecycle_stage,
    "start_time": RUNS.c.start_time,
    "end_time": RUNS.c.end_time,
}
_EXPERIMENT_COLUMNS: dict[str, SQLColumnExpression[Any]] = {
    "name": ExperimentRow.__table__.c.name,
    "experiment_id": ExperimentRow.__table__.c.experiment_id,
    "creation_time": ExperimentRow.__table__.c.creation_time,
    "last_update_time": ExperimentRow.__table__.c.last_update_time,
}
_NUMERIC_COMPARE: dict[Op, Callable[[Any, Any], Any]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


# ---- shared pieces ------------------------------------------------------------------------------


def _like_pattern(pattern: str, *, glob: bool) -> str:
    """Rewrite a LIKE pattern (``%``, ``_``, backslash escapes) as a GLOB or a ``\\``-escaped LIKE."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "%":
            out.append("*" if glob else "%")
        elif char == "_":
            out.append("?" if glob else "_")
        else:
            literal = next(chars, "\\") if char == "\\" else char
            if glob:
                out.append(f"[{literal}]" if literal in "*?[" else literal)
            else:
                out.append(f"\\{literal}" if literal in "%_\\" else literal)
    return "".join(out)


def _ordinal(column: Any, op: Op, value: Any) -> SQLColumnExpression[bool]:
    result: SQLColumnExpression[bool] = _NUMERIC_COMPARE[op](column, value)
    return result


def _compare(
    column: SQLColumnExpression[Any], op: Op, value: Value, dialect: str
) -> SQLColumnExpression[bool]:
    if op in _NUMERIC_COMPARE:
        return _ordinal(column, op, value)
    if op is Op.IN:
        return column.in_(_strings(value))
    if op is Op.NOT_IN:
        return column.not_in(_strings(value))
    pattern = str(value)
    if op is Op.ILIKE:
        return column.ilike(_like_pattern(pattern, glob=False), escape="\\")
    if op is Op.LIKE and dialect == "sqlite":
        return column.op("GLOB", is_comparison=True)(_like_pattern(pattern, glob=True))
    if op is Op.LIKE:
        return column.like(_like_pattern(pattern, glob=False), escape="\\")
    raise InvalidParameter(f"Comparator '{op}' cannot be used here.")


def _strings(value: Value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (str(value),)


def _sortable_text(column: SQLColumnExpression[Any], dialect: str) -> SQLColumnExpression[Any]:
    """Text in code-point order on both databases (PostgreSQL's default collation may differ)."""
    return column.collate("C") if dialect == "postgresql" else column


def _direction(column: SQLColumnExpression[Any], ascending: bool) -> SQLColumnExpression[Any]:
    return column.asc() if ascending else column.desc()


def check_page(max_results: int, offset: int) -> None:
    if max_results < 0 or offset < 0:
        raise InvalidParameter("max_results and the page offset must not be negative.")


# ---- runs ---------------------------------------------------------------------------------------


def _not_nan(metric: Any) -> SQLColumnExpression[bool]:
    # Equivalent to "not is_nan" (NaN is stored as 0), but only rows whose value is exactly 0 need
    # the table row: every other row is decided from the (key, value, run_uuid) index alone.
    return or_(metric.c.value != 0, metric.c.is_nan == false())


def _bounded(own: Sequence[Comparison]) -> bool:
    """Whether a metric's filters bound its value (any comparison but "!=")."""
    return any(c.op is not Op.NE for c in own)


def _metric_test(metric: Any, clause: Comparison) -> SQLColumnExpression[bool]:
    """NaN satisfies "!=" and nothing else; the NaN test is added only where the stored 0 would
    otherwise decide wrongly."""
    test = _ordinal(metric.c.value, clause.op, clause.value)
    zero_passes = bool(_NUMERIC_COMPARE[clause.op](0.0, clause.value))
    if clause.op is Op.NE:
        return test if zero_passes else or_(test, metric.c.is_nan == true())
    return and_(test, _not_nan(metric)) if zero_passes else test


class Lead(Enum):
    """How the first order key, a metric, leads a metric-first query. Runs ordered by a metric fall
    in three tiers, numbers then NaN then missing, whatever the direction: without a filter on the
    metric each tier is read by its own query; with one, only numbers (and NaN for "!=") remain."""

    FILTERED = "filtered"
    NUMBER = "number"
    NAN = "nan"
    MISSING = "missing"


class RunQuery:
    """Builds one run search SELECT. ``anchor`` is the run_uuid the filter probes correlate to: the
    first inner-joined order metric when there is one, so SQLite tests them before reading ``runs``."""

    def __init__(self, dialect: str, scope: Sequence[SQLColumnExpression[bool]]) -> None:
        self.dialect = dialect
        self.stmt = select(RUNS.c.run_uuid).where(*scope)
        self.anchor: SQLColumnExpression[str] = RUNS.c.run_uuid
        self.keys: list[SQLColumnExpression[Any]] = []

    def filter(self, clause: Comparison) -> None:
        if clause.entity is Entity.METRIC:
            metric = _METRICS.alias()
            probe = select(metric.c.run_uuid).where(
                metric.c.run_uuid == self.anchor, metric.c.key == clause.key, _metric_test(metric, clause)
            )
            self.stmt = self.stmt.where(probe.exists())
        elif clause.entity in (Entity.PARAM, Entity.TAG):
            row = _PARAMS if clause.entity is Entity.PARAM else _TAGS
            self.stmt = self.stmt.where(self._key_value(row, clause))
        elif clause.entity is Entity.DATASET:
            self.stmt = self.stmt.where(self._dataset(clause))
        else:
            self.stmt = self.stmt.where(
                _compare(_run_column(clause.key), clause.op, clause.value, self.dialect)
            )

    def _key_value(self, row: Any, clause: Comparison) -> SQLColumnExpression[bool]:
        """params/tags: a correlated probe of the (run_uuid, key) primary key."""
        probe = select(row.c.run_uuid).where(row.c.run_uuid == self.anchor, row.c.key == clause.key)
        if clause.op is Op.IS_NULL:
            return ~probe.exists()
        if clause.op is not Op.IS_NOT_NULL:
            probe = probe.where(_compare(row.c.value, clause.op, clause.value, self.dialect))
        return probe.exists()

    def _dataset(self, clause: Comparison) -> SQLColumnExpression[bool]:
        probe = select(RunInputRow.run_uuid).where(RunInputRow.run_uuid == self.anchor)
        if clause.key == "context":
            column: SQLColumnExpression[Any] = RunInputRow.tags[DATASET_CONTEXT_TAG].as_string()
        else:
            probe = probe.join(DatasetRow, DatasetRow.dataset_uuid == RunInputRow.dataset_uuid)
            column = DatasetRow.__table__.c[clause.key]
        return probe.where(_compare(column, clause.op, clause.value, self.dialect)).exists()

    def _join_metric(self, key: str, *, hint: bool) -> Any:
        """An inner join of one metric, walked in index order."""
        metric = _METRICS.alias()
        on = and_(metric.c.run_uuid == RUNS.c.run_uuid, metric.c.key == key, *_walk_hint(metric, hint))
        self.stmt = self.stmt.join(metric, on)
        if self.anchor is RUNS.c.run_uuid:
            self.anchor = metric.c.run_uuid
        return metric

    def lead_metric(self, order: OrderBy, own: list[Comparison], lead: Lead) -> None:
        """The first order key, read in index order (``own``: its filters, for ``FILTERED``)."""
        if lead is Lead.MISSING:
            metric = _METRICS.alias()
            probe = select(metric.c.run_uuid).where(
                metric.c.run_uuid == RUNS.c.run_uuid, metric.c.key == order.key
            )
            self.stmt = self.stmt.where(~probe.exists())
            return
        metric = self._join_metric(order.key, hint=lead is not Lead.NAN and not _bounded(own))
        if lead is Lead.NAN:
            # value = 0 is implied by is_nan; it lets the (key, value) index find the NaN rows.
            self.stmt = self.stmt.where(metric.c.value == 0, metric.c.is_nan == true())
            return
        if lead is Lead.NUMBER:
            self.stmt = self.stmt.where(_not_nan(metric))
        else:
            self.stmt = self.stmt.where(*(_metric_test(metric, c) for c in own))
            if all(c.op is Op.NE for c in own):  # only "!=" lets NaN through
                self.keys.append(metric.c.is_nan.asc())  # NaN after numbers: False sorts before True
        self.keys.append(_direction(metric.c.value, order.ascending))

    def order_by_metric(self, order: OrderBy) -> None:
        """Any metric order key: one outer join, and the tiers sorted by a CASE."""
        metric = _METRICS.alias()
        on = and_(metric.c.run_uuid == RUNS.c.run_uuid, metric.c.key == order.key)
        self.stmt = self.stmt.outerjoin(metric, on)
        self.keys.append(case((metric.c.run_uuid.is_(None), 2), (metric.c.is_nan == true(), 1), else_=0))
        self.keys.append(_direction(metric.c.value, order.ascending))

    def order_by_key_value(self, row: Any, order: OrderBy) -> None:
        joined = row.alias()
        self.stmt = self.stmt.outerjoin(
            joined, and_(joined.c.run_uuid == RUNS.c.run_uuid, joined.c.key == order.key)
        )
        value = _sortable_text(joined.c.value, self.dialect)
        self.keys += [joined.c.run_uuid.is_(None), _direction(value, order.ascending)]

    def order_by_attribute(self, order: OrderBy) -> None:
        column = _run_column(order.key)
        if order.key == "end_time":
            self.keys.append(column.is_(None))
        elif order.key != "start_time":
            column = _sortable_text(column, self.dialect)
        self.keys.append(_direction(column, order.ascending))


def _run_column(key: str) -> SQLColumnExpression[Any]:
    column = _RUN_COLUMNS.get(key)
    if column is None:
        raise InvalidParameter(f"Runs cannot be searched or ordered by attribute '{key}'.")
    return column


def _walk_hint(metric: Any, needed: bool) -> list[SQLColumnExpression[bool]]:
    """The always-true ``value >= -inf``: a range on the index that makes SQLite (3.45, or any
    version after ANALYZE) walk it in order instead of reading every run and sorting. Only where
    the metric's own filters give no comparison: a looser second bound could be the one used."""
    return [metric.c.value >= -math.inf] if needed else []


def run_select(
    query: RunQuery, filters: Sequence[Comparison], order_by: Sequence[OrderBy], lead: Lead | None
) -> Select[Any]:
    pending = list(filters)
    for i, order in enumerate(order_by):
        if order.entity is Entity.METRIC and i == 0 and lead is not None:
            own = [c for c in pending if c.entity is Entity.METRIC and c.key == order.key]
            pending = [c for c in pending if c not in own]
            query.lead_metric(order, own, lead)
        elif order.entity is Entity.METRIC:
            query.order_by_metric(order)
        elif order.entity in (Entity.PARAM, Entity.TAG):
            query.order_by_key_value(_PARAMS if order.entity is Entity.PARAM else _TAGS, order)
        elif order.entity is Entity.ATTRIBUTE:
            query.order_by_attribute(order)
        else:
            raise InvalidParameter(f"Runs cannot be ordered by a {order.entity}.")
    for clause in pending:
        query.filter(clause)
    if not any(o.entity is Entity.ATTRIBUTE and o.key == "start_time" for o in order_by):
        query.keys.append(RUNS.c.start_time.desc())
    return query.stmt.order_by(*query.keys, RUNS.c.run_uuid)


def metric_sample(order: OrderBy, filters: Sequence[Comparison], rows: int) -> Subquery:
    """The run ids of the first ``rows`` rows of the order's metric index, in the order's direction,
    the metric's own filters applied: what a metric-first walk reads first."""
    own = [c for c in filters if c.entity is Entity.METRIC and c.key == order.key]
    metric = _METRICS.alias()
    return (
        select(metric.c.run_uuid)
        .where(metric.c.key == order.key, *_walk_hint(metric, not _bounded(own)))
        .where(*(_metric_test(metric, c) for c in own))
        .order_by(_direction(metric.c.value, order.ascending))
        .limit(rows)
        .subquery()
    )


# ---- experiments --------------------------------------------------------------------------------


def _experiment_ids(value: Value) -> int | tuple[int, ...]:
    def one(raw: str) -> int:
        try:
            return int(raw)
        except ValueError:
            raise InvalidParameter(
                f"Invalid experiment_id '{raw}' in the filter: experiment ids are integers."
            ) from None

    return tuple(one(v) for v in value) if isinstance(value, tuple) else one(str(value))


def _experiment_filter(clause: Comparison, dialect: str) -> SQLColumnExpression[bool]:
    if clause.entity is Entity.TAG:
        probe = select(ExperimentTagRow.experiment_id).where(
            ExperimentTagRow.experiment_id == ExperimentRow.experiment_id, ExperimentTagRow.key == clause.key
        )
        if clause.op is Op.IS_NULL:
            return ~probe.exists()
        if clause.op is not Op.IS_NOT_NULL:
            probe = probe.where(_compare(ExperimentTagRow.value, clause.op, clause.value, dialect))
        return probe.exists()
    column = _experiment_column(clause)
    if clause.key == "experiment_id":
        ids = _experiment_ids(clause.value)
        if clause.op in (Op.IN, Op.NOT_IN):
            ids = ids if isinstance(ids, tuple) else (ids,)
            return column.in_(ids) if clause.op is Op.IN else column.not_in(ids)
        return _ordinal(column, clause.op, ids)
    return _compare(column, clause.op, clause.value, dialect)


def _experiment_column(clause: Comparison | OrderBy) -> SQLColumnExpression[Any]:
    column = _EXPERIMENT_COLUMNS.get(clause.key)
    if clause.entity is not Entity.ATTRIBUTE or column is None:
        raise InvalidParameter(
            f"Experiments cannot be searched or ordered by {clause.entity} '{clause.key}'."
        )
    return column


def search_experiment_ids(
    session: Session,
    *,
    stages: Sequence[str],
    filters: Sequence[Comparison],
    order_by: Sequence[OrderBy],
    max_results: int,
    offset: int,
) -> list[int]:
    """Experiment ids matching ``filters``, one page. MLflow's default order: newest created first."""
    check_page(max_results, offset)
    dialect = session.get_bind().dialect.name
    stmt = select(ExperimentRow.experiment_id).where(ExperimentRow.lifecycle_stage.in_(list(stages)))
    stmt = stmt.where(*(_experiment_filter(c, dialect) for c in filters))
    orders = list(order_by) or [
        OrderBy(Entity.ATTRIBUTE, "creation_time", ascending=False),
        OrderBy(Entity.ATTRIBUTE, "experiment_id", ascending=True),
    ]
    keys: list[SQLColumnExpression[Any]] = []
    for order in orders:
        column = _experiment_column(order)
        if order.key == "name":
            column = _sortable_text(column, dialect)
        keys.append(_direction(column, order.ascending))
    if not any(o.key == "experiment_id" for o in orders):
        keys.append(ExperimentRow.experiment_id.desc())  # MLflow's tiebreak
    return list(session.scalars(stmt.order_by(*keys).offset(offset).limit(max_results)))
