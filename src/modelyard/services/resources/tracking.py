"""Declarations of the tracking resources: ``project``, ``experiment``, ``run`` and ``dataset``.

Each hook is one call into the service that owns the rule (``ExperimentService``, ``TrackingService``,
the project functions), made for the acting principal; nothing here writes rows itself. Experiments and
runs are deleted softly (lifecycle stage ``deleted``) and can be restored; projects are deleted for
good, and only when empty; datasets are read-only (the tracking API logs them), and show the runs that
used them.

Every row belongs to the group of its project (``GROUP_PATHS``): members of the group read it
(``viewer``), change it (``member``); renaming or deleting a project needs the group's ``admin``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from modelyard.domain.identity import Principal, Role
from modelyard.domain.tracking import LifecycleStage, RunStatus
from modelyard.services.registry.lineage import dataset_lineage
from modelyard.services.resources.access import DELETE, EDIT, GroupScoped
from modelyard.services.resources.forms import Field, FieldType, Length, Regexp
from modelyard.services.resources.projects import MAX_PROJECT_NAME_LENGTH, delete_project, update_project
from modelyard.services.resources.spec import (
    Action,
    Column,
    ColumnType,
    ManyToMany,
    OneToMany,
    ResourceSpec,
)
from modelyard.storage.orm import DatasetRow, ExperimentRow, ProjectRow, RunInputRow, RunRow
from modelyard.storage.resource_query import GroupPath, Hop, Link

if TYPE_CHECKING:
    from modelyard.services.container import Services

_NOT_BLANK = Regexp(r"(?s).*\S.*", "it must not be blank.")
_STAGES = tuple(s.value for s in LifecycleStage)
_MS = "Milliseconds since the epoch."

_TO_PROJECT = Hop(ExperimentRow.project_id, ProjectRow.id)
_TO_EXPERIMENT = {row: Hop(row.experiment_id, ExperimentRow.experiment_id) for row in (RunRow, DatasetRow)}
GROUP_PATHS = {
    "project": GroupPath(ProjectRow.group_id),
    "experiment": GroupPath(ProjectRow.group_id, (_TO_PROJECT,)),
    "run": GroupPath(ProjectRow.group_id, (_TO_EXPERIMENT[RunRow], _TO_PROJECT)),
    "dataset": GroupPath(ProjectRow.group_id, (_TO_EXPERIMENT[DatasetRow], _TO_PROJECT)),
}
"""How each tracking row reaches its group: project directly, experiment through its project, runs and
datasets through their experiment's project."""


def _name_field(what: str, max_length: int) -> Field:
    return Field(
        "name",
        "Name",
        description=f"A unique name for the {what}.",
        required=True,
        validators=(Length(1, max_length), _NOT_BLANK),
    )


def _stage_column() -> Column:
    return Column(
        "lifecycle_stage",
        "Lifecycle stage",
        ColumnType.ENUM,
        "'deleted' items can be restored.",
        values=_STAGES,
    )


# ---- project -----------------------------------------------------------------------------------
def _create_project(svc: Services, actor: Principal, values: dict[str, Any]) -> int:
    project = svc.experiments.create_project(
        actor, name=values["name"], description=values.get("description", ""), group=values.get("group_id")
    )
    return project.id


def _update_project(svc: Services, actor: Principal, key: Any, values: dict[str, Any]) -> None:
    update_project(svc.db, actor, key, name=values.get("name"), description=values.get("description"))


def _delete_project(svc: Services, actor: Principal, key: Any) -> None:
    delete_project(svc.db, actor, key)


_PROJECT_FIELDS = (
    _name_field("project", MAX_PROJECT_NAME_LENGTH),
    Field("description", "Description", FieldType.TEXT, "What the project is for.", default=""),
)
_GROUP_FIELD = Field(
    "group_id",
    "Group",
    FieldType.INTEGER,
    "The group that owns the project (you need the 'member' role in it); by default your first group.",
    relation="group",
)

