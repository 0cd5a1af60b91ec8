"""Run search: which plan a search takes, and its statements, built once per search.

``storage.search_sql`` turns a parsed filter and ordering into SQL; this module decides between its
two shapes for a search ordered first by a metric, and keeps the statements it built. A search's
statements cost about as much to build (SQLAlchemy's expression objects) as SQLite spends running
them over 1,000 runs, so they are cached per search and page (``_Shape``): the statements, never
what they find.

Not obvious: the plan. Filters are correlated ``EXISTS`` probes on the (run_uuid, key) primary
keys. A search ordered first by a metric can instead walk that metric's (key, value, run_uuid)
index in order and stop after one page (``metrics.m > 0.5 ORDER BY metrics.m DESC`` over 100,000
runs: tens of ms instead of a sort of every run); but for a small experiment among many the walk
would read other experiments' rows. Neither database knows experiment sizes, so a small estimate
picks the shape (``_metric_first_pays``). Metric-first, the metric's filters join it once; without
filters, numbers, NaN and missing values are read as three tiers, because one sort key that puts
missing values last in both directions stops the index from giving the order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, func, select
from sqlalchemy.orm import Session

from modelyard.domain.search import Comparison, Entity, OrderBy
from modelyard.storage.search_sql import RUNS, Lead, RunQuery, check_page, metric_sample, run_select

_PLAN_SAMPLE_ROWS = 256


@dataclass(frozen=True, slots=True)
class _Shape:
    """One run search but its page: the key its statements are built and cached under. Building a
    search's statements cost about as much as SQLite's running them over 1,000 runs; a search made
    again (a table refreshed, a script polling) reuses them."""

    dialect: str
    experiment_ids: tuple[int, ...]
    stages: tuple[str, ...]
    filters: tuple[Comparison, ...]
    order_by: tuple[OrderBy, ...]

    def scope(self) -> list[ColumnElement[bool]]:
        return [RUNS.c.experiment_id.in_(self.experiment_ids), RUNS.c.lifecycle_stage.in_(self.stages)]

    def query(self) -> RunQuery:
        return RunQuery(self.dialect, self.scope())


_CACHED = 16  # searches (a few statements each, ~0.2 MB with what SQLAlchemy memoizes on them)


@lru_cache(maxsize=_CACHED)
def _select(shape: _Shape, lead: Lead | None) -> Select[Any]:
    return run_select(shape.query(), shape.filters, shape.order_by, lead)


@lru_cache(maxsize=_CACHED)
def _page(shape: _Shape, lead: Lead | None, limit: int, skip: int) -> Select[Any]:
    return _select(shape, lead).offset(skip).limit(limit)


@lru_cache(maxsize=_CACHED)
def _in_scope(shape: _Shape, runs: int) -> Select[Any]:
    """How many runs the scope holds, counting to ``runs`` at most."""
    # experiment_id, not run_uuid: the (experiment, stage, start) index answers it alone
    return _counting(select(RUNS.c.experiment_id).where(*shape.scope()).limit(runs).subquery())


@lru_cache(maxsize=_CACHED)
def _plan(shape: _Shape) -> tuple[Select[Any], Select[Any]]:
    """The estimate's two counts: the first index rows of the order's metric (its own filters
    applied), and those of them whose run is in scope and passes the other filters."""
    order = shape.order_by[0]
    own = [c for c in shape.filters if c.entity is Entity.METRIC and c.key == order.key]
    sample = metric_sample(order, shape.filters, _PLAN_SAMPLE_ROWS)
    query = shape.query()
    query.stmt = query.stmt.join(sample, sample.c.run_uuid == RUNS.c.run_uuid)
    for clause in shape.filters:
        if clause not in own:
            query.filter(clause)
    return _counting(sample), _counting(query.stmt.subquery())


def _metric_first_pays(session: Session, shape: _Shape, need: int) -> bool:
    """Whether walking the first order key's (key, value) index in order beats reading every run in
    scope.

    The database cannot tell (SQLite keeps no per-experiment statistics), so estimate: the share of
    the first index rows whose run is in scope and passes the filters says how many rows the walk
    reads to fill the page; it pays when the scope holds at least that many runs. The walk reads at
    least ``need`` rows, so a scope of fewer runs is answered before the estimate. Up to four small
    queries, about a millisecond.
    """
    sample, hits = _plan(shape)
    seen = _count(session, sample)
    if seen < _PLAN_SAMPLE_ROWS:  # so few rows that the walk is short whatever the scope
        return True
    if _count(session, _in_scope(shape, need)) < need:
        return False
    walk = math.ceil(need * seen / max(_count(session, hits), 0.5))
    return walk <= need or _count(session, _in_scope(shape, walk)) >= walk


def _counting(rows: Subquery) -> Select[Any]:
    return select(func.count()).select_from(rows)


def _count(session: Session, stmt: Select[Any]) -> int:
    return int(session.connection().execute(stmt).scalar() or 0)


def _ids(session: Session, stmt: Select[Any]) -> list[str]:
    """The run ids a statement selects, run on the Core connection (no ORM result handling)."""
    return list(session.connection().execute(stmt).scalars())


def search_run_ids(
    session: Session,
    *,
    experiment_ids: Sequence[int],
    stages: Sequence[str],
    filters: Sequence[Comparison],
    order_by: Sequence[OrderBy],
    max_results: int,
    offset: int,
) -> list[str]:
    """The run_uuids matching ``filters`` in the given experiments and lifecycle stages, one page.

    Ordered first by a metric, the query is metric-first when that pays (see ``_metric_first_pays``):
    the metric's index is walked in order and the page stops early. Otherwise every run in scope is
    read and sorted, which is cheap for a small scope and what a metric few runs have needs.
    """
    check_page(max_results, offset)
    if max_results == 0:
        return []
    shape = _Shape(
        session.get_bind().dialect.name,
        tuple(experiment_ids),
        tuple(stages),
        tuple(filters),
        tuple(order_by),
    )
    first = order_by[0] if order_by else None
    if first is None or first.entity is not Entity.METRIC:
        return _ids(session, _page(shape, None, max_results, offset))
    if not _metric_first_pays(session, shape, offset + max_results):
        return _ids(session, _page(shape, None, max_results, offset))
    if any(c.entity is Entity.METRIC and c.key == first.key for c in filters):
        return _ids(session, _page(shape, Lead.FILTERED, max_results, offset))
    out: list[str] = []
    skip = offset
    for lead in (Lead.NUMBER, Lead.NAN, Lead.MISSING):
        if len(out) >= max_results:
            break
        page = _ids(session, _page(shape, lead, max_results - len(out), skip))
        if not page and skip:  # the whole tier lies before the page: skip past it
            tier = _count(session, _counting(_select(shape, lead).order_by(None).subquery()))
            skip = max(skip - tier, 0)
        else:
            skip = 0
        out += page
    return out
