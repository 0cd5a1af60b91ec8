"""Projects and experiments: create, rename, delete/restore, tags, search.

An experiment belongs to one project (the default project unless one is named). Its artifact
location defaults to ``mlflow-artifacts:/<id>``, which the server's artifact proxy resolves against
its artifact root, so clients never need store credentials.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from modelyard.domain.errors import AlreadyExists, InvalidParameter, NotFound
from modelyard.domain.search import parse_experiment_filter, parse_experiment_order_by
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
    validate_value,
)
from modelyard.services.common import check_max_results, decode_page_token, encode_page_token, now_ms
from modelyard.storage import tracking_repo as repo
from modelyard.storage.db import Database
from modelyard.storage.orm import ExperimentRow, ExperimentTagRow, ProjectRow
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


class ExperimentService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- projects -------------------------------------------------------------------------------
    def create_project(self, *, name: str, description: str = "") -> Project:
        name = _validate_name(name, "project", MAX_PROJECT_NAME_LENGTH)
        with self.db.write() as s:
            if s.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
                raise AlreadyExists(f"Project(name={name}) already exists.")
            now = now_ms()
            row = ProjectRow(name=name, description=description or "", created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            return _project(row)

    def get_project(self, project_id: int) -> Project:
        with self.db.read() as s:
            row = s.get(ProjectRow, project_id)
            if row is None:
                raise NotFound(f"No project with id={project_id} exists.")
            return _project(row)

    def _project_id(self, s: Any, project: int | str | None) -> int:
        if project is None:
            pid = s.scalar(select(ProjectRow.id).where(ProjectRow.name == DEFAULT_PROJECT_NAME))
        elif isinstance(project, int) or (isinstance(project, str) and project.isdigit()):
            pid = s.scalar(select(ProjectRow.id).where(ProjectRow.id == int(project)))
        else:
            pid = s.scalar(select(ProjectRow.id).where(ProjectRow.name == project))
        if pid is None:
            raise NotFound(
                f"No project '{project}' exists; create it first or omit it for the default project."
            )
        return int(pid)

    # ---- experiments ----------------------------------------------------------------------------
    def create_experiment(
        self,
        *,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, str] | None = None,
        project: int | str | None = None,
    ) -> str:
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
                now = now_ms()
                row = ExperimentRow(
                    name=name,
                    artifact_location=artifact_location or "",
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                    project_id=self._project_id(s, project),
                )
                s.add(row)
                s.flush()
                if not artifact_location:
                    row.artifact_location = f"mlflow-artifacts:/{row.experiment_id}"
                repo.upsert_experiment_tags(s, row.experiment_id, tags)
                return str(row.experiment_id)
        except IntegrityError:
            # Lost a race with a concurrent create of the same name.
            raise AlreadyExists(f"Experiment(name={name}) already exists.") from None

    def get_experiment(self, experiment_id: Any) -> Experiment:
        eid = parse_experiment_id(experiment_id)
        with self.db.read() as s:
            found = repo.load_experiments(s, [eid])
        if not found:
            raise NotFound(f"No Experiment with id={experiment_id} exists")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment:
        if not name:
            raise InvalidParameter("Missing value for required parameter 'experiment_name'.")
        with self.db.read() as s:
            eid = s.scalar(select(ExperimentRow.experiment_id).where(ExperimentRow.name == name))
            found = repo.load_experiments(s, [eid]) if eid is not None else []
        if not found:
            raise NotFound(f"Could not find experiment with name '{name}'")
        return found[0]

    def rename_experiment(self, experiment_id: Any, new_name: str) -> None:
        eid = parse_experiment_id(experiment_id)
        new_name = _validate_name(new_name)
        try:
            with self.db.write() as s:
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
                row.name = new_name
                row.last_update_time = now_ms()
        except IntegrityError:
            raise AlreadyExists(f"Experiment(name={new_name}) already exists.") from None

    def set_lifecycle(self, experiment_id: Any, stage: LifecycleStage) -> None:
        """Delete (soft) or restore an experiment; its runs follow, as in MLflow."""
        eid = parse_experiment_id(experiment_id)
        with self.db.write() as s:
            row = repo.get_experiment_row(s, eid)
            if stage == LifecycleStage.DELETED and eid == 0:
                raise InvalidParameter("The default experiment '0' cannot be deleted.")
            row.lifecycle_stage = stage
            row.last_update_time = now_ms()
            repo.set_runs_lifecycle_for_experiment(s, eid, stage)

    def set_tag(self, experiment_id: Any, key: str, value: Any) -> None:
        eid = parse_experiment_id(experiment_id)
        tags = self._checked_tags({key: value})
        with self.db.write() as s:
            row = repo.get_experiment_row(s, eid)
            if row.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameter(
                    f"The experiment {eid} must be in the 'active' state. Current state is {row.lifecycle_stage}."
                )
            repo.upsert_experiment_tags(s, eid, tags)
            row.last_update_time = now_ms()

    def delete_tag(self, experiment_id: Any, key: str) -> None:
        eid = parse_experiment_id(experiment_id)
        with self.db.write() as s:
            repo.get_experiment_row(s, eid)
            tag = s.get(ExperimentTagRow, (eid, key))
            if tag is None:
                raise NotFound(f"No tag with name: {key} in experiment with id {eid}")
            s.delete(tag)

    def search(
        self,
        *,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Experiment], str | None]:
        limit = check_max_results(
            max_results, default=SEARCH_EXPERIMENTS_DEFAULT, maximum=SEARCH_EXPERIMENTS_MAX
        )
        offset = decode_page_token(page_token)
        filters = parse_experiment_filter(filter_string)
        orders = parse_experiment_order_by(order_by or [])
        with self.db.read() as s:
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
