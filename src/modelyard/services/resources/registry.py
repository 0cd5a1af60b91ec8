"""Declarations of the model registry resources: ``registered_model`` and ``model_version``.

Every hook is one call into ``RegistryService`` (or ``register_from_run``), made for the acting
principal, so the registry's rules, permission checks and audit events are the same as through the
MLflow API. The resource API adds what MLflow's does not have: ids, filters over any column, bulk
actions, and a version's lineage (its run and the dataset versions that run used) shown with it.

* ``POST /model_version/api/`` with ``{"name", "run_id", "artifact_path"?, "description"?}`` is
  *convert run to model*: the run's logged model becomes a new version (the model is created when
  missing). Other sources are registered through the MLflow API.
* ``PUT /model_version/api/<id>`` with ``{"current_stage": "Production",
  "archive_existing_versions": true}`` moves a version between stages (and/or sets ``description``);
  the actions ``staging``, ``production`` and ``archive`` do the same for one or many versions.
* ``GET /model_version/api/?filters=[{"col": "datasets", "opr": "rel_m_m", "value": <dataset id>}]``
  lists the versions trained on a dataset version.

Rows belong to the registered model's group: viewers read, members change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Mapped

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal
from modelyard.domain.registry import MAX_MODEL_NAME_LENGTH, Stage, VersionStatus
from modelyard.services.registry.convert import register_from_run
from modelyard.services.registry.lineage import ReadOnlyViews, VersionDataset, model_version_lineage
from modelyard.services.resources.access import GroupScoped
from modelyard.services.resources.forms import Field, FieldType, Length, Regexp
from modelyard.services.resources.spec import (
    Action,
    Column,
    ColumnType,
    ManyToMany,
    OneToMany,
    ResourceSpec,
)
from modelyard.storage.orm import (
    GroupRow,
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelAliasRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
)
from modelyard.storage.resource_query import (
    GroupPath,
    Hop,
    Link,
    count_of,
    json_array_of,
    json_object_of,
    lookup,
)

if TYPE_CHECKING:
    from modelyard.services.container import Services

_MS = "Milliseconds since the epoch."
_STAGES = tuple(s.value for s in Stage)
_STATUSES = tuple(s.value for s in VersionStatus)
_NOT_BLANK = Regexp(r"(?s).*\S.*", "it must not be blank.")


# ---- links ---------------------------------------------------------------------------------------
_NEWEST = (
    select(
        ModelVersionRow.registered_model_id.label("model"),
        func.max(ModelVersionRow.version).label("version"),
    )
    .group_by(ModelVersionRow.registered_model_id, ModelVersionRow.current_stage)
    .subquery("newest_per_stage")
)
_LATEST = (
    select(
        ModelVersionRow.registered_model_id.label("registered_model_id"),
        ModelVersionRow.id.label("model_version_id"),
    )
    .join(
        _NEWEST,
        and_(
            ModelVersionRow.registered_model_id == _NEWEST.c.model,
            ModelVersionRow.version == _NEWEST.c.version,
        ),
    )
    .subquery("latest_model_versions")
)


class LatestVersion(ReadOnlyViews):
    """Registered model id → its newest version in each stage (MLflow's ``latest_versions``)."""

    __table__ = _LATEST
    __mapper_args__ = {"primary_key": [_LATEST.c.registered_model_id, _LATEST.c.model_version_id]}
    registered_model_id: Mapped[int]
    model_version_id: Mapped[int]


def _versions_relation(name: str, label: str, description: str, link: Link) -> Column:
    return Column(
        name,
        label,
        ColumnType.RELATION,
        description,
        listed=False,
        orderable=False,
        searchable=False,
        relation=ManyToMany("model_version", link),
    )


# ---- hooks: ids to names -------------------------------------------------------------------------
def _model_name(svc: Services, model_id: int) -> str:
    with svc.db.read() as s:
        name = s.scalar(select(RegisteredModelRow.name).where(RegisteredModelRow.id == model_id))
    if name is None:
        raise NotFound(f"No registered_model with id={model_id} exists.")
    return name


def _version_key(svc: Services, version_id: int) -> tuple[str, int]:
    with svc.db.read() as s:
        found = s.execute(
            select(RegisteredModelRow.name, ModelVersionRow.version)
            .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.registered_model_id)
            .where(ModelVersionRow.id == version_id)
        ).first()
    if found is None:
        raise NotFound(f"No model_version with id={version_id} exists.")
    return str(found[0]), int(found[1])