PROJECT = ResourceSpec(
    name="project",
    label="Projects",
    description="A project groups experiments. Deleting one is refused while it has experiments.",
    row=ProjectRow,
    primary_key="id",
    title_column="name",
    columns=(
        Column("id", "Id", ColumnType.INTEGER),
        Column("name", "Name"),
        Column("description", "Description", ColumnType.TEXT),
        Column(
            "group_id", "Group", ColumnType.INTEGER, "The owning group's id.", relation=OneToMany("group")
        ),
        Column("created_at", "Created", ColumnType.TIMESTAMP, _MS),
        Column("updated_at", "Updated", ColumnType.TIMESTAMP, _MS),
    ),
    order_column="created_at",
    add_fields=(*_PROJECT_FIELDS, _GROUP_FIELD),
    edit_fields=_PROJECT_FIELDS,
    create=_create_project,
    update=_update_project,
    delete=_delete_project,
    access=GroupScoped(GROUP_PATHS["project"], roles={EDIT: Role.ADMIN, DELETE: Role.ADMIN}),
)


# ---- experiment --------------------------------------------------------------------------------
def _create_experiment(svc: Services, actor: Principal, values: dict[str, Any]) -> int:
    eid = svc.experiments.create_experiment(
        actor,
        name=values["name"],
        artifact_location=values.get("artifact_location"),
        project=values.get("project_id"),
    )
    return int(eid)


def _rename_experiment(svc: Services, actor: Principal, key: Any, values: dict[str, Any]) -> None:
    svc.experiments.rename_experiment(actor, key, values["name"])


def _delete_experiment(svc: Services, actor: Principal, key: Any) -> None:
    svc.experiments.set_lifecycle(actor, key, LifecycleStage.DELETED)


def _restore_experiment(svc: Services, actor: Principal, key: Any) -> None:
    svc.experiments.set_lifecycle(actor, key, LifecycleStage.ACTIVE)


EXPERIMENT = ResourceSpec(
    name="experiment",
    label="Experiments",
    description="MLflow experiments. Deleting one marks it and its runs deleted; restore brings them back.",
    row=ExperimentRow,
    primary_key="experiment_id",
    title_column="name",
    columns=(
        Column("experiment_id", "Id", ColumnType.INTEGER),
        Column("name", "Name"),
        Column("artifact_location", "Artifact location", ColumnType.TEXT),
        _stage_column(),
        Column("creation_time", "Created", ColumnType.TIMESTAMP, _MS),
        Column("last_update_time", "Updated", ColumnType.TIMESTAMP, _MS),
        Column(
            "project_id", "Project", ColumnType.INTEGER, "The project's id.", relation=OneToMany("project")
        ),
    ),
    order_column="creation_time",
    add_fields=(
        _name_field("experiment", 500),
        Field(
            "artifact_location",
            "Artifact location",
            FieldType.TEXT,
            "Where artifacts go; by default the server's artifact store (mlflow-artifacts:/<id>).",
            validators=(Length(1, 4000),),
        ),
        Field(
            "project_id",
            "Project",
            FieldType.INTEGER,
            "The default project when left out.",
            relation="project",
        ),
    ),
    edit_fields=(_name_field("experiment", 500),),
    actions=(
        Action(
            "delete",
            "Delete",
            _delete_experiment,
            "Delete the experiment and its runs? They can be restored.",
        ),
        Action("restore", "Restore", _restore_experiment, "Restore the experiment and its runs?"),
    ),
    create=_create_experiment,
    update=_rename_experiment,
    delete=_delete_experiment,
    access=GroupScoped(GROUP_PATHS["experiment"]),
)


# ---- run ---------------------------------------------------------------------------------------
def _update_run(svc: Services, actor: Principal, key: Any, values: dict[str, Any]) -> None:
    svc.tracking.update_run(actor, key, status=values.get("status"), run_name=values.get("name"))


def _delete_run(svc: Services, actor: Principal, key: Any) -> None:
    svc.tracking.set_run_lifecycle(actor, key, LifecycleStage.DELETED)


