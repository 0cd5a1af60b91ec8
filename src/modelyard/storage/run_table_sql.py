"""The web UI's runs table as SQL: one level of the table in sort order after a position (keyset
paging, never OFFSET), where a run sits in that order, the count of matching runs, child counts,
and the cells of the runs on screen. Works the same on SQLite and PostgreSQL.

A level is the top-level runs (those whose parent is not itself in the table) or the children of
one run. The filter is run search's own (``search_sql.RunQuery`` compiles it), so the table and
``runs/search`` agree on what matches. A run's place in the order is ``Position(tier, value,
run_id)``: tiers put runs that lack the sort value after those that have it in both directions
(for a metric: numbers, then NaN, then missing), and the run id breaks ties, in the sort's
direction. Each tier is read by its own query, so every page is a range scan that stops after a
page: a metric's tier walks its (key, value, run_uuid) index, the start time walks the runs'
(experiment, stage, start_time) index.

Not obvious: "the parent is in the table" is the filter applied to the parent. The filter's SQL is
written for the ``runs`` table; ``ClauseAdapter`` rewrites it for an alias of it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, null, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.util import ClauseAdapter

from modelyard.domain.run_table import SOURCE_TAG, Column, ColumnKind, Sort
from modelyard.domain.search import Comparison, Entity, Op
from modelyard.storage import driver_sql
from modelyard.storage.orm import LatestMetricRow, ParamRow, RunRow, TagRow
from modelyard.storage.search_sql import RunQuery

RUNS = RunRow.__table__
PARENT = RUNS.alias("parent_run")


@dataclass(frozen=True, slots=True)
class TableScope:
    """Which runs the table holds: these experiments, these lifecycle stages, this filter."""

    experiment_ids: tuple[int, ...]
    stages: tuple[str, ...]
    filters: tuple[Comparison, ...] = ()


@dataclass(frozen=True, slots=True)
class Position:
    """A run's place in one level's order: its tier, its sort value (None in a tier without
    values), its id."""

    tier: int
    value: Any
    run_id: str


@dataclass(frozen=True, slots=True)
class Place:
    """A run as the table sees it: its position, its parent, and whether it is in the table (in
    scope and matching the filter)."""

    position: Position
    parent_run_id: str | None
    shown: bool


@dataclass(frozen=True, slots=True)
class RunCells:
    run_id: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    user_id: str
    experiment_id: int
    lifecycle_stage: str
    parent_run_id: str | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


# ---- the filter -----------------------------------------------------------------------------------

# A filter clause that an index answers (a metric range, a param or tag equal to a value, run ids)
# "drives" the query when it picks at most this many runs: they are read first, by that index, and
# sorted, instead of walking the sort order and testing the filter on every run until a page is
# full. Walking costs about page size / selectivity probes and driving about the number of picked
# runs, so the two meet near sqrt(page x runs): ~3,000 for 100,000 runs.
DRIVE_LIMIT = 3000
_RANGE_OPS = {Op.EQ: "__eq__", Op.LT: "__lt__", Op.LE: "__le__", Op.GT: "__gt__", Op.GE: "__ge__"}


def _filter(dialect: str, filters: Sequence[Comparison]) -> ColumnElement[bool]:
    """The filter as one condition on ``runs`` (run search's compilation)."""
    if not filters:
        return true()
    query = RunQuery(dialect, [])
    for clause in filters:
        query.filter(clause)
    where = query.stmt.whereclause
    return where if where is not None else true()


def _driver(clause: Comparison) -> Select[Any] | tuple[str, ...] | None:
    """The runs an index says may match ``clause`` (a superset), or None when no index answers it."""
    if clause.entity is Entity.METRIC and clause.op in _RANGE_OPS:
        m = LatestMetricRow
        return select(m.run_uuid).where(
            m.key == clause.key, getattr(m.value, _RANGE_OPS[clause.op])(clause.value)
        )
    if clause.entity in (Entity.PARAM, Entity.TAG) and clause.op is Op.EQ:
        row = ParamRow if clause.entity is Entity.PARAM else TagRow
        return select(row.run_uuid).where(row.key == clause.key, row.value == clause.value)
    if clause.entity is Entity.ATTRIBUTE and clause.key == "run_id" and clause.op in (Op.EQ, Op.IN):
        value = clause.value
        return value if isinstance(value, tuple) else (str(value),)
    return None


def _in_scope(table: Any, scope: TableScope, *, by_experiment: bool = True) -> list[ColumnElement[bool]]:
    """``by_experiment=False``: written so that SQLite does not read the runs by their
    (experiment, stage) index ("+ 0"), where another condition picks far fewer rows (a parent's
    children, a sample of ids, the runs a filter drives)."""
    experiment = table.c.experiment_id if by_experiment else table.c.experiment_id + 0
    return [experiment.in_(scope.experiment_ids), table.c.lifecycle_stage.in_(scope.stages)]


class RunTableReader:
    """The table's reads in one session: the filter is compiled, and its driving runs found, once."""

    def __init__(
        self, session: Session, scope: TableScope, sort: Sort, *, drive_limit: int | None = None
    ) -> None:
        self.session = session
        self.scope = scope
        self.sort = sort
        self.drive_limit = DRIVE_LIMIT if drive_limit is None else drive_limit
        self.dialect = session.get_bind().dialect.name
        self.matches = _filter(self.dialect, scope.filters)
        self._driven: tuple[str, ...] | None = None
        self._drive_checked = False

    # -- the filter's pieces
    def driven(self) -> tuple[str, ...] | None:
        """The runs the most selective indexed clause picks, when they are few (``drive_limit``)."""
        if not self._drive_checked:
            self._drive_checked = True
            for clause in self.scope.filters:
                found = _driver(clause)
                if isinstance(found, Select):
                    found = tuple(self.session.scalars(found.limit(self.drive_limit + 1)))
                fewer = found is not None and len(found) <= self.drive_limit
                if fewer and (self._driven is None or len(found) < len(self._driven)):  # type: ignore[arg-type]
                    self._driven = tuple(dict.fromkeys(found))  # type: ignore[arg-type]
        return self._driven

    def in_table(self, *, by_experiment: bool = True) -> list[ColumnElement[bool]]:
        driven = self.driven()
        if driven is not None:
            return [
                *_in_scope(RUNS, self.scope, by_experiment=False),
                RunRow.run_uuid.in_(driven),
                self.matches,
            ]
        return [*_in_scope(RUNS, self.scope, by_experiment=by_experiment), self.matches]

    def level(self, parent: str | None) -> ColumnElement[bool]:
        if parent is not None:
            return RunRow.parent_run_id == parent
        probe = select(PARENT.c.run_uuid).where(
            PARENT.c.run_uuid == RunRow.parent_run_id, *_in_scope(PARENT, self.scope)
        )
        if self.scope.filters:
            # the parent is in the table when it matches the filter too
            probe = probe.where(ClauseAdapter(PARENT).traverse(self.matches))
        return or_(RunRow.parent_run_id.is_(None), ~probe.exists())

    def text(self, column: Any) -> Any:
        """Text in code-point order on both databases (PostgreSQL's default collation may differ)."""
        return column.collate("C") if self.dialect == "postgresql" else column

    # -- sort tiers
    def tier(self, tier: int, *, walk: bool, drive: bool = True) -> _Tier:
        """One tier's SELECT; ``walk``: written to walk the sort value's index; ``drive``: only
        among the driving runs (when there are some)."""
        column = self.sort.column
        if column.kind is ColumnKind.ATTRIBUTE:
            return self._attribute_tier(column.key, tier, walk=walk, drive=drive)
        if column.kind is ColumnKind.METRIC:
            return self._metric_tier(column.key, tier, walk=walk, drive=drive)
        row = ParamRow if column.kind is ColumnKind.PARAM else TagRow
        return self._key_value_tier(row, column.key, tier, walk=walk, drive=drive)

    def _attribute_tier(self, key: str, tier: int, *, walk: bool, drive: bool) -> _Tier:
        value: Any
        if key in _ATTRIBUTE_VALUES:
            value = _ATTRIBUTE_VALUES[key]
            value = self.text(value) if key in _TEXT_ATTRIBUTES else value
            return _Tier(select(RunRow.run_uuid, value), value, RunRow.run_uuid)
        if key == "source":
            return self._key_value_tier(TagRow, SOURCE_TAG, tier, walk=walk, drive=drive)
        if tier == 1:
            return _Tier(_no_value().where(RunRow.end_time.is_(None)), None, RunRow.run_uuid)
        value = RunRow.end_time if key == "end_time" else RunRow.end_time - RunRow.start_time
        stmt: Select[Any] = select(RunRow.run_uuid, value).where(RunRow.end_time.is_not(None))
        return _Tier(stmt, value, RunRow.run_uuid)

    def _joined(self, row: Any, key: str, *, drive: bool) -> tuple[Any, Select[Any]]:
        """``row`` (params, tags or latest metrics) of ``key``, joined to its run; read for the
        driving runs only when there are some."""
        joined = aliased(row)
        stmt = select(joined.run_uuid).select_from(joined).join(RunRow, RunRow.run_uuid == joined.run_uuid)
        stmt = stmt.where(joined.key == key)
        driven = self.driven() if drive else None
        if driven is not None:
            stmt = stmt.where(joined.run_uuid.in_(driven))
        return joined, stmt

    def _missing(self, row: Any, key: str) -> _Tier:
        joined = aliased(row)
        probe = select(joined.run_uuid).where(joined.run_uuid == RunRow.run_uuid, joined.key == key)
        return _Tier(_no_value().where(~probe.exists()), None, RunRow.run_uuid)

    def _key_value_tier(self, row: Any, key: str, tier: int, *, walk: bool, drive: bool) -> _Tier:
        if tier == 1:
            return self._missing(row, key)
        joined, stmt = self._joined(row, key, drive=drive)
        value = self.text(joined.value)
        stmt = stmt.add_columns(value)
        if walk:
            stmt = stmt.where(value >= "")  # always true: walk the (key, value, run_uuid) index in order
        return _Tier(stmt, value, joined.run_uuid)

    def _metric_tier(self, key: str, tier: int, *, walk: bool, drive: bool) -> _Tier:
        if tier == 2:
            return self._missing(LatestMetricRow, key)
        metric, stmt = self._joined(LatestMetricRow, key, drive=drive)
        if tier == 1:
            # value = 0 is implied by is_nan (NaN is stored as 0); it lets the (key, value) index find them
            stmt = stmt.add_columns(null()).where(metric.value == 0, metric.is_nan == true())
            return _Tier(stmt, None, metric.run_uuid)
        stmt = stmt.add_columns(metric.value).where(or_(metric.value != 0, metric.is_nan == false()))
        if walk:
            # always true, but a range on the index: SQLite then walks it in order instead of sorting
            stmt = stmt.where(metric.value >= -math.inf)
        return _Tier(stmt, metric.value, metric.run_uuid)

    # -- reads
    def level_rows(
        self, *, parent: str | None, after: Position | None, limit: int, backward: bool = False
    ) -> list[Position]:
        """Up to ``limit`` runs of one level (``parent`` None: the top level) after ``after`` in the
        table's order (from the start when None); ``backward``: the runs before it, nearest first."""
        if limit <= 0 or self.driven() == ():
            return []
        ascending = self.sort.ascending != backward
        order = tiers(self.sort.column)
        if backward:
            order = tuple(reversed(order))
        if after is not None:
            order = order[order.index(after.tier) :]
        # the top level walks an index in the sort order; a run's children are few: read them all
        walk = parent is None and after is None and self.driven() is None
        out: list[Position] = []
        for tier in order:
            t = self.tier(tier, walk=walk)
            stmt = t.stmt.where(*self.in_table(by_experiment=parent is None), self.level(parent))
            if after is not None and tier == after.tier:
                stmt = stmt.where(_after(t, after, ascending))
            stmt = stmt.order_by(*_ordered(t, ascending)).limit(limit - len(out))
            for run_id, value in self.session.execute(stmt):
                out.append(Position(tier, None if t.value is None else value, run_id))
            if len(out) >= limit:
                break
        return out

    def place(self, run_id: str) -> Place | None:
        """Where a run of the table's experiments sits in its level's order; None for a run that is
        not in them (or does not exist)."""
        scope = self.scope
        shown = (
            select(RunRow.run_uuid)
            .where(RunRow.run_uuid == run_id, *_in_scope(RUNS, scope), self.matches)
            .exists()
        )
        found = self.session.execute(
            select(RunRow.parent_run_id, shown).where(
                RunRow.run_uuid == run_id, RunRow.experiment_id.in_(scope.experiment_ids)
            )
        ).first()
        if found is None:
            return None
        for tier in tiers(self.sort.column):
            t = self.tier(tier, walk=False, drive=False)
            row = self.session.execute(t.stmt.where(RunRow.run_uuid == run_id)).first()
            if row is not None:
                value = None if t.value is None else row[1]
                return Place(Position(tier, value, run_id), found[0], bool(found[1]))
        return None

    def count(self, *, sample_below: str | None = None) -> tuple[int, int]:
        """(matching runs, runs looked at) over every level; with ``sample_below``, only the runs
        whose id sorts before it (ids are random, so they are a random sample)."""
        where = _in_scope(RUNS, self.scope, by_experiment=sample_below is None)
        if sample_below is not None:
            where.append(RunRow.run_uuid < sample_below)
        total = select(func.count()).select_from(RunRow).where(*where)
        looked = self.session.scalar(total) or 0
        if not self.scope.filters:
            return looked, looked
        if sample_below is None and self.driven() is not None:
            total = select(func.count()).select_from(RunRow).where(*self.in_table())
            return self.session.scalar(total) or 0, looked
        return self.session.scalar(total.where(self.matches)) or 0, looked

    def child_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        """How many children each run has in the table."""
        if not run_ids:
            return {}
        stmt = (
            select(RunRow.parent_run_id, func.count())
            .where(RunRow.parent_run_id.in_(list(run_ids)), *self.in_table(by_experiment=False))
            .group_by(RunRow.parent_run_id)
        )
        return {str(parent): int(n) for parent, n in self.session.execute(stmt)}


def stage_counts(session: Session, experiment_ids: Sequence[int]) -> dict[str, int]:
    """The experiments' runs by lifecycle stage (one read of the (experiment, stage) index)."""
    stmt = (
        select(RunRow.lifecycle_stage, func.count())
        .where(RunRow.experiment_id.in_(list(experiment_ids)))
        .group_by(RunRow.lifecycle_stage)
    )
    return {str(stage): int(n) for stage, n in session.execute(stmt)}


def cheap_to_count(filters: Sequence[Comparison]) -> bool:
    """Whether the filter reads only the runs' own row (attributes but run ids), so counting every
    run costs one pass over the runs table and no probe of another table."""
    return all(c.entity is Entity.ATTRIBUTE for c in filters)


# ---- sort tiers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tier:
    """One tier's rows: a SELECT of (run id, value) with the tier's joins and conditions."""

    stmt: Select[Any]
    value: Any  # the sort value's column, None in a tier without values
    run_id: Any  # the run id column the order and the keyset use (an index's, where it walks one)


_ATTRIBUTE_VALUES = {
    "start_time": RunRow.start_time,
    "name": RunRow.name,
    "status": RunRow.status,
    "user_id": RunRow.user_id,
    "experiment_id": RunRow.experiment_id,
    "run_id": RunRow.run_uuid,
}
_TEXT_ATTRIBUTES = frozenset({"name", "status", "user_id", "run_id"})


def tiers(column: Column) -> tuple[int, ...]:
    """The tiers of a sort: values, then (metrics) NaN, then missing."""
    if column.kind is ColumnKind.METRIC:
        return (0, 1, 2)
    if column.kind is ColumnKind.ATTRIBUTE and column.key in _ATTRIBUTE_VALUES:
        return (0,)
    return (0, 1)


def _no_value() -> Select[Any]:
    return select(RunRow.run_uuid, null())  # type: ignore[return-value]  # (run id, no value)


def _after(t: _Tier, position: Position, ascending: bool) -> ColumnElement[bool]:
    """Rows after ``position`` in this tier. ``value >= v`` is implied, and written out so that the
    database can start its index range there."""
    if t.value is None:
        later: ColumnElement[bool] = t.run_id > position.run_id if ascending else t.run_id < position.run_id
        return later
    v, rid = position.value, position.run_id
    if ascending:
        return and_(t.value >= v, or_(t.value > v, t.run_id > rid))
    return and_(t.value <= v, or_(t.value < v, t.run_id < rid))


def _ordered(t: _Tier, ascending: bool) -> list[Any]:
    keys = [] if t.value is None else [t.value]
    keys.append(t.run_id)
    return [k.asc() if ascending else k.desc() for k in keys]


# ---- the cells of a page ----------------------------------------------------------------------------


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def cells(session: Session, run_ids: Sequence[str], columns: Sequence[Column]) -> dict[str, RunCells]:
    """What the table shows of each run: its attributes, and the params, latest metrics and tags of
    ``columns`` (a NaN metric is ``nan``). Plain SQL: a page is a few hundred rows, and building
    them through SQLAlchemy's result objects cost more than reading them."""
    if not run_ids:
        return {}
    ids = tuple(run_ids)
    wanted: dict[ColumnKind, set[str]] = defaultdict(set)
    for column in columns:
        kind = (
            ColumnKind.METRIC
            if column.kind in (ColumnKind.METRIC_MIN, ColumnKind.METRIC_MAX)
            else column.kind
        )
        wanted[kind].add(column.key)
    wanted[ColumnKind.TAG].add(SOURCE_TAG)
    found: dict[ColumnKind, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    # "+key": SQLite would otherwise read every row of the keys by the (key, value) index instead of
    # a page's rows by the (run_uuid, key) primary key
    key = "+key" if driver_sql.dialect(session) == "sqlite" else "key"
    for kind, table, value in (
        (ColumnKind.PARAM, "params", "value"),
        (ColumnKind.TAG, "tags", "value"),
        (ColumnKind.METRIC, "latest_metrics", "CASE WHEN is_nan THEN NULL ELSE value END"),
    ):
        keys = tuple(sorted(wanted[kind]))
        if not keys:
            continue
        rows = driver_sql.execute(
            session,
            f"SELECT run_uuid, key, {value} FROM {table} "
            f"WHERE run_uuid IN ({_marks(len(ids))}) AND {key} IN ({_marks(len(keys))})",
            ids + keys,
        )
        into = found[kind]
        for rid, name, got in rows:
            into[rid][name] = math.nan if got is None and kind is ColumnKind.METRIC else got
    rows = driver_sql.execute(
        session,
        "SELECT run_uuid, name, status, start_time, end_time, user_id, experiment_id, lifecycle_stage, "
        f"parent_run_id FROM runs WHERE run_uuid IN ({_marks(len(ids))})",
        ids,
    )
    out: dict[str, RunCells] = {}
    for rid, name, status, start, end, user, experiment, stage, parent in rows:
        out[rid] = RunCells(
            run_id=rid,
            name=name,
            status=status,
            start_time=start,
            end_time=end,
            user_id=user,
            experiment_id=experiment,
            lifecycle_stage=stage,
            parent_run_id=parent,
            params=found[ColumnKind.PARAM].get(rid, {}),
            metrics={k: float(v) for k, v in found[ColumnKind.METRIC].get(rid, {}).items()},
            tags=found[ColumnKind.TAG].get(rid, {}),
        )
    return out
