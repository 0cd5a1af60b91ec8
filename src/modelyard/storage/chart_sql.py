"""Reading metric histories for charts: whole chunks into numpy arrays, in one query for many series.

Points are stored in chunks (``storage.metric_chunks``): packed arrays, one row per key per logged
batch, so SQL sees a chunk's step range but not its points. A chart's query therefore selects the
chunks whose step range meets the wanted one (the primary key leads with run and key) and the
arrays are joined, ordered and cut in numpy, which does a million points in milliseconds. The order
and the duplicate rule are the history's (``metric_chunks.history``): by step, timestamp and value
(NaN last); a point repeated exactly (same step, timestamp and value) counts once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from modelyard.storage import driver_sql

I64 = np.dtype("<i8")
F64 = np.dtype("<f8")
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Points:
    """One history (or the part of it in a step range), in the history's order, without repeats."""

    steps: IntArray
    stamps: IntArray
    values: FloatArray

    def __len__(self) -> int:
        return len(self.steps)

    def take(self, index: NDArray[Any]) -> Points:
        return Points(self.steps[index], self.stamps[index], self.values[index])


EMPTY = Points(np.empty(0, I64), np.empty(0, I64), np.empty(0, F64))


@dataclass(frozen=True, slots=True)
class RunScope:
    group_id: int
    start_time: int


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def run_scopes(session: Session, run_ids: Sequence[str]) -> dict[str, RunScope]:
    """The group and start time of each run that exists (what ``run_writes.run_scope`` reads, for many)."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    rows = driver_sql.execute(
        session,
        "SELECT r.run_uuid, p.group_id, r.start_time FROM runs r "
        "JOIN experiments e ON e.experiment_id = r.experiment_id JOIN projects p ON p.id = e.project_id "
        f"WHERE r.run_uuid IN ({_marks(len(ids))})",
        tuple(ids),
    )
    return {str(run): RunScope(int(group), int(start)) for run, group, start in rows}


def load_points(
    session: Session,
    run_ids: Sequence[str],
    keys: Sequence[str],
    *,
    min_step: int | None = None,
    max_step: int | None = None,
) -> dict[tuple[str, str], Points]:
    """The points of every (run, key) pair of ``run_ids`` x ``keys`` with a step in [min_step, max_step]
    (either end open); a pair with none is left out."""
    if not run_ids or not keys:
        return {}
    sql = (
        'SELECT run_uuid, key, min_step, steps, timestamps, "values" FROM metric_chunks '
        f"WHERE run_uuid IN ({_marks(len(run_ids))}) AND key IN ({_marks(len(keys))})"
    )
    args: list[Any] = [*run_ids, *keys]
    if min_step is not None:
        sql += " AND max_step >= ?"
        args.append(min_step)
    if max_step is not None:
        sql += " AND min_step <= ?"
        args.append(max_step)
    chunks: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in driver_sql.execute(session, sql, tuple(args)):
        chunks[(row[0], row[1])].append(row)
    out = {}
    for pair, rows in chunks.items():
        points = _joined(rows)
        if min_step is not None or max_step is not None:
            low = -(2**63) if min_step is None else min_step
            high = 2**63 - 1 if max_step is None else max_step
            points = points.take((points.steps >= low) & (points.steps <= high))
        if len(points):
            out[pair] = points
    return out


def _joined(rows: list[Any]) -> Points:
    rows.sort(key=lambda r: r[2])  # by first step: chunks logged in order join already ordered
    steps = np.frombuffer(b"".join(r[3] for r in rows), dtype=I64).astype(np.int64, copy=False)
    stamps = np.frombuffer(b"".join(r[4] for r in rows), dtype=I64).astype(np.int64, copy=False)
    values = np.frombuffer(b"".join(r[5] for r in rows), dtype=F64).astype(np.float64, copy=False)
    return ordered_unique(Points(steps, stamps, values))


def ordered_unique(points: Points) -> Points:
    """``points`` by step, timestamp, value (NaN last), each exact repeat dropped."""
    steps, stamps, values = points.steps, points.stamps, points.values
    if len(steps) < 2:
        return points
    d_step, d_stamp = np.diff(steps), np.diff(stamps)
    prev, nxt = values[:-1], values[1:]
    value_ok = np.isnan(nxt) | (prev <= nxt)
    if not np.all((d_step > 0) | ((d_step == 0) & ((d_stamp > 0) | ((d_stamp == 0) & value_ok)))):
        order = np.lexsort((values, stamps, steps))  # NaN sorts last, as in the history
        points = points.take(order)
        steps, stamps, values = points.steps, points.stamps, points.values
        d_step, d_stamp = np.diff(steps), np.diff(stamps)
    # compare values by their bits, every NaN alike, so that repeated NaNs are recognised (NaN != NaN)
    bits = np.where(np.isnan(values), np.nan, values).view(np.int64)
    repeat = (d_step == 0) & (d_stamp == 0) & (bits[1:] == bits[:-1])
    if not repeat.any():
        return points
    return points.take(np.concatenate(([True], ~repeat)))


def latest_points(
    session: Session, run_ids: Sequence[str], keys: Sequence[str] | None
) -> list[tuple[str, str, float, int, int, bool]]:
    """(run, key, value, timestamp, step, is_nan) of each metric's latest point; every key of the runs
    when ``keys`` is None."""
    if not run_ids or keys == []:
        return []
    sql = (
        "SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics "
        f"WHERE run_uuid IN ({_marks(len(run_ids))})"
    )
    args: list[Any] = list(run_ids)
    if keys is not None:
        sql += f" AND key IN ({_marks(len(keys))})"
        args.extend(keys)
    return [
        (str(r), str(k), float(v), int(t), int(s), bool(n))
        for r, k, v, t, s, n in driver_sql.execute(session, sql, tuple(args))
    ]