def version_id(svc: Services, name: str, version: int) -> int:
    """The resource id of version ``version`` of model ``name``."""
    with svc.db.read() as s:
        found = s.scalar(
            select(ModelVersionRow.id)
            .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.registered_model_id)
            .where(RegisteredModelRow.name == name, ModelVersionRow.version == version)
        )
    if found is None:
        raise NotFound(f"Model Version (name={name}, version={version}) not found")
    return int(found)


# ---- registered_model ----------------------------------------------------------------------------
def _create_model(svc: Services, actor: Principal, values: dict[str, Any]) -> int:
    model = svc.registry.create_registered_model(
        actor, name=values["name"], description=values.get("description", ""), group=values.get("group_id")
    )
    with svc.db.read() as s:
        return int(s.scalar(select(RegisteredModelRow.id).where(RegisteredModelRow.name == model.name)) or 0)


def _update_model(svc: Services, actor: Principal, key: Any, values: dict[str, Any]) -> None:
    name = _model_name(svc, key)
    if "name" in values and values["name"] != name:
        name = svc.registry.rename_registered_model(actor, name, values["name"]).name
    if "description" in values:
        svc.registry.update_registered_model(actor, name, values["description"])


def _delete_model(svc: Services, actor: Principal, key: Any) -> None:
    svc.registry.delete_registered_model(actor, _model_name(svc, key))


_MODEL_NAME_FIELD = Field(
    "name",
    "Name",
    description="Unique across the platform; no '/' or ':'.",
    required=True,
    validators=(Length(1, MAX_MODEL_NAME_LENGTH), _NOT_BLANK),
)
_DESCRIPTION_FIELD = Field("description", "Description", FieldType.TEXT, default="")

REGISTERED_MODEL = ResourceSpec(
    name="registered_model",
    label="Registered models",
    description="Named models with numbered versions, aliases and tags (the MLflow model registry). "
    "Deleting one deletes its versions and aliases.",
    row=RegisteredModelRow,
    primary_key="id",
    title_column="name",
    columns=(
        Column("id", "Id", ColumnType.INTEGER),
        Column("name", "Name"),
        Column("description", "Description", ColumnType.TEXT),
        Column(
            "group_id", "Group", ColumnType.INTEGER, "The owning group's id.", relation=OneToMany("group")
        ),
        Column(
            "group",
            "Group name",
            description="The owning group's name.",
            source=lookup(RegisteredModelRow.group_id, GroupRow.id, GroupRow.name),
        ),
        Column("user_id", "Created by"),
        Column(
            "version_count",
            "Versions",
            ColumnType.INTEGER,
            "How many versions the model has.",
            source=count_of(ModelVersionRow.registered_model_id, RegisteredModelRow.id),
        ),
        Column(
            "latest_version",
            "Latest version",
            ColumnType.INTEGER,
            "The highest version number; empty without versions.",
            source=select(func.max(ModelVersionRow.version))
            .where(ModelVersionRow.registered_model_id == RegisteredModelRow.id)
            .correlate_except(ModelVersionRow)
            .scalar_subquery(),
        ),
        Column(
            "aliases",
            "Aliases",
            ColumnType.JSON,
            "Alias → version number.",
            orderable=False,
            source=select(json_object_of(RegisteredModelAliasRow.alias, ModelVersionRow.version))
            .select_from(RegisteredModelAliasRow)
            .join(ModelVersionRow, ModelVersionRow.id == RegisteredModelAliasRow.model_version_id)
            .where(RegisteredModelAliasRow.registered_model_id == RegisteredModelRow.id)
            .correlate_except(RegisteredModelAliasRow, ModelVersionRow)
            .scalar_subquery(),
        ),
        Column(
            "tags",
            "Tags",
            ColumnType.JSON,
            listed=False,
            orderable=False,
            source=select(json_object_of(RegisteredModelTagRow.key, RegisteredModelTagRow.value))
            .where(RegisteredModelTagRow.registered_model_id == RegisteredModelRow.id)
            .correlate_except(RegisteredModelTagRow)
            .scalar_subquery(),
        ),
        Column("creation_timestamp", "Created", ColumnType.TIMESTAMP, _MS),
        Column("last_updated_timestamp", "Updated", ColumnType.TIMESTAMP, _MS),
        _versions_relation(
            "latest_versions",
            "Latest versions",
            "The newest version in each stage.",
            Link(LatestVersion, LatestVersion.registered_model_id, LatestVersion.model_version_id),
        ),
        _versions_relation(
            "versions",
            "Versions",
            "Every version of the model.",
            Link(ModelVersionRow, ModelVersionRow.registered_model_id, ModelVersionRow.id),
        ),
    ),
    order_column="last_updated_timestamp",
    add_fields=(
        _MODEL_NAME_FIELD,
        _DESCRIPTION_FIELD,
        Field(
            "group_id",
            "Group",
            FieldType.INTEGER,
            "The group that owns the model (you need the 'member' role in it); by default your first group.",
            relation="group",
        ),
    ),
    edit_fields=(_MODEL_NAME_FIELD, _DESCRIPTION_FIELD),
    actions=(
        Action(
            "delete",
            "Delete",
            _delete_model,
            "Delete the model with all its versions and aliases? This cannot be undone.",
        ),
    ),
    create=_create_model,
    update=_update_model,
    delete=_delete_model,
    access=GroupScoped(GroupPath(RegisteredModelRow.group_id)),
)


