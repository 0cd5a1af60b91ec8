"""The runs table of the web UI: the runs of one or several experiments as rows, in any order,
filtered by run search's grammar, with nested runs under their parents, read a window at a time.

The table is a tree flattened in display order: each level (the top-level runs, or one run's
children) is in the table's sort order, and an open run's children follow it. A window is read
from a run onward (``start``), after a run (``after``) or before one (``before``), by keyset on
each level (``storage.run_table_sql``), so its cost does not grow with how far down it is. A run
is named by its id in the URL; its place is read back from the database, so a reloaded or shared
URL shows the same rows.

Authorization is run search's: the actor must be able to read every experiment of the table (one
they cannot read answers like a missing one, as getting it would).

The count of matching runs is exact up to ``EXACT_COUNT_LIMIT`` runs in the experiments, and above
it when the filter is cheap to count (attributes only, or an indexed clause that picks at most
``COUNT_DRIVE_LIMIT`` runs); otherwise it is estimated from a random sample (run ids are random, so
the runs whose id sorts first are one) and says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.identity import Principal
from modelyard.domain.run_table import DEFAULT_SORT, Column, Sort
from modelyard.domain.search import parse_filter
from modelyard.domain.tracking import Experiment, LifecycleStage
from modelyard.services.tracking.experiments import ExperimentService
from modelyard.storage import run_table_sql as sql
from modelyard.storage.db import Database
from modelyard.storage.run_table_sql import Position, RunCells, RunTableReader, TableScope

MAX_EXPERIMENTS = 50
MAX_WINDOW = 200
MAX_DEPTH = 32
EXACT_COUNT_LIMIT = 20_000
COUNT_SAMPLE = 10_000
# a count reads the runs an indexed clause picks when there are at most this many (as many as a
# sample: each costs a probe or two)
COUNT_DRIVE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class TableQuery:
    """What one view of the table shows (everything of it is in the page's URL)."""

    experiment_ids: tuple[str, ...]
    filter: str = ""
    sort: Sort = DEFAULT_SORT
    columns: tuple[Column, ...] = ()
    deleted: bool = False
    open: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TableRow:
    run: RunCells
    depth: int
    children: int
    open: bool


@dataclass(frozen=True, slots=True)
class Window:
    rows: list[TableRow]
    more_before: bool
    more_after: bool
    # the start run was not in the table (gone, or never in these experiments): read from the top
    start_missing: bool = False


@dataclass(frozen=True, slots=True)
class RunCount:
    matching: int
    total: int  # runs in the experiments (in the shown lifecycle stages), filter or not
    exact: bool
    sampled: int  # runs the estimate looked at (== total when exact)
    deleted: int = 0  # deleted runs of the experiments (shown with the toggle)


class _Walk:
    """The flattened tree, walked a level at a time (one table read)."""

    def __init__(self, reader: RunTableReader, open_ids: frozenset[str]) -> None:
        self.reader = reader
        self.open = open_ids

    def level(
        self, parent: str | None, after: Position | None, limit: int, *, backward: bool = False
    ) -> list[Position]:
        return self.reader.level_rows(parent=parent, after=after, limit=limit, backward=backward)

    def path(self, run_id: str) -> list[Position] | None:
        """The run's visible ancestors and the run, top level first; a run under a closed parent
        is stood in for by the nearest visible ancestor. None for a run not in the experiments."""
        place = self.reader.place(run_id)
        if place is None:
            return None
        chain = [place.position]
        parent = place.parent_run_id if place.shown else None
        while parent is not None and len(chain) < MAX_DEPTH and parent not in {p.run_id for p in chain}:
            above = self.reader.place(parent)
            if above is None or not above.shown:
                break
            chain.append(above.position)
            parent = above.parent_run_id
        chain.reverse()
        for depth, node in enumerate(chain[:-1]):
            if node.run_id not in self.open:
                return chain[: depth + 1]
        return chain

    def forward(self, path: list[Position], limit: int) -> list[tuple[Position, int]]:
        """Up to ``limit`` rows after the last run of ``path`` (from the top when empty)."""
        out: list[tuple[Position, int]] = []
        path = list(path)
        if not path:
            self._siblings(None, None, 0, out, limit)
            return out
        if path[-1].run_id in self.open:
            self._siblings(path[-1].run_id, None, len(path), out, limit)
        while path and len(out) < limit:
            node = path.pop()
            self._siblings(path[-1].run_id if path else None, node, len(path), out, limit)
        return out

    def _siblings(
        self,
        parent: str | None,
        after: Position | None,
        depth: int,
        out: list[tuple[Position, int]],
        limit: int,
    ) -> None:
        for row in self.level(parent, after, limit - len(out)):
            if len(out) >= limit:
                return
            out.append((row, depth))
            if row.run_id in self.open and depth < MAX_DEPTH:
                self._siblings(row.run_id, None, depth + 1, out, limit)

    def backward(self, path: list[Position], limit: int) -> list[tuple[Position, int]]:
        """Up to ``limit`` rows before the last run of ``path``, nearest first."""
        out: list[tuple[Position, int]] = []
        path = list(path)
        while path and len(out) < limit:
            node = path.pop()
            depth = len(path)
            for row in self.level(path[-1].run_id if path else None, node, limit - len(out), backward=True):
                if row.run_id in self.open and depth < MAX_DEPTH:
                    self._last_descendants(row.run_id, depth + 1, out, limit)
                if len(out) >= limit:
                    return out
                out.append((row, depth))
            if path and len(out) < limit:
                out.append((path[-1], depth - 1))  # a parent comes just before its first child
        return out

    def _last_descendants(self, parent: str, depth: int, out: list[tuple[Position, int]], limit: int) -> None:
        for row in self.level(parent, None, limit - len(out), backward=True):
            if row.run_id in self.open and depth < MAX_DEPTH:
                self._last_descendants(row.run_id, depth + 1, out, limit)
            if len(out) >= limit:
                return
            out.append((row, depth))


class RunTableService:
    def __init__(self, db: Database, experiments: ExperimentService) -> None:
        self.db = db
        self.experiments = experiments

    def experiments_of(self, actor: Principal, experiment_ids: Sequence[str]) -> list[Experiment]:
        """The table's experiments, each checked as getting it is (missing and hidden look alike)."""
        ids = list(dict.fromkeys(experiment_ids))
        if not ids:
            raise InvalidParameter(
                "Missing value for parameter 'experiments': name at least one experiment id."
            )
        if len(ids) > MAX_EXPERIMENTS:
            raise InvalidParameter(
                f"Too many experiments in parameter 'experiments': {len(ids)}; the table shows at most "
                f"{MAX_EXPERIMENTS}."
            )
        return [self.experiments.get_experiment(actor, eid) for eid in ids]

    def _scope(self, experiments: Iterable[Experiment], query: TableQuery) -> TableScope:
        stages = (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value) if query.deleted else ("active",)
        return TableScope(
            experiment_ids=tuple(int(e.experiment_id) for e in experiments),
            stages=stages,
            filters=tuple(parse_filter(query.filter)),
        )

    def window(
        self,
        actor: Principal,
        query: TableQuery,
        *,
        start: str | None = None,
        after: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> Window:
        """Up to ``limit`` rows: from ``start`` (inclusive), after ``after`` or before ``before``
        (nearest last, in display order), or from the top."""
        if sum(x is not None for x in (start, after, before)) > 1:
            raise InvalidParameter("Give at most one of the parameters 'from', 'after' and 'before'.")
        limit = max(1, min(limit, MAX_WINDOW))
        scope = self._scope(self.experiments_of(actor, query.experiment_ids), query)
        with self.db.read() as s:
            reader = RunTableReader(s, scope, query.sort)
            walk = _Walk(reader, query.open)
            anchor = start or after or before
            path = walk.path(anchor) if anchor else []
            missing = anchor is not None and path is None
            if path is None:
                path, start, after, before = [], None, None, None
            if before is not None:
                found = walk.backward(path, limit + 1)
                rows, more_before, more_after = list(reversed(found[:limit])), len(found) > limit, True
            elif after is not None:
                found = walk.forward(path, limit + 1)
                rows, more_before, more_after = found[:limit], True, len(found) > limit
            elif start is not None:
                found = [(path[-1], len(path) - 1), *walk.forward(path, limit)]
                rows, more_after = found[:limit], len(found) > limit
                more_before = bool(walk.backward(path, 1))
            else:
                found = walk.forward([], limit + 1)
                rows, more_before, more_after = found[:limit], False, len(found) > limit
            return Window(self._rows(reader, rows, query), more_before, more_after, missing)

    def _rows(
        self, reader: RunTableReader, rows: list[tuple[Position, int]], query: TableQuery
    ) -> list[TableRow]:
        ids = [p.run_id for p, _ in rows]
        counts = reader.child_counts(ids)
        found = sql.cells(reader.session, ids, query.columns)
        return [
            TableRow(found[p.run_id], depth, counts.get(p.run_id, 0), p.run_id in query.open)
            for p, depth in rows
            if p.run_id in found
        ]

    def count(self, actor: Principal, query: TableQuery, *, exact: bool = False) -> RunCount:
        """How many runs of the experiments match the filter (every level)."""
        scope = self._scope(self.experiments_of(actor, query.experiment_ids), query)
        with self.db.read() as s:
            stages = sql.stage_counts(s, scope.experiment_ids)
            total = sum(stages.get(stage, 0) for stage in scope.stages)
            deleted = 0 if query.deleted else stages.get(LifecycleStage.DELETED.value, 0)
            if not scope.filters:
                return RunCount(total, total, True, total, deleted)
            reader = RunTableReader(s, scope, query.sort, drive_limit=COUNT_DRIVE_LIMIT)
            cheap = total <= EXACT_COUNT_LIMIT or sql.cheap_to_count(scope.filters)
            if exact or cheap or reader.driven() is not None:
                matching, _ = reader.count()
                return RunCount(matching, total, True, total, deleted)
            matching, looked = reader.count(sample_below=sample_bound(COUNT_SAMPLE / total))
        estimate = round(matching * total / looked) if looked else 0
        return RunCount(estimate, total, False, looked, deleted)


def sample_bound(fraction: float) -> str:
    """The run id below which about ``fraction`` of random (hex) ids fall."""
    fraction = min(max(fraction, 0.0), 1.0)
    return format(min(math.ceil(fraction * 16**8), 16**8 - 1), "08x") if fraction < 1 else "g"
