"""What the compare page reads besides the runs themselves: where each run lives (its experiment and
that experiment's group), for many runs in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from modelyard.storage import driver_sql


@dataclass(frozen=True, slots=True)
class RunPlace:
    group_id: int
    experiment_id: str
    experiment_name: str


def run_places(session: Session, run_ids: Sequence[str]) -> dict[str, RunPlace]:
    """The group and experiment of each of ``run_ids`` that exists (absent ones are left out)."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = driver_sql.execute(
        session,
        "SELECT r.run_uuid, p.group_id, e.experiment_id, e.name FROM runs r "
        "JOIN experiments e ON e.experiment_id = r.experiment_id JOIN projects p ON p.id = e.project_id "
        f"WHERE r.run_uuid IN ({marks})",
        tuple(ids),
    )
    return {str(run): RunPlace(int(group), str(eid), str(name)) for run, group, eid, name in rows}
