"""Registry rows in and out: registered models, versions, their tags and aliases; and the lookups a
version's source needs (which group a run, logged model or experiment belongs to, and where its
files are). Functions only read, add and flush; the calling service owns the transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from modelyard.domain.registry import ModelVersion, RegisteredModel, latest_per_stage
from modelyard.storage.orm import (
    ExperimentRow,
    LoggedModelRow,
    ModelVersionRow,
    ModelVersionTagRow,
    ProjectRow,
    RegisteredModelAliasRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
    RunRow,
)

# ---- registered models --------------------------------------------------------------------------


def model_row(s: Session, name: str, *, for_update: bool = False) -> RegisteredModelRow | None:
    stmt = select(RegisteredModelRow).where(RegisteredModelRow.name == name)
    return s.scalar(stmt.with_for_update() if for_update else stmt)


@dataclass(frozen=True, slots=True)
class ModelKeys:
    """What a search filters and orders registered models by."""

    id: int
    name: str
    creation_timestamp: int
    last_updated_timestamp: int


def model_keys(
    s: Session, *, groups: Collection[int] | None, names: Collection[str] | None = None
) -> list[ModelKeys]:
    """The models in the given groups (None: all), optionally only those with the given names, as
    a search's candidates (not whole rows)."""
    stmt = select(
        RegisteredModelRow.id,
        RegisteredModelRow.name,
        RegisteredModelRow.creation_timestamp,
        RegisteredModelRow.last_updated_timestamp,
    )
    if groups is not None:
        stmt = stmt.where(RegisteredModelRow.group_id.in_(groups or [-1]))
    if names is not None:
        stmt = stmt.where(RegisteredModelRow.name.in_(names or [""]))
    return [ModelKeys(int(i), str(n), int(c), int(u)) for i, n, c, u in s.execute(stmt)]


