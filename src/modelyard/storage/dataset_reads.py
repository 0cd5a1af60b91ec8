"""Dataset versions read for browsing: grouped by name, one name's versions, one version's runs.

A dataset version (``datasets`` row) belongs to the experiment whose runs logged it, so the group that
may see it is that experiment's project's group; every query here takes the groups to keep (None: all)
and leaves the rest out. Functions only read; the calling service owns the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from modelyard.storage.orm import DatasetRow, ExperimentRow, ProjectRow, RunInputRow, RunRow

_Cols = TypeVarTuple("_Cols")


def _in_groups(stmt: Select[*_Cols], groups: Collection[int] | None) -> Select[*_Cols]:
    """Join a statement over ``datasets`` to its experiment and project, keeping the given groups."""
    stmt = stmt.join(ExperimentRow, ExperimentRow.experiment_id == DatasetRow.experiment_id).join(
        ProjectRow, ProjectRow.id == ExperimentRow.project_id
    )
    if groups is not None:
        stmt = stmt.where(ProjectRow.group_id.in_(groups or [-1]))
    return stmt


def names_page(
    s: Session,
    groups: Collection[int] | None,
    *,
    contains: str | None,
    after: str | None,
    limit: int,
) -> list[tuple[str, int, int, int]]:
    """Up to ``limit`` dataset names after ``after`` in name order: (name, versions, experiments,
    newest version's creation time)."""
    stmt = select(
        DatasetRow.name,
        func.count(DatasetRow.dataset_uuid),
        func.count(func.distinct(DatasetRow.experiment_id)),
        func.max(DatasetRow.created_at),
    )
    stmt = _in_groups(stmt, groups)
    if contains:
        stmt = stmt.where(func.lower(DatasetRow.name).contains(contains.lower(), autoescape=True))
    if after is not None:
        stmt = stmt.where(DatasetRow.name > after)
    stmt = stmt.group_by(DatasetRow.name).order_by(DatasetRow.name).limit(limit)
    return [(str(n), int(v), int(e), int(t)) for n, v, e, t in s.execute(stmt)]


def runs_per_name(s: Session, groups: Collection[int] | None, names: Collection[str]) -> dict[str, int]:
    """How many runs used a version of each named dataset."""
    if not names:
        return {}
    stmt = select(DatasetRow.name, func.count(func.distinct(RunInputRow.run_uuid))).join(
        RunInputRow, RunInputRow.dataset_uuid == DatasetRow.dataset_uuid
    )
    stmt = _in_groups(stmt, groups).where(DatasetRow.name.in_(names)).group_by(DatasetRow.name)
    return {str(n): int(c) for n, c in s.execute(stmt)}


def versions_of(s: Session, groups: Collection[int] | None, name: str) -> list[tuple[DatasetRow, str, str]]:
    """The versions of a named dataset, newest first: (row, experiment name, experiment stage)."""
    stmt = select(DatasetRow, ExperimentRow.name, ExperimentRow.lifecycle_stage)
    stmt = _in_groups(stmt, groups).where(DatasetRow.name == name)
    stmt = stmt.order_by(DatasetRow.created_at.desc(), DatasetRow.dataset_uuid)
    return [(row, str(ename), str(stage)) for row, ename, stage in s.execute(stmt)]


def runs_per_version(s: Session, dataset_ids: Collection[str]) -> dict[str, int]:
    if not dataset_ids:
        return {}
    stmt = (
        select(RunInputRow.dataset_uuid, func.count(RunInputRow.run_uuid))
        .where(RunInputRow.dataset_uuid.in_(dataset_ids))
        .group_by(RunInputRow.dataset_uuid)
    )
    return {str(d): int(c) for d, c in s.execute(stmt)}


def dataset_group(s: Session, dataset_id: str) -> tuple[DatasetRow, int] | None:
    """A dataset version and the group it belongs to (through its experiment's project)."""
    found = s.execute(
        _in_groups(select(DatasetRow, ProjectRow.group_id), None).where(DatasetRow.dataset_uuid == dataset_id)
    ).first()
    return None if found is None else (found[0], int(found[1]))


def _run_groups(stmt: Select[*_Cols], groups: Collection[int] | None) -> Select[*_Cols]:
    if groups is None:
        return stmt
    return (
        stmt.join(ExperimentRow, ExperimentRow.experiment_id == RunRow.experiment_id)
        .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
        .where(ProjectRow.group_id.in_(groups or [-1]))
    )


def runs_of_version(
    s: Session, groups: Collection[int] | None, dataset_id: str, *, offset: int, limit: int
) -> tuple[list[tuple[RunRow, dict[str, str] | None]], int]:
    """The runs (in the given groups) that used a dataset version, newest first, with the tags of
    their use (its context); and how many there are in all."""
    base = select(RunRow, RunInputRow.tags).join(RunInputRow, RunInputRow.run_uuid == RunRow.run_uuid)
    base = _run_groups(base.where(RunInputRow.dataset_uuid == dataset_id), groups)
    rows = s.execute(base.order_by(RunRow.start_time.desc(), RunRow.run_uuid).offset(offset).limit(limit))
    counted = select(func.count(RunRow.run_uuid)).join(RunInputRow, RunInputRow.run_uuid == RunRow.run_uuid)
    counted = _run_groups(counted.where(RunInputRow.dataset_uuid == dataset_id), groups)
    return [(run, tags) for run, tags in rows], int(s.scalar(counted) or 0)
