"""The runs of a comparison, read for many runs at once in a few driver-level statements: each run's
own fields with its experiment and group, then the params, tags and latest metric values of the runs
the caller may read. Lighter than ``tracking_repo.load_runs`` (no dataset inputs, models, code version
or environment, and plain values instead of ``Metric`` objects): the compare page reads 200 runs."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from modelyard.domain.compare import ComparedRun
from modelyard.storage import driver_sql


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run's own fields and where it lives."""

    group_id: int
    run: ComparedRun


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def run_rows(session: Session, run_ids: Sequence[str]) -> dict[str, RunRow]:
    """Each of ``run_ids`` that exists, with its group (params, tags and metrics still empty)."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    rows = driver_sql.execute(
        session,
        "SELECT r.run_uuid, r.experiment_id, e.name, p.group_id, r.name, r.user_id, r.status, r.start_time, "
        "r.end_time, r.lifecycle_stage FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
        f"JOIN projects p ON p.id = e.project_id WHERE r.run_uuid IN ({_marks(len(ids))})",
        tuple(ids),
    )
    out = {}
    for run_id, eid, experiment, group, name, user, status, start, end, stage in rows:
        run = ComparedRun(
            run_id=run_id,
            experiment_id=str(eid),
            experiment_name=experiment,
            run_name=name or "",
            user_id=user or "",
            status=status,
            start_time=int(start),
            end_time=None if end is None else int(end),
            lifecycle_stage=stage,
            params={},
            tags={},
            metrics={},
        )
        out[str(run_id)] = RunRow(int(group), run)
    return out


def fill(session: Session, runs: Sequence[ComparedRun]) -> None:
    """Put the params, tags and latest metric values of ``runs`` into them."""
    if not runs:
        return
    by_id = {run.run_id: run for run in runs}
    marks = _marks(len(by_id))
    ids = tuple(by_id)
    for table, target in (("params", "params"), ("tags", "tags")):
        found: dict[str, dict[str, str]] = defaultdict(dict)
        for run_id, key, value in driver_sql.execute(
            session, f"SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN ({marks})", ids
        ):
            found[run_id][key] = value
        for run_id, values in found.items():
            getattr(by_id[run_id], target).update(values)
    for run_id, key, value, is_nan in driver_sql.execute(
        session, f"SELECT run_uuid, key, value, is_nan FROM latest_metrics WHERE run_uuid IN ({marks})", ids
    ):
        by_id[run_id].metrics[key] = math.nan if is_nan else float(value)
