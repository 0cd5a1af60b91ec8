"""MLflow 3 logged models: what ``mlflow.<flavor>.log_model`` creates before uploading model files.

A logged model lives in an experiment, optionally comes from a source run, and has params, tags,
metrics (points logged with its ``model_id``) and a status that turns READY once its files are up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.logged_models import LOGGED_MODELS, matches
from modelyard.domain.tracking import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    LifecycleStage,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    validate_key,
    validate_value,
)
from modelyard.services.audit import record
from modelyard.services.common import check_max_results, decode_page_token, encode_page_token, new_id, now_ms
from modelyard.services.tracking.experiments import ExperimentService, parse_experiment_id
from modelyard.storage import metric_chunks
from modelyard.storage import run_writes as writes
from modelyard.storage.db import Database
from modelyard.storage.orm import (
    ExperimentRow,
    LoggedModelParamRow,
    LoggedModelRow,
    LoggedModelTagRow,
    ProjectRow,
)


def logged_model_not_found(model_id: str) -> str:
    return f"Logged model with ID '{model_id}' not found."


def logged_model_group(s: Any, model_id: str) -> int | None:
    """The group of an active logged model; None when there is no such model."""
    row: LoggedModelRow | None = s.get(LoggedModelRow, model_id)
    if row is None or row.lifecycle_stage == LifecycleStage.DELETED:
        return None
    return ExperimentService.group_of(s, row.experiment_id)


def require_logged_models(s: Any, actor: Principal, model_ids: Any, role: Role) -> None:
    """Check that each logged model a request refers to exists and that the actor has ``role`` in its
    group; another group's model is answered exactly like a missing one."""
    for model_id in dict.fromkeys(model_ids):
        group_id = logged_model_group(s, model_id)
        if group_id is None:
            raise NotFound(logged_model_not_found(model_id))
        actor.require(
            group_id, role, what=f"Logged model '{model_id}'", missing=logged_model_not_found(model_id)
        )


def _load(s: Any, rows: list[LoggedModelRow]) -> list[LoggedModel]:
    ids = [r.model_id for r in rows]
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    metrics: dict[str, list[Metric]] = {i: [] for i in ids}
    if ids:
        for mid, k, v in s.execute(
            select(LoggedModelTagRow.model_id, LoggedModelTagRow.key, LoggedModelTagRow.value).where(
                LoggedModelTagRow.model_id.in_(ids)
            )
        ):
            tags[mid][k] = v
        for mid, k, v in s.execute(
            select(LoggedModelParamRow.model_id, LoggedModelParamRow.key, LoggedModelParamRow.value).where(
                LoggedModelParamRow.model_id.in_(ids)
            )
        ):
            params[mid][k] = v
        metrics.update(metric_chunks.model_points(s, ids))
    return [
        LoggedModel(
            model_id=r.model_id,
            experiment_id=str(r.experiment_id),
            name=r.name,
            artifact_location=r.artifact_location,
            creation_timestamp_ms=r.creation_timestamp_ms,
            last_updated_timestamp_ms=r.last_updated_timestamp_ms,
            status=r.status,
            lifecycle_stage=r.lifecycle_stage,
            model_type=r.model_type,
            source_run_id=r.source_run_id,
            status_message=r.status_message,
            tags=tags[r.model_id],
            params=params[r.model_id],
            metrics=metrics[r.model_id],
        )
        for r in rows
    ]


