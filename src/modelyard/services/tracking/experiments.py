"""Projects and experiments: create, rename, delete/restore, tags, search.

An experiment belongs to one project, and a project to one group: the actor's role in that group
decides what they may do (viewer reads, member writes). Without a named project an experiment goes
to the default project of the actor's default group. Every change is audited. Its artifact
location defaults to ``mlflow-artifacts:/<id>``, which the server's artifact proxy resolves against
its artifact root, so clients never need store credentials.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.domain.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from modelyard.domain.identity import DEFAULT_GROUP_NAME, Principal, Role
from modelyard.domain.registry import lies_under
from modelyard.domain.search import Comparison, Entity, Op, parse_experiment_filter, parse_experiment_order_by
from modelyard.domain.tracking import (
    DEFAULT_PROJECT_NAME,
    MAX_ENTITY_NAME_LENGTH,
    MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    SEARCH_EXPERIMENTS_DEFAULT,
    SEARCH_EXPERIMENTS_MAX,
    Experiment,
    LifecycleStage,
    Project,
    ViewType,
    validate_key,
    validate_text,
    validate_value,
)
from modelyard.domain.values import artifact_subpath, ascii_digits
from modelyard.services.audit import record
from modelyard.services.common import check_max_results, decode_page_token, encode_page_token, now_ms
from modelyard.storage import tracking_repo as repo
from modelyard.storage.db import Database
from modelyard.storage.orm import ExperimentRow, ExperimentTagRow, GroupRow, ProjectRow
from modelyard.storage.search_sql import search_experiment_ids


def _project(row: ProjectRow) -> Project:
    return Project(row.id, row.name, row.description, row.created_at, row.updated_at)


MAX_PROJECT_NAME_LENGTH = 250
_MAX_ID = 2**31 - 1  # experiment ids are 32-bit integer columns


def _validate_name(name: Any, what: str = "experiment", limit: int = MAX_ENTITY_NAME_LENGTH) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"Invalid {what} name: '{name}'. The name must be a non-empty string.")
    if len(name) > limit:
        raise InvalidParameter(f"Invalid {what} name: it has {len(name)} characters, the limit is {limit}.")
    return name


def parse_experiment_id(raw: Any) -> int:
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid experiment id '{raw}': experiment ids are integers.") from None
    if not 0 <= value <= _MAX_ID:
        raise InvalidParameter(f"Invalid experiment id '{raw}': ids are between 0 and {_MAX_ID}.")
    return value


def _location_key(uri: str) -> str:
    """A location as comparable text: a local path resolved, a URI without its trailing slash."""
    if "://" not in uri and not uri.startswith("mlflow-artifacts:"):
        return str(Path(uri).expanduser().resolve())
    if uri.startswith("file://"):
        return str(Path(unquote(urlparse(uri).path)).resolve())
    return uri.rstrip("/")


class ExperimentService:
    def __init__(self, db: Database, *, member_artifact_roots: list[str] | None = None) -> None:
        self.db = db
        self.member_roots = [_location_key(r) for r in member_artifact_roots or []]

    def _check_location(self, s: Session, actor: Principal, location: str) -> str:
        """An experiment's chosen artifact location: no '..' for anyone; for a member, a place under one of
        the configured member roots that no other experiment's location contains or lies in (the data
        dir, another group's artifacts and the server's own store are outside them)."""
        location = validate_text("artifact_location", location, 4000, required=True) or ""
        parsed = urlparse(location)
        artifact_subpath(parsed.path if parsed.scheme else location, "artifact_location")
        if actor.is_admin:
            return location
        key = _location_key(location)
        roots = ", ".join(self.member_roots) or "none are configured (MODELYARD_MEMBER_ARTIFACT_ROOTS)"
        refusal = PermissionDenied(
            f"Permission denied: artifact location '{location}' needs a platform admin; members leave it out "
            f"(the server's store) or choose a place under a member artifact root: {roots}."
        )
        if not any(lies_under(key, root) and key != root for root in self.member_roots):
            raise refusal
        for other in s.scalars(select(ExperimentRow.artifact_location)):
            other_key = _location_key(other)
            if lies_under(key, other_key) or lies_under(other_key, key):
                raise refusal
        return location

    # ---- access ---------------------------------------------------------------------------------
    @staticmethod
    def group_of(s: Session, experiment_id: int) -> int | None:
        return s.scalar(
            select(ProjectRow.group_id)
            .join(ExperimentRow, ExperimentRow.project_id == ProjectRow.id)
            .where(ExperimentRow.experiment_id == experiment_id)
        )

    def _access(self, s: Session, actor: Principal, eid: int, role: Role) -> int:
        """The experiment's group, after checking the actor's role in it (missing and hidden look alike)."""
        group_id = self.group_of(s, eid)
        missing = f"No Experiment with id={eid} exists"
        if group_id is None:
            raise NotFound(missing)
        actor.require(group_id, role, what=f"Experiment {eid}", missing=missing)
        return group_id

    def require_access(self, actor: Principal, experiment_id: Any, role: Role) -> int:
        """Check the actor's role on an experiment's group (for artifact and run callers); returns the group."""
        eid = parse_experiment_id(experiment_id)
        with self.db.read() as s:
            return self._access(s, actor, eid, role)

    # ---- projects -------------------------------------------------------------------------------
    def create_project(
        self, actor: Principal, *, name: str, description: str = "", group: int | str | None = None
    ) -> Project:
        name = _validate_name(name, "project", MAX_PROJECT_NAME_LENGTH)
        with self.db.write() as s:
            group_id = self.group_for(s, actor, group)
            actor.require(group_id, Role.MEMBER, what=f"Group {group}")
            if s.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
                raise AlreadyExists(f"Project(name={name}) already exists.")
            now = now_ms()
            row = ProjectRow(
                name=name, description=description or "", group_id=group_id, created_at=now, updated_at=now
            )
            s.add(row)
            s.flush()
            record(
                s,
                actor,
                resource_type="project",
                resource_id=row.id,
                resource_name=name,
                action="create",
                group_id=group_id,
                after={"name": name, "description": row.description, "group_id": group_id},
            )
            return _project(row)

    def get_project(self, actor: Principal, project_id: int) -> Project:
        with self.db.read() as s:
            row = s.get(ProjectRow, project_id)
            missing = f"No project with id={project_id} exists."
            if row is None:
                raise NotFound(missing)
            actor.require(row.group_id, Role.VIEWER, what=f"Project {project_id}", missing=missing)
            return _project(row)

    @staticmethod
    def group_for(s: Session, actor: Principal, group: int | str | None) -> int:
        if group is None:
            writable = actor.writable_groups()
            stmt = select(GroupRow.id).order_by(GroupRow.name != DEFAULT_GROUP_NAME, GroupRow.name)
            if writable is not None:
                stmt = stmt.where(GroupRow.id.in_(writable or [-1]))
            gid = s.scalar(stmt)
            if gid is None:
                raise PermissionDenied(
                    f"Permission denied: user '{actor.username}' is not a member of any group they can write "
                    "to; ask a group admin to add them (`modelyard groups add-member`)."
                )
            return int(gid)
        if isinstance(group, int) or (isinstance(group, str) and ascii_digits(group, 10)):
            number = int(group)  # beyond the 32-bit id column, PostgreSQL refuses to compare: none such
            gid = (
                s.scalar(select(GroupRow.id).where(GroupRow.id == number)) if 0 <= number <= _MAX_ID else None
            )
        else:
            gid = s.scalar(select(GroupRow.id).where(GroupRow.name == group))
        if gid is None or actor.role_in(int(gid)) is None:
            raise NotFound(f"No group '{group}' exists (or you are not a member of it).")
        return int(gid)

    def _project_for_new_experiment(
        self, s: Session, actor: Principal, project: int | str | None, group: int | str | None = None
    ) -> ProjectRow:
        if project is None:
            gid = self.group_for(s, actor, group)
            group_name = s.scalar(select(GroupRow.name).where(GroupRow.id == gid))
            name = DEFAULT_PROJECT_NAME if group_name == DEFAULT_GROUP_NAME else group_name
            row = s.scalar(select(ProjectRow).where(ProjectRow.name == name, ProjectRow.group_id == gid))
            if row is None:
                row = s.scalar(select(ProjectRow).where(ProjectRow.group_id == gid).order_by(ProjectRow.id))
        elif isinstance(project, int) or (isinstance(project, str) and ascii_digits(project, 10)):
            number = int(project)
            row = s.get(ProjectRow, number) if 0 <= number <= _MAX_ID else None
        else:
            row = s.scalar(select(ProjectRow).where(ProjectRow.name == project))
        if row is None or actor.role_in(row.group_id) is None:
            raise NotFound(f"No project '{project}' exists (or you have no access to it).")
        actor.require(row.group_id, Role.MEMBER, what=f"Project '{row.name}'")
        return row

    # ---- experiments ----------------------------------------------------------------------------
    def create_experiment(
        self,
        actor: Principal,
        *,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, str] | None = None,
        project: int | str | None = None,
        group: int | str | None = None,
    ) -> str:
        """``group`` (when no ``project`` is named): the experiment goes to that group's default
        project; without either, to the actor's default group's."""
        name = _validate_name(name)
        tags = self._checked_tags(tags or {})
        try:
            with self.db.write() as s:
                existing = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
                if existing is not None:
                    if existing.lifecycle_stage == LifecycleStage.DELETED:
                        raise AlreadyExists(
                            f"Experiment(name={name}) already exists in deleted state. Restore it "
                            "(experiments/restore) or choose another name."
                        )
                    raise AlreadyExists(f"Experiment(name={name}) already exists.")
                proj = self._project_for_new_experiment(s, actor, project, group)
                if artifact_location:
                    artifact_location = self._check_location(s, actor, artifact_location)
                now = now_ms()
                row = ExperimentRow(
                    name=name,
                    artifact_location=artifact_location or "",
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                    project_id=proj.id,
                )
                s.add(row)
                s.flush()
                if not artifact_location:
                    row.artifact_location = f"mlflow-artifacts:/{row.experiment_id}"
                repo.upsert_experiment_tags(s, row.experiment_id, tags)
                record(
                    s,
                    actor,
                    resource_type="experiment",
                    resource_id=row.experiment_id,
                    resource_name=name,
                    action="create",
                    group_id=proj.group_id,
                    after={
                        "name": name,
                        "artifact_location": row.artifact_location,
                        "project_id": proj.id,
                        "tags": tags,
                    },
                )
                return str(row.experiment_id)
        except IntegrityError:
            # Lost a race with a concurrent create of the same name.
            raise AlreadyExists(f"Experiment(name={name}) already exists.") from None

    def get_experiment(self, actor: Principal, experiment_id: Any) -> Experiment:
        eid = parse_experiment_id(experiment_id)
        with self.db.read() as s:
            self._access(s, actor, eid, Role.VIEWER)
            found = repo.load_experiments(s, [eid])
        if not found:
            raise NotFound(f"No Experiment with id={experiment_id} exists")
        return found[0]

    def get_experiment_by_name(self, actor: Principal, name: str) -> Experiment:
        if not name:
            raise InvalidParameter("Missing value for required parameter 'experiment_name'.")
        missing = NotFound(f"Could not find experiment with name '{name}'")
        with self.db.read() as s:
            eid = s.scalar(select(ExperimentRow.experiment_id).where(ExperimentRow.name == name))
            if eid is None:
                raise missing
            group_id = self.group_of(s, eid)
            if group_id is None or actor.role_in(group_id) is None:
                raise missing
            found = repo.load_experiments(s, [eid])
        if not found:
            raise missing
        return found[0]

    def rename_experiment(self, actor: Principal, experiment_id: Any, new_name: str) -> None:
        eid = parse_experiment_id(experiment_id)
        new_name = _validate_name(new_name)
        try:
            with self.db.write() as s:
                group_id = self._access(s, actor, eid, Role.MEMBER)
                row = repo.get_experiment_row(s, eid)
                if row.lifecycle_stage != LifecycleStage.ACTIVE:
                    raise InvalidParameter("Cannot rename a non-active experiment; restore it first.")
                clash = s.scalar(
                    select(ExperimentRow.experiment_id).where(
                        ExperimentRow.name == new_name, ExperimentRow.experiment_id != eid
                    )
                )
                if clash is not None:
                    raise AlreadyExists(f"Experiment(name={new_name}) already exists.")
                before = {"name": row.name}
                row.name = new_name
                row.last_update_time = now_ms()
                record(
                    s,
                    actor,
                    resource_type="experiment",
                    resource_id=eid,
                    resource_name=new_name,
                    action="rename",
                    group_id=group_id,
                    before=before,
                    after={"name": new_name},
                )
        except IntegrityError:
            raise AlreadyExists(f"Experiment(name={new_name}) already exists.") from None

    def set_lifecycle(self, actor: Principal, experiment_id: Any, stage: LifecycleStage) -> None:
        """Delete (soft) or restore an experiment; its runs follow, as in MLflow."""
        eid = parse_experiment_id(experiment_id)
        with self.db.write() as s:
            group_id = self._access(s, actor, eid, Role.MEMBER)
            row = repo.get_experiment_row(s, eid)
            if stage == LifecycleStage.DELETED and eid == 0:
                raise InvalidParameter("The default experiment '0' cannot be deleted.")
            before = {"lifecycle_stage": row.lifecycle_stage}
            row.lifecycle_stage = stage
            row.last_update_time = now_ms()
            repo.set_runs_lifecycle_for_experiment(s, eid, stage)
            record(
                s,
                actor,
                resource_type="experiment",
                resource_id=eid,
                resource_name=row.name,
                action="delete" if stage == LifecycleStage.DELETED else "restore",
                group_id=group_id,
                before=before,
                after={"lifecycle_stage": str(stage)},
            )

    def set_tag(self, actor: Principal, experiment_id: Any, key: str, value: Any) -> None:
        eid = parse_experiment_id(experiment_id)
        tags = self._checked_tags({key: value})
        with self.db.write() as s:
            group_id = self._access(s, actor, eid, Role.MEMBER)
            row = repo.get_experiment_row(s, eid)
            if row.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameter(
                    f"The experiment {eid} must be in the 'active' state. Current state is {row.lifecycle_stage}."
                )
            old = s.get(ExperimentTagRow, (eid, key))
            repo.upsert_experiment_tags(s, eid, tags)
            row.last_update_time = now_ms()
            record(
                s,
                actor,
                resource_type="experiment",
                resource_id=eid,
                resource_name=row.name,
                action="set_tag",
                group_id=group_id,
                before={f"tags.{key}": old.value if old else None},
                after={f"tags.{key}": tags[key]},
            )

    def delete_tag(self, actor: Principal, experiment_id: Any, key: str) -> None:
        eid = parse_experiment_id(experiment_id)
        with self.db.write() as s:
            group_id = self._access(s, actor, eid, Role.MEMBER)
            tag = s.get(ExperimentTagRow, (eid, key))
            if tag is None:
                raise NotFound(f"No tag with name: {key} in experiment with id {eid}")
            record(
                s,
                actor,
                resource_type="experiment",
                resource_id=eid,
                action="delete_tag",
                group_id=group_id,
                before={f"tags.{key}": tag.value},
                after={f"tags.{key}": None},
            )
            s.delete(tag)

    def readable_experiment_ids(self, s: Session, actor: Principal) -> list[int] | None:
        """Ids of experiments in the actor's groups; None means every experiment (platform admin)."""
        groups = actor.readable_groups()
        if groups is None:
            return None
        return list(
            s.scalars(
                select(ExperimentRow.experiment_id)
                .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
                .where(ProjectRow.group_id.in_(groups or [-1]))
            )
        )

    def search(
        self,
        actor: Principal,
        *,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
        name_contains: str | None = None,
    ) -> tuple[list[Experiment], str | None]:
        """``name_contains``: a plain text the name holds, in any case (the web UI's search box; no
        filter grammar, so nothing in it needs quoting)."""
        limit = check_max_results(
            max_results, default=SEARCH_EXPERIMENTS_DEFAULT, maximum=SEARCH_EXPERIMENTS_MAX
        )
        offset = decode_page_token(page_token)
        filters = parse_experiment_filter(filter_string)
        if name_contains:
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", name_contains) + "%"
            filters = [*filters, Comparison(Entity.ATTRIBUTE, "name", Op.ILIKE, pattern)]
        orders = parse_experiment_order_by(order_by or [])
        with self.db.read() as s:
            visible = self.readable_experiment_ids(s, actor)
            if visible is not None:
                if not visible:
                    return [], None
                filters = [
                    *filters,
                    Comparison(Entity.ATTRIBUTE, "experiment_id", Op.IN, tuple(map(str, visible))),
                ]
            ids = search_experiment_ids(
                s,
                stages=view_type.stages(),
                filters=filters,
                order_by=orders,
                max_results=limit + 1,
                offset=offset,
            )
            experiments = repo.load_experiments(s, ids[:limit])
        token = encode_page_token(offset + limit) if len(ids) > limit else None
        return experiments, token

    @staticmethod
    def _checked_tags(tags: dict[str, Any]) -> dict[str, str]:
        return {
            validate_key("tag", k): validate_value("tag", k, v, MAX_EXPERIMENT_TAG_VALUE_LENGTH)
            for k, v in tags.items()
        }