# ---- model_version -------------------------------------------------------------------------------
def _register_from_run(svc: Services, actor: Principal, values: dict[str, Any]) -> int:
    version = register_from_run(
        svc,
        actor,
        values["run_id"],
        name=values["name"],
        artifact_path=values.get("artifact_path"),
        description=values.get("description"),
    )
    return version_id(svc, version.name, version.version)


def _update_version(svc: Services, actor: Principal, key: Any, values: dict[str, Any]) -> None:
    name, number = _version_key(svc, key)
    archive = values.get("archive_existing_versions")
    if archive is not None and "current_stage" not in values:
        raise InvalidParameter(
            "'archive_existing_versions' goes with 'current_stage': it archives the other versions in the "
            "stage this version moves to."
        )
    if "description" in values:
        svc.registry.update_model_version(actor, name, number, values["description"])
    if "current_stage" in values:
        svc.registry.transition_stage(
            actor, name, number, values["current_stage"], archive_existing_versions=bool(archive)
        )


def _delete_version(svc: Services, actor: Principal, key: Any) -> None:
    name, number = _version_key(svc, key)
    svc.registry.delete_model_version(actor, name, number)


def _to_stage(stage: Stage) -> Any:
    def move(svc: Services, actor: Principal, key: Any) -> None:
        name, number = _version_key(svc, key)
        svc.registry.transition_stage(actor, name, number, stage)

    return move


_VERSION_GROUP = GroupPath(
    RegisteredModelRow.group_id, (Hop(ModelVersionRow.registered_model_id, RegisteredModelRow.id),)
)


def _version_lineage(svc: Services, actor: Principal, item: dict[str, Any]) -> dict[str, Any]:
    return {"lineage": model_version_lineage(svc, actor, item["name"], item["version"]).to_dict()}


