"""Experiments as a list shows them: each with its project and group, its number of runs and its
last activity. The experiments come from ``ExperimentService.search`` (so the actor sees exactly what
the API's experiments search shows them); the rest is one grouped query over the page's ids.

"Runs" counts the experiment's active runs (deleted ones are left out); "last activity" is the
latest of the experiment's last change and its runs' start times (both read from indexes, so the
count stays quick at 100,000 runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Experiment, LifecycleStage, ViewType
from modelyard.services.tracking.experiments import ExperimentService
from modelyard.storage.orm import ExperimentRow, GroupRow, ProjectRow, RunRow


@dataclass(frozen=True, slots=True)
class ExperimentSummary:
    experiment: Experiment
    project: str
    group: str
    group_id: int
    runs: int
    last_activity: int


def experiment_summaries(
    experiments: ExperimentService,
    actor: Principal,
    *,
    name_contains: str | None = None,
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    order_by: list[str] | None = None,
    page_token: str | None = None,
    max_results: int = 100,
) -> tuple[list[ExperimentSummary], str | None]:
    found, token = experiments.search(
        actor,
        view_type=view_type,
        max_results=max_results,
        order_by=order_by,
        page_token=page_token,
        name_contains=name_contains,
    )
    return summarize(experiments, found), token


def summarize(experiments: ExperimentService, found: list[Experiment]) -> list[ExperimentSummary]:
    """The summaries of experiments the caller has already read (and so was allowed to)."""
    ids = [int(e.experiment_id) for e in found]
    if not ids:
        return []
    with experiments.db.read() as s:
        owners = {
            eid: (project, group, gid)
            for eid, project, group, gid in s.execute(
                select(ExperimentRow.experiment_id, ProjectRow.name, GroupRow.name, GroupRow.id)
                .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
                .join(GroupRow, GroupRow.id == ProjectRow.group_id)
                .where(ExperimentRow.experiment_id.in_(ids))
            )
        }
        runs = {
            eid: (count, latest)
            for eid, count, latest in s.execute(
                select(RunRow.experiment_id, func.count(), func.max(RunRow.start_time))
                .where(RunRow.experiment_id.in_(ids), RunRow.lifecycle_stage == LifecycleStage.ACTIVE)
                .group_by(RunRow.experiment_id)
            )
        }
    out = []
    for experiment in found:
        eid = int(experiment.experiment_id)
        project, group, gid = owners.get(eid, ("", "", -1))
        count, latest = runs.get(eid, (0, None))
        last = max(experiment.last_update_time or 0, latest or 0)
        out.append(ExperimentSummary(experiment, project, group, gid, int(count), last))
    return out