def _restore_run(svc: Services, actor: Principal, key: Any) -> None:
    svc.tracking.set_run_lifecycle(actor, key, LifecycleStage.ACTIVE)


_STATUSES = tuple(s.value for s in RunStatus)

RUN = ResourceSpec(
    name="run",
    label="Runs",
    description="Tracked runs. Created by the tracking API; here they can be renamed, given a status, "
    "deleted and restored.",
    row=RunRow,
    primary_key="run_uuid",
    title_column="name",
    columns=(
        Column("run_uuid", "Id"),
        Column("name", "Name"),
        Column("experiment_id", "Experiment", ColumnType.INTEGER, relation=OneToMany("experiment")),
        Column("user_id", "User"),
        Column("status", "Status", ColumnType.ENUM, values=_STATUSES),
        Column("start_time", "Started", ColumnType.TIMESTAMP, _MS),
        Column("end_time", "Ended", ColumnType.TIMESTAMP, _MS + " Empty while the run is going."),
        _stage_column(),
        Column("parent_run_id", "Parent run", description="Set on nested runs.", relation=OneToMany("run")),
        Column("code_version", "Code version", ColumnType.JSON, listed=False, orderable=False),
        Column("environment", "Environment", ColumnType.JSON, listed=False, orderable=False),
        Column(
            "datasets",
            "Datasets",
            ColumnType.RELATION,
            "Datasets the run used (its inputs).",
            listed=False,
            orderable=False,
            relation=ManyToMany("dataset", Link(RunInputRow, RunInputRow.run_uuid, RunInputRow.dataset_uuid)),
        ),
    ),
    order_column="start_time",
    edit_fields=(
        Field("name", "Name", required=True, validators=(Length(1, 500), _NOT_BLANK)),
        Field("status", "Status", FieldType.ENUM, "A final status also sets the end time.", values=_STATUSES),
    ),
    actions=(
        Action("delete", "Delete", _delete_run, "Delete the run? It can be restored."),
        Action("restore", "Restore", _restore_run, "Restore the run?"),
    ),
    update=_update_run,
    delete=_delete_run,
    access=GroupScoped(GROUP_PATHS["run"]),
)


# ---- dataset -----------------------------------------------------------------------------------
def _dataset_versions(svc: Services, actor: Principal, item: dict[str, Any]) -> dict[str, Any]:
    """The model versions registered from runs that used this dataset version (its lineage)."""
    found = dataset_lineage(svc, actor, item["dataset_uuid"])
    return {"model_versions": [asdict(v) for v in found.model_versions]}


DATASET = ResourceSpec(
    name="dataset",
    detail=_dataset_versions,
    label="Datasets",
    description="Dataset versions logged as run inputs; one per experiment, name and digest.",
    row=DatasetRow,
    primary_key="dataset_uuid",
    title_column="name",
    columns=(
        Column("dataset_uuid", "Id"),
        Column("name", "Name"),
        Column("digest", "Digest"),
        Column("source_type", "Source type"),
        Column("source", "Source", ColumnType.TEXT),
        Column("schema", "Schema", ColumnType.TEXT, listed=False, searchable=False, orderable=False),
        Column("profile", "Profile", ColumnType.TEXT, listed=False, searchable=False, orderable=False),
        Column("experiment_id", "Experiment", ColumnType.INTEGER, relation=OneToMany("experiment")),
        Column("created_at", "Created", ColumnType.TIMESTAMP, _MS),
        Column(
            "runs",
            "Runs",
            ColumnType.RELATION,
            "Runs that used this dataset.",
            listed=False,
            orderable=False,
            relation=ManyToMany("run", Link(RunInputRow, RunInputRow.dataset_uuid, RunInputRow.run_uuid)),
        ),
    ),
    order_column="created_at",
    access=GroupScoped(GROUP_PATHS["dataset"]),
)

TRACKING_RESOURCES = (PROJECT, EXPERIMENT, RUN, DATASET)