MODEL_VERSION = ResourceSpec(
    name="model_version",
    detail=_version_lineage,
    label="Model versions",
    description="Numbered versions of registered models. Create one from a run's logged model (convert run "
    "to model): POST {name, run_id, artifact_path?, description?}. Change stage with PUT {current_stage, "
    "archive_existing_versions?} or the staging/production/archive actions.",
    row=ModelVersionRow,
    primary_key="id",
    title_column="name",
    columns=(
        Column("id", "Id", ColumnType.INTEGER),
        Column(
            "name",
            "Model",
            description="The registered model's name.",
            source=lookup(
                ModelVersionRow.registered_model_id, RegisteredModelRow.id, RegisteredModelRow.name
            ),
        ),
        Column("version", "Version", ColumnType.INTEGER),
        Column(
            "registered_model_id",
            "Registered model",
            ColumnType.INTEGER,
            relation=OneToMany("registered_model"),
        ),
        Column(
            "group_id",
            "Group",
            ColumnType.INTEGER,
            "The registered model's group.",
            relation=OneToMany("group"),
            source=lookup(
                ModelVersionRow.registered_model_id, RegisteredModelRow.id, RegisteredModelRow.group_id
            ),
        ),
        Column("current_stage", "Stage", ColumnType.ENUM, values=_STAGES),
        Column("status", "Status", ColumnType.ENUM, values=_STATUSES),
        Column(
            "aliases",
            "Aliases",
            ColumnType.JSON,
            orderable=False,
            source=select(json_array_of(RegisteredModelAliasRow.alias))
            .where(RegisteredModelAliasRow.model_version_id == ModelVersionRow.id)
            .correlate_except(RegisteredModelAliasRow)
            .scalar_subquery(),
        ),
        Column("description", "Description", ColumnType.TEXT),
        Column(
            "source",
            "Source",
            description="models:/<logged model id>, runs:/<run id>/<path>, models:/<name>/<version> "
            "or a URI.",
        ),
        Column("run_id", "Run", description="The run the model came from.", relation=OneToMany("run")),
        Column("model_id", "Logged model", description="The MLflow 3 logged model, when there is one."),
        Column(
            "storage_location",
            "Files at",
            ColumnType.TEXT,
            "The artifact URI of the version's files.",
            listed=False,
        ),
        Column("user_id", "Registered by"),
        Column("creation_timestamp", "Created", ColumnType.TIMESTAMP, _MS),
        Column("last_updated_timestamp", "Updated", ColumnType.TIMESTAMP, _MS),
        Column(
            "tags",
            "Tags",
            ColumnType.JSON,
            listed=False,
            orderable=False,
            source=select(json_object_of(ModelVersionTagRow.key, ModelVersionTagRow.value))
            .where(ModelVersionTagRow.model_version_id == ModelVersionRow.id)
            .correlate_except(ModelVersionTagRow)
            .scalar_subquery(),
        ),
        Column(
            "run",
            "Run (lineage)",
            ColumnType.RELATION,
            "The run the version was registered from, if you can see it.",
            listed=False,
            orderable=False,
            searchable=False,
            relation=ManyToMany("run", Link(ModelVersionRow, ModelVersionRow.id, ModelVersionRow.run_id)),
        ),
        Column(
            "datasets",
            "Datasets (lineage)",
            ColumnType.RELATION,
            "The dataset versions the version's run used. Filter with rel_m_m and a dataset id for the "
            "versions trained on that dataset.",
            listed=False,
            orderable=False,
            relation=ManyToMany(
                "dataset", Link(VersionDataset, VersionDataset.model_version_id, VersionDataset.dataset_uuid)
            ),
        ),
    ),
    order_column="creation_timestamp",
    add_fields=(
        Field(
            "name",
            "Model",
            description="The registered model to add the version to; created when missing.",
            required=True,
            validators=(Length(1, MAX_MODEL_NAME_LENGTH), _NOT_BLANK),
        ),
        Field("run_id", "Run", description="The run whose logged model to register.", required=True),
        Field(
            "artifact_path",
            "Artifact path",
            description="Which of the run's models (e.g. 'model'); needed when the run logged several.",
            validators=(Length(0, 1000),),
        ),
        _DESCRIPTION_FIELD,
    ),
    edit_fields=(
        Field("description", "Description", FieldType.TEXT),
        Field("current_stage", "Stage", FieldType.ENUM, values=_STAGES),
        Field(
            "archive_existing_versions",
            "Archive the others",
            FieldType.BOOLEAN,
            "With current_stage Staging or Production: move the model's other versions in that stage "
            "to Archived.",
        ),
    ),
    actions=(
        Action("staging", "Move to Staging", _to_stage(Stage.STAGING)),
        Action("production", "Move to Production", _to_stage(Stage.PRODUCTION)),
        Action("archive", "Archive", _to_stage(Stage.ARCHIVED), "Move the version to Archived?"),
    ),
    create=_register_from_run,
    update=_update_version,
    delete=_delete_version,
    access=GroupScoped(_VERSION_GROUP),
)

REGISTRY_RESOURCES = (REGISTERED_MODEL, MODEL_VERSION)