class LoggedModelService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        actor: Principal,
        *,
        experiment_id: Any,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> LoggedModel:
        eid = parse_experiment_id(experiment_id)
        checked_params = {
            validate_key("param", k): validate_value("param", k, v, MAX_PARAM_VALUE_LENGTH)
            for k, v in (params or {}).items()
        }
        checked_tags = {
            validate_key("tag", k): validate_value("tag", k, v, MAX_TAG_VALUE_LENGTH)
            for k, v in (tags or {}).items()
        }
        with self.db.write() as s:
            exp = s.get(ExperimentRow, eid)
            group_id = ExperimentService.group_of(s, eid)
            if exp is None or group_id is None:
                raise NotFound(f"No Experiment with id={eid} exists")
            actor.require(
                group_id, Role.MEMBER, what=f"Experiment {eid}", missing=f"No Experiment with id={eid} exists"
            )
            if exp.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameter(f"The experiment {eid} must be in the 'active' state.")
            if source_run_id:
                # the model will be listed among the run's models (convert run to model): a write on the run
                _, run_group = writes.run_scope(s, source_run_id)
                actor.require(
                    run_group,
                    Role.MEMBER,
                    what=f"Run {source_run_id}",
                    missing=writes.run_not_found(source_run_id),
                )
            model_id = f"m-{new_id()}"
            now = now_ms()
            row = LoggedModelRow(
                model_id=model_id,
                experiment_id=eid,
                name=name or model_id,
                artifact_location=f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
                creation_timestamp_ms=now,
                last_updated_timestamp_ms=now,
                status=LoggedModelStatus.PENDING,
                lifecycle_stage=LifecycleStage.ACTIVE,
                model_type=model_type,
                source_run_id=source_run_id or None,
            )
            s.add(row)
            s.flush()
            s.add_all(
                LoggedModelParamRow(model_id=model_id, key=k, value=v) for k, v in checked_params.items()
            )
            s.add_all(LoggedModelTagRow(model_id=model_id, key=k, value=v) for k, v in checked_tags.items())
            s.flush()
            record(
                s,
                actor,
                resource_type="logged_model",
                resource_id=model_id,
                action="create",
                group_id=group_id,
                after={
                    "name": row.name,
                    "experiment_id": str(eid),
                    "source_run_id": source_run_id,
                    "model_type": model_type,
                },
            )
            return _load(s, [row])[0]

    def _row(
        self, s: Any, actor: Principal, model_id: str, role: Role = Role.MEMBER
    ) -> tuple[LoggedModelRow, int]:
        row: LoggedModelRow | None = s.get(LoggedModelRow, model_id)
        group_id = None if row is None else ExperimentService.group_of(s, row.experiment_id)
        missing = logged_model_not_found(model_id)
        if row is None or group_id is None or row.lifecycle_stage == LifecycleStage.DELETED:
            raise NotFound(missing)
        actor.require(group_id, role, what=f"Logged model '{model_id}'", missing=missing)
        return row, group_id

    def get(self, actor: Principal, model_id: str) -> LoggedModel:
        with self.db.read() as s:
            return _load(s, [self._row(s, actor, model_id, Role.VIEWER)[0]])[0]

    def finalize(self, actor: Principal, model_id: str, status: str) -> LoggedModel:
        valid = {s.value for s in LoggedModelStatus}
        if status not in valid:
            raise InvalidParameter(
                f"Invalid value '{status}' for parameter 'status'. Valid values: {sorted(valid)}."
            )
        with self.db.write() as s:
            row, group_id = self._row(s, actor, model_id)
            record(
                s,
                actor,
                resource_type="logged_model",
                resource_id=model_id,
                action="finalize",
                group_id=group_id,
                before={"status": row.status},
                after={"status": status},
            )
            row.status = status
            row.last_updated_timestamp_ms = now_ms()
            s.flush()
            return _load(s, [row])[0]

    def set_tags(self, actor: Principal, model_id: str, tags: dict[str, Any]) -> None:
        checked = {
            validate_key("tag", k): validate_value("tag", k, v, MAX_TAG_VALUE_LENGTH) for k, v in tags.items()
        }
        with self.db.write() as s:
            row, group_id = self._row(s, actor, model_id)
            record(
                s,
                actor,
                resource_type="logged_model",
                resource_id=model_id,
                action="set_tags",
                group_id=group_id,
                details={"tags": checked},
            )
            for k, v in checked.items():
                existing = s.get(LoggedModelTagRow, (model_id, k))
                if existing is None:
                    s.add(LoggedModelTagRow(model_id=model_id, key=k, value=v))
                else:
                    existing.value = v
            row.last_updated_timestamp_ms = now_ms()

    def delete_tag(self, actor: Principal, model_id: str, key: str) -> None:
        with self.db.write() as s:
            _, group_id = self._row(s, actor, model_id)
            tag = s.get(LoggedModelTagRow, (model_id, key))
            if tag is None:
                raise NotFound(f"No tag with key '{key}' on logged model '{model_id}'.")
            record(
                s,
                actor,
                resource_type="logged_model",
                resource_id=model_id,
                action="delete_tag",
                group_id=group_id,
                before={f"tags.{key}": tag.value},
                after={f"tags.{key}": None},
            )
            s.delete(tag)

    def log_params(self, actor: Principal, model_id: str, params: dict[str, Any]) -> None:
        checked = {
            validate_key("param", k): validate_value("param", k, v, MAX_PARAM_VALUE_LENGTH)
            for k, v in params.items()
        }
        with self.db.write() as s:
            _, group_id = self._row(s, actor, model_id)
            record(
                s,
                actor,
                resource_type="logged_model",
                resource_id=model_id,
                action="log_params",
                group_id=group_id,
                details={"params": checked},
            )
            for k, v in checked.items():
                if s.get(LoggedModelParamRow, (model_id, k)) is None:
                    s.add(LoggedModelParamRow(model_id=model_id, key=k, value=v))

    def delete(self, actor: Principal, model_id: str) -> None:
        with self.db.write() as s:
            row, group_id = self._row(s, actor, model_id)
            record(
                s,
                actor,
                resource_type="logged_model",
                resource_id=model_id,
                action="delete",
                group_id=group_id,
                before={"lifecycle_stage": row.lifecycle_stage},
                after={"lifecycle_stage": "deleted"},
            )
            row.lifecycle_stage = LifecycleStage.DELETED
            row.last_updated_timestamp_ms = now_ms()

    def search(
        self,
        actor: Principal,
        *,
        experiment_ids: list[Any],
        max_results: int | None = None,
        page_token: str | None = None,
        filter_string: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        filters = LOGGED_MODELS.parse_filter(filter_string)
        limit = check_max_results(max_results, default=100, maximum=1000)
        offset = decode_page_token(page_token)
        eids = [parse_experiment_id(e) for e in experiment_ids]
        with self.db.read() as s:
            stmt = (
                select(LoggedModelRow)
                .where(LoggedModelRow.lifecycle_stage == LifecycleStage.ACTIVE)
                .order_by(LoggedModelRow.creation_timestamp_ms.desc(), LoggedModelRow.model_id)
            )
            groups = actor.readable_groups()
            if groups is not None:
                stmt = stmt.where(
                    LoggedModelRow.experiment_id.in_(
                        select(ExperimentRow.experiment_id)
                        .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
                        .where(ProjectRow.group_id.in_(groups or [-1]))
                    )
                )
            if eids:
                stmt = stmt.where(LoggedModelRow.experiment_id.in_(eids))
            models = [m for m in _load(s, list(s.scalars(stmt))) if matches(m, filters)]
        page = models[offset : offset + limit]
        return page, (encode_page_token(offset + limit) if len(models) > offset + limit else None)