def models_by_id(s: Session, ids: Sequence[int]) -> list[RegisteredModelRow]:
    """The models with the given ids, in the order given."""
    if not ids:
        return []
    found = {r.id: r for r in s.scalars(select(RegisteredModelRow).where(RegisteredModelRow.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def model_tags(s: Session, model_ids: Collection[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {i: {} for i in model_ids}
    if model_ids:
        for mid, key, value in s.execute(
            select(
                RegisteredModelTagRow.registered_model_id,
                RegisteredModelTagRow.key,
                RegisteredModelTagRow.value,
            )
            .where(RegisteredModelTagRow.registered_model_id.in_(model_ids))
            .order_by(RegisteredModelTagRow.key)
        ):
            out[mid][key] = value
    return out


def model_aliases(s: Session, model_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Per model: alias -> version number."""
    out: dict[int, dict[str, int]] = {i: {} for i in model_ids}
    if model_ids:
        for mid, alias, version in s.execute(
            select(
                RegisteredModelAliasRow.registered_model_id,
                RegisteredModelAliasRow.alias,
                ModelVersionRow.version,
            )
            .join(ModelVersionRow, ModelVersionRow.id == RegisteredModelAliasRow.model_version_id)
            .where(RegisteredModelAliasRow.registered_model_id.in_(model_ids))
            .order_by(RegisteredModelAliasRow.alias)
        ):
            out[mid][alias] = version
    return out


def set_model_tag(s: Session, model_id: int, key: str, value: str) -> str | None:
    """Set a tag; returns its previous value (None if it was not set)."""
    row = s.get(RegisteredModelTagRow, (model_id, key))
    if row is None:
        s.add(RegisteredModelTagRow(registered_model_id=model_id, key=key, value=value))
        s.flush()
        return None
    before, row.value = row.value, value
    return before


def delete_model_tag(s: Session, model_id: int, key: str) -> None:
    s.execute(
        delete(RegisteredModelTagRow).where(
            RegisteredModelTagRow.registered_model_id == model_id, RegisteredModelTagRow.key == key
        )
    )


def load_models(s: Session, rows: Sequence[RegisteredModelRow]) -> list[RegisteredModel]:
    """Models with their tags, aliases and latest version per stage, in the order given."""
    ids = [r.id for r in rows]
    tags = model_tags(s, ids)
    aliases = model_aliases(s, ids)
    latest = _latest_versions(s, rows)
    return [
        RegisteredModel(
            name=r.name,
            group_id=r.group_id,
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            user_id=r.user_id,
            description=r.description,
            tags=tags[r.id],
            aliases=aliases[r.id],
            latest_versions=latest[r.id],
        )
        for r in rows
    ]


def _latest_versions(s: Session, rows: Sequence[RegisteredModelRow]) -> dict[int, list[ModelVersion]]:
    ids = [r.id for r in rows]
    out: dict[int, list[ModelVersion]] = {i: [] for i in ids}
    if not ids:
        return out
    newest = (
        select(
            ModelVersionRow.registered_model_id.label("mid"),
            ModelVersionRow.current_stage.label("stage"),
            func.max(ModelVersionRow.version).label("version"),
        )
        .where(ModelVersionRow.registered_model_id.in_(ids))
        .group_by(ModelVersionRow.registered_model_id, ModelVersionRow.current_stage)
        .subquery()
    )
    version_rows = list(
        s.scalars(
            select(ModelVersionRow).join(
                newest,
                (ModelVersionRow.registered_model_id == newest.c.mid)
                & (ModelVersionRow.version == newest.c.version),
            )
        )
    )
    for row, version in zip(version_rows, load_versions(s, version_rows, names_by_id(rows)), strict=True):
        out[row.registered_model_id].append(version)
    return {mid: latest_per_stage(vs) for mid, vs in out.items()}


def delete_model(s: Session, row: RegisteredModelRow) -> None:
    """Delete a model with its versions, tags and aliases (explicitly, not trusting FK cascades)."""
    version_ids = select(ModelVersionRow.id).where(ModelVersionRow.registered_model_id == row.id)
    s.execute(delete(RegisteredModelAliasRow).where(RegisteredModelAliasRow.registered_model_id == row.id))
    s.execute(delete(ModelVersionTagRow).where(ModelVersionTagRow.model_version_id.in_(version_ids)))
    s.execute(delete(ModelVersionRow).where(ModelVersionRow.registered_model_id == row.id))
    s.execute(delete(RegisteredModelTagRow).where(RegisteredModelTagRow.registered_model_id == row.id))
    s.delete(row)
    s.flush()


# ---- versions -----------------------------------------------------------------------------------


def next_version(s: Session, model_id: int) -> int:
    """Take the model's next version number. The UPDATE locks the model's row until commit, so
    concurrent creates are serialized and each gets its own number."""
    number = s.execute(
        update(RegisteredModelRow)
        .where(RegisteredModelRow.id == model_id)
        .values(last_version=RegisteredModelRow.last_version + 1)
        .returning(RegisteredModelRow.last_version)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return int(number)


def version_row(s: Session, model_id: int, version: int) -> ModelVersionRow | None:
    return s.scalar(
        select(ModelVersionRow).where(
            ModelVersionRow.registered_model_id == model_id, ModelVersionRow.version == version
        )
    )


def versions_of(s: Session, model_id: int) -> list[ModelVersionRow]:
    return list(
        s.scalars(
            select(ModelVersionRow)
            .where(ModelVersionRow.registered_model_id == model_id)
            .order_by(ModelVersionRow.version)
        )
    )


def versions_below(s: Session, model_id: int, below: int | None, limit: int) -> list[ModelVersionRow]:
    """Up to ``limit`` versions of a model numbered below ``below`` (None: from the newest), newest first."""
    stmt = select(ModelVersionRow).where(ModelVersionRow.registered_model_id == model_id)
    if below is not None:
        stmt = stmt.where(ModelVersionRow.version < below)
    return list(s.scalars(stmt.order_by(ModelVersionRow.version.desc()).limit(limit)))


def version_rows(
    s: Session,
    *,
    groups: Collection[int] | None,
    names: Collection[str] | None = None,
    run_ids: Collection[str] | None = None,
) -> list[tuple[ModelVersionRow, str]]:
    """Versions (with their model's name) of models in the given groups (None: all), optionally
    only of the named models or from the given runs."""
    stmt = select(ModelVersionRow, RegisteredModelRow.name).join(
        RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.registered_model_id
    )
    if groups is not None:
        stmt = stmt.where(RegisteredModelRow.group_id.in_(groups or [-1]))
    if names is not None:
        stmt = stmt.where(RegisteredModelRow.name.in_(names or [""]))
    if run_ids is not None:
        stmt = stmt.where(ModelVersionRow.run_id.in_(run_ids or [""]))
    return [(row, name) for row, name in s.execute(stmt)]


def versions_by_run(
    s: Session, run_ids: Collection[str], *, groups: Collection[int] | None, per_run: int
) -> dict[str, tuple[list[tuple[str, int]], int]]:
    """Per run: the first ``per_run`` versions registered from it (model name, version number; by
    name and number) in the given groups' models, and how many there are in all."""
    if not run_ids:
        return {}
    place = (
        func.row_number()
        .over(
            partition_by=ModelVersionRow.run_id,
            order_by=(RegisteredModelRow.name, ModelVersionRow.version),
        )
        .label("place")
    )
    total = func.count().over(partition_by=ModelVersionRow.run_id).label("total")
    inner = (
        select(ModelVersionRow.run_id, RegisteredModelRow.name, ModelVersionRow.version, place, total)
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.registered_model_id)
        .where(ModelVersionRow.run_id.in_(run_ids))
    )
    if groups is not None:
        inner = inner.where(RegisteredModelRow.group_id.in_(groups or [-1]))
    ranked = inner.subquery()
    out: dict[str, tuple[list[tuple[str, int]], int]] = {}
    for run_id, name, version, _, count in s.execute(
        select(ranked).where(ranked.c.place <= per_run).order_by(ranked.c.run_id, ranked.c.place)
    ):
        out.setdefault(str(run_id), ([], int(count)))[0].append((str(name), int(version)))
    return out


def version_tags(s: Session, version_ids: Collection[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {i: {} for i in version_ids}
    if version_ids:
        for vid, key, value in s.execute(
            select(ModelVersionTagRow.model_version_id, ModelVersionTagRow.key, ModelVersionTagRow.value)
            .where(ModelVersionTagRow.model_version_id.in_(version_ids))
            .order_by(ModelVersionTagRow.key)
        ):
            out[vid][key] = value
    return out


def version_aliases(s: Session, version_ids: Collection[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in version_ids}
    if version_ids:
        for vid, alias in s.execute(
            select(RegisteredModelAliasRow.model_version_id, RegisteredModelAliasRow.alias)
            .where(RegisteredModelAliasRow.model_version_id.in_(version_ids))
            .order_by(RegisteredModelAliasRow.alias)
        ):
            out[vid].append(alias)
    return out


def set_version_tag(s: Session, version_id: int, key: str, value: str) -> str | None:
    row = s.get(ModelVersionTagRow, (version_id, key))
    if row is None:
        s.add(ModelVersionTagRow(model_version_id=version_id, key=key, value=value))
        s.flush()
        return None
    before, row.value = row.value, value
    return before


def delete_version_tag(s: Session, version_id: int, key: str) -> None:
    s.execute(
        delete(ModelVersionTagRow).where(
            ModelVersionTagRow.model_version_id == version_id, ModelVersionTagRow.key == key
        )
    )


def load_versions(
    s: Session,
    rows: Sequence[ModelVersionRow],
    names: dict[int, str],
    tags: dict[int, dict[str, str]] | None = None,
) -> list[ModelVersion]:
    """Versions with their tags and aliases, in the order given; ``names`` maps model id to name."""
    ids = [r.id for r in rows]
    tags = tags if tags is not None else version_tags(s, ids)
    aliases = version_aliases(s, ids)
    return [
        ModelVersion(
            name=names[r.registered_model_id],
            version=r.version,
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            user_id=r.user_id,
            current_stage=r.current_stage,
            description=r.description,
            source=r.source,
            run_id=r.run_id,
            status=r.status,
            status_message=r.status_message,
            run_link=r.run_link,
            model_id=r.model_id,
            storage_location=r.storage_location,
            tags=tags.get(r.id, {}),
            aliases=aliases[r.id],
        )
        for r in rows
    ]


def delete_version(s: Session, row: ModelVersionRow) -> None:
    s.execute(delete(RegisteredModelAliasRow).where(RegisteredModelAliasRow.model_version_id == row.id))
    s.execute(delete(ModelVersionTagRow).where(ModelVersionTagRow.model_version_id == row.id))
    s.delete(row)
    s.flush()


# ---- aliases ------------------------------------------------------------------------------------


def alias_row(s: Session, model_id: int, alias: str) -> RegisteredModelAliasRow | None:
    return s.get(RegisteredModelAliasRow, (model_id, alias))


def aliased_version(s: Session, model_id: int, alias: str) -> ModelVersionRow | None:
    return s.scalar(
        select(ModelVersionRow)
        .join(RegisteredModelAliasRow, RegisteredModelAliasRow.model_version_id == ModelVersionRow.id)
        .where(
            RegisteredModelAliasRow.registered_model_id == model_id, RegisteredModelAliasRow.alias == alias
        )
    )


# ---- what sources point at ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceScope:
    """The group a source belongs to and where its files are."""

    group_id: int
    location: str
    run_id: str | None = None


def logged_model_scope(s: Session, model_id: str) -> SourceScope | None:
    found = s.execute(
        select(LoggedModelRow.artifact_location, ProjectRow.group_id, LoggedModelRow.source_run_id)
        .join(ExperimentRow, ExperimentRow.experiment_id == LoggedModelRow.experiment_id)
        .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
        .where(LoggedModelRow.model_id == model_id, LoggedModelRow.lifecycle_stage == "active")
    ).first()
    return None if found is None else SourceScope(int(found[1]), str(found[0]), found[2])


def run_scope(s: Session, run_id: str) -> SourceScope | None:
    found = s.execute(
        select(RunRow.artifact_uri, ProjectRow.group_id)
        .join(ExperimentRow, ExperimentRow.experiment_id == RunRow.experiment_id)
        .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
        .where(RunRow.run_uuid == run_id)
    ).first()
    return None if found is None else SourceScope(int(found[1]), str(found[0]), run_id)


def experiment_group(s: Session, experiment_id: int) -> int | None:
    return s.scalar(
        select(ProjectRow.group_id)
        .join(ExperimentRow, ExperimentRow.project_id == ProjectRow.id)
        .where(ExperimentRow.experiment_id == experiment_id)
    )


def names_by_id(rows: Iterable[RegisteredModelRow]) -> dict[int, str]:
    return {r.id: r.name for r in rows}


def run_logged_model_location(s: Session, run_id: str, name: str) -> str | None:
    """Where MLflow 3 keeps the model a run logged under ``name`` (a logged model of its own)."""
    return s.scalar(
        select(LoggedModelRow.artifact_location)
        .where(
            LoggedModelRow.source_run_id == run_id,
            LoggedModelRow.name == name,
            LoggedModelRow.lifecycle_stage == "active",
        )
        .order_by(LoggedModelRow.creation_timestamp_ms.desc())
        .limit(1)
    )
