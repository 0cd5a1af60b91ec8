"""A run with what surrounds it, as its page shows it: the experiment's name, the parent run, the
child runs, the dataset versions it used (with their ids, which ``Run.dataset_inputs`` does not
carry) and the logged models it produced or read. One read transaction.

The run is read as every run read is (``RunReads``): the viewer role in its group, another group's
run answered exactly like a missing one. Relatives are shown only where the actor may read them: a
parent in a group the actor cannot read is named by its id alone (the run's own tag says it), child
runs of such groups are left out of the list and of its count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.tracking import PARENT_RUN_TAG, LifecycleStage, Run
from modelyard.storage import run_writes as writes
from modelyard.storage import tracking_repo as repo
from modelyard.storage.db import Database
from modelyard.storage.orm import (
    DatasetRow,
    ExperimentRow,
    LoggedModelRow,
    ProjectRow,
    RunInputRow,
    RunModelRow,
    RunRow,
)

CHILDREN_SHOWN = 100
CONTEXT_TAG = "mlflow.data.context"


@dataclass(frozen=True, slots=True)
class RunLink:
    """Another run, enough to link to it."""

    run_id: str
    name: str
    status: str
    start_time: int
    lifecycle_stage: str


@dataclass(frozen=True, slots=True)
class DatasetUsed:
    dataset_id: str
    name: str
    digest: str
    source_type: str
    source: str
    context: str | None  # ``mlflow.data.context`` of the input: training, eval...


@dataclass(frozen=True, slots=True)
class ModelLogged:
    """A logged model (MLflow 3) the run produced (``output``) or read (``input``)."""

    model_id: str
    name: str
    direction: str
    step: int | None
    status: str
    artifact_location: str


@dataclass(frozen=True, slots=True)
class RunDetails:
    run: Run
    group_id: int
    experiment_name: str
    can_write: bool  # the actor's role lets them change the run (tags, description)
    parent_id: str | None
    parent: RunLink | None  # None when there is no parent or the actor cannot read it
    children: list[RunLink] = field(default_factory=list)  # the first CHILDREN_SHOWN, oldest first
    children_total: int = 0
    datasets: list[DatasetUsed] = field(default_factory=list)
    models: list[ModelLogged] = field(default_factory=list)


class RunDetailsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def details(self, actor: Principal, run_id: str, *, children_shown: int = CHILDREN_SHOWN) -> RunDetails:
        with self.db.read() as s:
            stage, group_id = writes.run_scope(s, run_id)
            actor.require(group_id, Role.VIEWER, what=f"Run {run_id}", missing=writes.run_not_found(run_id))
            found = repo.load_runs(s, [run_id])
            if not found:
                raise NotFound(writes.run_not_found(run_id))
            run = found[0]
            role = actor.role_in(group_id)
            parent_id = run.tags.get(PARENT_RUN_TAG) or _parent_column(s, run_id)
            children, total = _children(s, actor, run_id, children_shown)
            return RunDetails(
                run=run,
                group_id=group_id,
                experiment_name=_experiment_name(s, run.experiment_id),
                can_write=role is not None and role >= Role.MEMBER and stage == LifecycleStage.ACTIVE,
                parent_id=parent_id,
                parent=_visible_run(s, actor, parent_id) if parent_id else None,
                children=children,
                children_total=total,
                datasets=_datasets(s, run_id),
                models=_models(s, actor, run_id),
            )


def _experiment_name(s: Session, experiment_id: str) -> str:
    return str(s.scalar(select(ExperimentRow.name).where(ExperimentRow.experiment_id == int(experiment_id))))


def _parent_column(s: Session, run_id: str) -> str | None:
    return s.scalar(select(RunRow.parent_run_id).where(RunRow.run_uuid == run_id))


_LINK_COLUMNS = (RunRow.run_uuid, RunRow.name, RunRow.status, RunRow.start_time, RunRow.lifecycle_stage)


def _link(row: Any) -> RunLink:
    """A RunLink from a row of ``_LINK_COLUMNS`` (first)."""
    return RunLink(run_id=row[0], name=row[1], status=row[2], start_time=row[3], lifecycle_stage=row[4])


def _visible_run(s: Session, actor: Principal, run_id: str) -> RunLink | None:
    stmt = (
        select(*_LINK_COLUMNS, ProjectRow.group_id)
        .join(ExperimentRow, ExperimentRow.experiment_id == RunRow.experiment_id)
        .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
        .where(RunRow.run_uuid == run_id)
    )
    row = s.execute(stmt).first()
    if row is None or actor.role_in(int(row[5])) is None:
        return None
    return _link(row)


def _readable_experiments(actor: Principal) -> Select[Any] | None:
    """The ids of the experiments the actor may read, as a subquery (None: all of them)."""
    groups = actor.readable_groups()
    if groups is None:
        return None
    return (
        select(ExperimentRow.experiment_id)
        .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
        .where(ProjectRow.group_id.in_(groups or [-1]))
    )


def _children(s: Session, actor: Principal, run_id: str, shown: int) -> tuple[list[RunLink], int]:
    """Active child runs the actor may read: the oldest ``shown`` of them, and how many there are."""
    where = [RunRow.parent_run_id == run_id, RunRow.lifecycle_stage == LifecycleStage.ACTIVE]
    readable = _readable_experiments(actor)
    if readable is not None:
        where.append(RunRow.experiment_id.in_(readable))
    total = int(s.scalar(select(func.count()).select_from(RunRow).where(*where)) or 0)
    if not total:
        return [], 0
    rows = s.execute(
        select(*_LINK_COLUMNS).where(*where).order_by(RunRow.start_time, RunRow.run_uuid).limit(shown)
    )
    return [_link(r) for r in rows], total


def _datasets(s: Session, run_id: str) -> list[DatasetUsed]:
    stmt = (
        select(DatasetRow, RunInputRow.tags)
        .join(RunInputRow, RunInputRow.dataset_uuid == DatasetRow.dataset_uuid)
        .where(RunInputRow.run_uuid == run_id)
        .order_by(DatasetRow.name, DatasetRow.created_at)
    )
    return [
        DatasetUsed(
            dataset_id=ds.dataset_uuid,
            name=ds.name,
            digest=ds.digest,
            source_type=ds.source_type,
            source=ds.source,
            context=(tags or {}).get(CONTEXT_TAG),
        )
        for ds, tags in s.execute(stmt)
    ]


def _models(s: Session, actor: Principal, run_id: str) -> list[ModelLogged]:
    """Logged models the run lists as outputs or inputs, and those whose source run it is (those the
    actor may read)."""
    linked = {
        (mid, direction): step
        for mid, direction, step in s.execute(
            select(RunModelRow.model_id, RunModelRow.direction, RunModelRow.step).where(
                RunModelRow.run_uuid == run_id
            )
        )
    }
    ids = {mid for mid, _ in linked}
    stmt = select(LoggedModelRow).where(
        LoggedModelRow.lifecycle_stage == LifecycleStage.ACTIVE,
        (LoggedModelRow.source_run_id == run_id) | LoggedModelRow.model_id.in_(ids or [""]),
    )
    readable = _readable_experiments(actor)
    if readable is not None:
        stmt = stmt.where(LoggedModelRow.experiment_id.in_(readable))
    rows = {row.model_id: row for row in s.scalars(stmt)}
    out: list[ModelLogged] = []
    for mid, row in sorted(rows.items(), key=lambda item: (item[1].creation_timestamp_ms, item[0])):
        directions = [d for (m, d) in linked if m == mid] or ["output"]
        for direction in sorted(directions, reverse=True):  # output before input
            out.append(
                ModelLogged(
                    model_id=mid,
                    name=row.name,
                    direction=direction,
                    step=linked.get((mid, direction)),
                    status=row.status,
                    artifact_location=row.artifact_location,
                )
            )
    return out
