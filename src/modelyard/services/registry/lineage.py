"""Lineage: where a model version came from, and where a dataset version went.

For a model version: the run that produced it (name, experiment, status, params), the dataset
versions that run used (with their context: ``training``, ``eval``...), its code version and a
summary of its environment. For a dataset version: the runs that used it, and the model versions
registered from those runs.

Each piece is read with the actor's own rights: the version needs the viewer role in its model's
group, the run and its datasets the viewer role in the run's group. A model version whose run the
actor cannot see shows the run's id only (the version records it) with ``run_visible`` false;
model versions of groups the actor is not in are left out of a dataset's lineage. ``VersionDataset``
is the same lineage as an SQL view, so the resource API lists a version's datasets (and filters
versions by dataset) with the same rules as everything else.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session

from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.registry import parse_version
from modelyard.domain.tracking import Run
from modelyard.services.registry.access import version_for
from modelyard.services.tracking.experiments import ExperimentService
from modelyard.storage import registry_repo as repo
from modelyard.storage.orm import (
    DatasetRow,
    ModelVersionRow,
    RunInputRow,
    RunRow,
)

if TYPE_CHECKING:
    from modelyard.services.container import Services

CONTEXT_TAG = "mlflow.data.context"
PARAMS_SHOWN = 50  # a params summary, not a dump: the run itself has them all
NOTABLE_PACKAGES = (
    "modelyard",
    "mlflow",
    "numpy",
    "pandas",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "onnx",
    "onnxruntime",
    "torch",
    "tensorflow",
)


# ---- the lineage as an SQL view (for the resource API) --------------------------------------------
class ReadOnlyViews(DeclarativeBase):
    """Read-only mappings of SELECTs (links for the resource API); their own metadata, so no migration
    ever sees them."""


_VERSION_DATASETS = (
    select(ModelVersionRow.id.label("model_version_id"), RunInputRow.dataset_uuid.label("dataset_uuid"))
    .join(RunInputRow, RunInputRow.run_uuid == ModelVersionRow.run_id)
    .subquery("model_version_datasets")
)


class VersionDataset(ReadOnlyViews):
    """Model version id → the dataset versions its run used."""

    __table__ = _VERSION_DATASETS
    __mapper_args__ = {
        "primary_key": [_VERSION_DATASETS.c.model_version_id, _VERSION_DATASETS.c.dataset_uuid]
    }
    model_version_id: Mapped[int]
    dataset_uuid: Mapped[str]


# ---- what lineage answers -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DatasetUse:
    """A dataset version, and how a run used it (``context``: None when the run did not say)."""

    dataset_id: str
    name: str
    digest: str
    source_type: str
    source: str
    experiment_id: str
    context: str | None = None


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    run_name: str
    experiment_id: str
    experiment_name: str
    status: str
    lifecycle_stage: str
    user_id: str
    start_time: int
    end_time: int | None
    param_count: int
    params: dict[str, str]  # the first PARAMS_SHOWN by key
    code_version: dict[str, Any] | None
    environment: dict[str, Any] | None  # python, platform, how many packages, the notable ones


@dataclass(frozen=True, slots=True)
class ModelVersionLineage:
    name: str
    version: int
    source: str
    model_id: str | None
    run_id: str | None
    run_visible: bool
    run: RunSummary | None
    datasets: list[DatasetUse] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RunUse:
    """A run that used a dataset version."""

    run_id: str
    run_name: str
    status: str
    lifecycle_stage: str
    start_time: int
    context: str | None


@dataclass(frozen=True, slots=True)
class VersionRef:
    name: str
    version: int
    current_stage: str
    status: str
    run_id: str
    aliases: list[str]
    creation_timestamp: int


@dataclass(frozen=True, slots=True)
class DatasetLineage:
    dataset: DatasetUse
    runs: list[RunUse]
    model_versions: list[VersionRef]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- use cases ----------------------------------------------------------------------------------
def model_version_lineage(svc: Services, actor: Principal, name: str, version: Any) -> ModelVersionLineage:
    """The run, datasets, code version and environment behind version ``version`` of model ``name``."""
    number = parse_version(version)
    with svc.db.read() as s:
        _, row = version_for(s, actor, name, number, Role.VIEWER)
        source, model_id, run_id = row.source, row.model_id, row.run_id
    run = _visible_run(svc, actor, run_id) if run_id else None
    if run is None:
        return ModelVersionLineage(name, number, source, model_id, run_id, False, None)
    with svc.db.read() as s:
        datasets = _run_datasets(s, run.run_id)
    experiment = svc.experiments.get_experiment(actor, run.experiment_id)
    summary = _summary(run, experiment.name)
    return ModelVersionLineage(name, number, source, model_id, run_id, True, summary, datasets)


def dataset_lineage(svc: Services, actor: Principal, dataset_id: str) -> DatasetLineage:
    """The runs that used dataset version ``dataset_id`` and the model versions registered from them."""
    with svc.db.read() as s:
        row = s.get(DatasetRow, dataset_id) if isinstance(dataset_id, str) else None
        group_id = None if row is None else ExperimentService.group_of(s, row.experiment_id)
        if row is None or group_id is None or actor.role_in(group_id) is None:
            raise NotFound(f"No dataset with id={dataset_id} exists (or you do not have access to it).")
        dataset = _dataset_use(row, None)
        runs = [
            RunUse(r.run_uuid, r.name, r.status, r.lifecycle_stage, r.start_time, _context(tags))
            for r, tags in s.execute(
                select(RunRow, RunInputRow.tags)
                .join(RunInputRow, RunInputRow.run_uuid == RunRow.run_uuid)
                .where(RunInputRow.dataset_uuid == dataset_id)
                .order_by(RunRow.start_time, RunRow.run_uuid)
            )
        ]
        versions = _versions_of_runs(s, [r.run_id for r in runs], actor.readable_groups())
    return DatasetLineage(dataset, runs, versions)


# ---- pieces -------------------------------------------------------------------------------------
def _visible_run(svc: Services, actor: Principal, run_id: str) -> Run | None:
    try:
        return svc.tracking.get_run(actor, run_id)
    except NotFound:  # another group's run (or one deleted for good): the version keeps its id only
        return None


def _context(tags: dict[str, str] | None) -> str | None:
    return (tags or {}).get(CONTEXT_TAG)


def _dataset_use(row: DatasetRow, context: str | None) -> DatasetUse:
    return DatasetUse(
        row.dataset_uuid,
        row.name,
        row.digest,
        row.source_type,
        row.source,
        str(row.experiment_id),
        context,
    )


def _run_datasets(s: Session, run_id: str) -> list[DatasetUse]:
    found = s.execute(
        select(DatasetRow, RunInputRow.tags)
        .join(RunInputRow, RunInputRow.dataset_uuid == DatasetRow.dataset_uuid)
        .where(RunInputRow.run_uuid == run_id)
        .order_by(DatasetRow.name, DatasetRow.created_at, DatasetRow.dataset_uuid)
    )
    return [_dataset_use(row, _context(tags)) for row, tags in found]


def _versions_of_runs(s: Session, run_ids: list[str], groups: Collection[int] | None) -> list[VersionRef]:
    if not run_ids:
        return []
    rows = repo.version_rows(s, groups=groups, run_ids=run_ids)
    rows.sort(key=lambda item: (item[1], item[0].version))
    aliases = repo.version_aliases(s, [row.id for row, _ in rows])
    return [
        VersionRef(
            name,
            row.version,
            row.current_stage,
            row.status,
            str(row.run_id),
            aliases[row.id],
            row.creation_timestamp,
        )
        for row, name in rows
    ]


def _summary(run: Run, experiment_name: str) -> RunSummary:
    params = dict(sorted(run.params.items())[:PARAMS_SHOWN])
    code = None
    if run.code_version is not None:
        code = {k: v for k, v in asdict(run.code_version).items() if v is not None}
    env = None
    if run.environment is not None:
        packages = run.environment.packages
        env = {
            "python_version": run.environment.python_version,
            "platform": run.environment.platform,
            "package_count": len(packages),
            "packages": {p: packages[p] for p in NOTABLE_PACKAGES if p in packages},
        }
    return RunSummary(
        run_id=run.run_id,
        run_name=run.run_name,
        experiment_id=run.experiment_id,
        experiment_name=experiment_name,
        status=run.status,
        lifecycle_stage=run.lifecycle_stage,
        user_id=run.user_id,
        start_time=run.start_time,
        end_time=run.end_time,
        param_count=len(run.params),
        params=params,
        code_version=code,
        environment=env,
    )
