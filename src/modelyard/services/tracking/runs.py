"""Runs: create, update, delete/restore, log params/metrics/tags/inputs/outputs, history, search.

Writes are idempotent under the mlflow client's retries: metric points are deduplicated by their
primary key, a param logged again with the same value is accepted, and a run create that carries a
run name (or an ``Idempotency-Key``) returns the run already created by an earlier attempt.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.tracking import (
    GIT_BRANCH_TAG,
    GIT_COMMIT_TAG,
    GIT_REPO_TAG,
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS_PER_BATCH,
    PARENT_RUN_TAG,
    RUN_NAME_TAG,
    CodeVersion,
    DatasetInput,
    Environment,
    LifecycleStage,
    Metric,
    Run,
    RunStatus,
    validate_key,
    validate_value,
)
from modelyard.services.audit import record, tally
from modelyard.services.audit.appends import METRIC, counted
from modelyard.services.common import (
    friendly_name,
    new_id,
    now_ms,
)
from modelyard.services.tracking.experiments import parse_experiment_id
from modelyard.services.tracking.logged_models import require_logged_models
from modelyard.services.tracking.run_reads import RunReads
from modelyard.services.tracking.stats import TrackingStats
from modelyard.storage import run_writes as writes
from modelyard.storage import tracking_repo as repo
from modelyard.storage.db import Database
from modelyard.storage.orm import DatasetRow, RunInputRow, RunModelRow, RunRow, TagRow


def _check_active(row: RunRow) -> None:
    if row.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidParameter(
            f"The run {row.run_uuid} must be in the 'active' state. Current state is {row.lifecycle_stage}."
        )


def _code_version_from_tags(tags: dict[str, str]) -> CodeVersion | None:
    if GIT_COMMIT_TAG not in tags:
        return None
    return CodeVersion(
        repo=tags.get(GIT_REPO_TAG), commit=tags.get(GIT_COMMIT_TAG), branch=tags.get(GIT_BRANCH_TAG)
    )


class TrackingService(RunReads):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.stats = TrackingStats()

    # ---- runs -----------------------------------------------------------------------------------
    def create_run(
        self,
        actor: Principal,
        *,
        experiment_id: Any,
        user_id: str = "",
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
        code_version: CodeVersion | None = None,
        environment: Environment | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        eid = parse_experiment_id(experiment_id)
        tags = self._checked_tags(tags or {})
        if actor.user_id is not None:
            user_id = actor.username  # the authenticated user, not what the client claims
        run_name = run_name or tags.get(RUN_NAME_TAG)
        start = now_ms() if start_time is None else start_time
        if idempotency_key is not None:
            # A client's key is scoped to its user (and hashed to the column's size): nobody gets another
            # user's run back by sending the same key.
            scoped = f"{actor.username}\x00{idempotency_key}".encode("utf-8", "surrogatepass")
            idempotency_key = hashlib.sha256(scoped).hexdigest()
        elif run_name and start_time is not None:
            fingerprint = orjson.dumps([eid, user_id, start, run_name, sorted(tags.items())])
            idempotency_key = hashlib.sha256(fingerprint).hexdigest()
        run_name = run_name or friendly_name()
        tags[RUN_NAME_TAG] = run_name
        code_version = code_version or _code_version_from_tags(tags)
        try:
            with self.db.write() as s:
                if idempotency_key is not None:
                    prior = writes.run_id_for_idempotency_key(s, idempotency_key)
                    if prior is not None:
                        _, prior_group = writes.run_scope(s, prior)
                        actor.require(prior_group, Role.MEMBER, what=f"Experiment {eid}")
                        return repo.load_runs(s, [prior])[0]
                exp = writes.experiment_state(s, eid)
                if exp is None:
                    raise NotFound(f"No Experiment with id={eid} exists")
                artifact_location, stage, group_id = exp
                actor.require(
                    group_id,
                    Role.MEMBER,
                    what=f"Experiment {eid}",
                    missing=f"No Experiment with id={eid} exists",
                )
                if PARENT_RUN_TAG in tags:
                    self._check_parent(s, actor, tags[PARENT_RUN_TAG], None)
                if stage != LifecycleStage.ACTIVE:
                    raise InvalidParameter(
                        f"The experiment {eid} must be in the 'active' state. Current state is {stage}."
                    )
                run = Run(
                    run_id=new_id(),
                    experiment_id=str(eid),
                    run_name=run_name,
                    user_id=user_id or "",
                    status=RunStatus.RUNNING,
                    start_time=start,
                    end_time=None,
                    artifact_uri="",
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    tags=tags,
                    code_version=code_version,
                    environment=environment,
                )
                run.artifact_uri = f"{artifact_location.rstrip('/')}/{run.run_id}/artifacts"
                writes.insert_run(
                    s, run, parent_run_id=tags.get(PARENT_RUN_TAG), idempotency_key=idempotency_key
                )
                record(
                    s,
                    actor,
                    resource_type="run",
                    resource_id=run.run_id,
                    resource_name=run_name,
                    action="create",
                    group_id=group_id,
                    after={"experiment_id": str(eid), "run_name": run_name, "status": str(run.status)},
                )
            self.stats.add(runs=1)
            return run
        except IntegrityError:
            if idempotency_key is None:
                raise
            with self.db.read() as s:  # a concurrent retry of the same create won the race
                prior = writes.run_id_for_idempotency_key(s, idempotency_key)
                return repo.load_runs(s, [str(prior)])[0]

    @staticmethod
    def _check_parent(s: Session, actor: Principal, parent_id: str, run_id: str | None) -> None:
        """A parent run (tag ``mlflow.parentRunId``) must be a run the actor may read; another group's
        run is answered like a missing one."""
        missing = f"Parent run with id={parent_id} not found (tag {PARENT_RUN_TAG})."
        if parent_id == run_id:
            raise InvalidParameter(f"Run {run_id} cannot be its own parent (tag {PARENT_RUN_TAG}).")
        try:
            _, group_id = writes.run_scope(s, parent_id)
        except NotFound:
            raise NotFound(missing) from None
        actor.require(group_id, Role.VIEWER, what=f"Parent run {parent_id}", missing=missing)

    def _writable(self, s: Session, actor: Principal, run_id: str) -> int:
        stage, group_id = self._scope(s, actor, run_id, Role.MEMBER)
        if stage != LifecycleStage.ACTIVE:
            raise InvalidParameter(
                f"The run {run_id} must be in the 'active' state. Current state is {stage}."
            )
        return group_id

    def run_group(self, actor: Principal, run_id: str, role: Role) -> int:
        """Check the actor's role on a run (for artifact callers); returns the run's group."""
        with self.db.read() as s:
            return self._scope(s, actor, run_id, role)[1]

    def update_run(
        self,
        actor: Principal,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Change status, end time or name; returns the run without its data (what runs/update answers)."""
        if status is not None and status not in RunStatus.__members__:
            raise InvalidParameter(
                f"Invalid value '{status}' for parameter 'status'. Valid values: {', '.join(RunStatus)}."
            )
        with self.db.write() as s:
            group_id = self._writable(s, actor, run_id)
            info = writes.run_info(s, run_id)
            before = {"status": info.status, "end_time": info.end_time, "run_name": info.run_name}
            if status is not None:
                info.status = status
                if RunStatus(status).terminal:
                    info.end_time = end_time if end_time is not None else (info.end_time or now_ms())
            elif end_time is not None:
                info.end_time = end_time
            if run_name:
                info.run_name = run_name
                writes.upsert_tags(s, run_id, {RUN_NAME_TAG: run_name})
            writes.update_run_info(s, info)
            record(
                s,
                actor,
                resource_type="run",
                resource_id=run_id,
                resource_name=info.run_name,
                action="update",
                group_id=group_id,
                before=before,
                after={"status": info.status, "end_time": info.end_time, "run_name": info.run_name},
            )
            return info

    def set_run_lifecycle(self, actor: Principal, run_id: str, stage: LifecycleStage) -> None:
        with self.db.write() as s:
            _, group_id = self._scope(s, actor, run_id, Role.MEMBER)
            row = repo.get_run_row(s, run_id)
            record(
                s,
                actor,
                resource_type="run",
                resource_id=run_id,
                resource_name=row.name,
                action="delete" if stage == LifecycleStage.DELETED else "restore",
                group_id=group_id,
                before={"lifecycle_stage": row.lifecycle_stage},
                after={"lifecycle_stage": str(stage)},
            )
            row.lifecycle_stage = stage
            row.deleted_time = now_ms() if stage == LifecycleStage.DELETED else None

    # ---- logging --------------------------------------------------------------------------------
    def log_batch(
        self,
        actor: Principal,
        run_id: str,
        *,
        metrics: list[Metric] | None = None,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        tags: dict[str, Any] | list[tuple[str, Any]] | None = None,
    ) -> None:
        metrics = metrics or []
        param_items = list(params.items()) if isinstance(params, dict) else list(params or [])
        tag_items = list(tags.items()) if isinstance(tags, dict) else list(tags or [])
        self._check_batch_limits(len(metrics), len(param_items), len(tag_items))
        for key in {m.key for m in metrics}:
            validate_key("metric", key)
        checked_params: dict[str, str] = {}
        for k, v in param_items:
            value = validate_value("param", validate_key("param", k), v, MAX_PARAM_VALUE_LENGTH)
            if k in checked_params and checked_params[k] != value:
                raise InvalidParameter(
                    f"Duplicate parameter keys have been submitted: ['{k}']. Please ensure the request "
                    "contains only one param value per param key."
                )
            checked_params[k] = value
        checked_tags = self._checked_tags(dict(tag_items))
        model_ids = {m.model_id for m in metrics if m.model_id is not None}
        with self.db.write() as s:
            group_id = self._writable(s, actor, run_id)
            if model_ids:  # the points also become the logged model's metrics: a write on the model
                require_logged_models(s, actor, sorted(model_ids), Role.MEMBER)
            if PARENT_RUN_TAG in checked_tags:
                self._check_parent(s, actor, checked_tags[PARENT_RUN_TAG], run_id)
            self._log_params(s, run_id, checked_params)
            writes.insert_metrics(s, run_id, metrics)
            if checked_tags:
                writes.upsert_tags(s, run_id, checked_tags)
                if {RUN_NAME_TAG, PARENT_RUN_TAG, GIT_COMMIT_TAG} & checked_tags.keys():
                    self._apply_special_tags(repo.get_run_row(s, run_id), checked_tags)
            # Params and tags are an event of their own, which counts the call's points too; points alone
            # are counted and summarised once per interval (services.audit.appends), in this
            # transaction so the count commits with them.
            if checked_params or checked_tags:
                details: dict[str, Any] = {}
                if checked_params:
                    details["params"] = checked_params
                if checked_tags:
                    details["tags"] = checked_tags
                if metrics:
                    details["metrics"] = counted(METRIC, Counter(m.key for m in metrics))
                record(
                    s,
                    actor,
                    resource_type="run",
                    resource_id=run_id,
                    action="log",
                    group_id=group_id,
                    details=details,
                )
            elif metrics:
                tally(
                    s,
                    actor,
                    resource_type="run",
                    resource_id=run_id,
                    group_id=group_id,
                    kind=METRIC,
                    counts=Counter(m.key for m in metrics),
                )
        self.stats.add(metrics=len(metrics), params=len(checked_params), tags=len(checked_tags))

    @staticmethod
    def _check_batch_limits(n_metrics: int, n_params: int, n_tags: int) -> None:
        limits = (
            ("metrics", n_metrics, MAX_METRICS_PER_BATCH),
            ("params", n_params, MAX_PARAMS_PER_BATCH),
            ("tags", n_tags, MAX_TAGS_PER_BATCH),
        )
        for name, count, limit in limits:
            if count > limit:
                raise InvalidParameter(
                    f"A batch logging request can contain at most {limit} {name}. Got {count} {name}. "
                    "Please split up the request into smaller batches."
                )
        total = n_metrics + n_params + n_tags
        if total > MAX_ENTITIES_PER_BATCH:
            raise InvalidParameter(
                f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params and tags "
                f"in total. Got {total}. Please split up the request into smaller batches."
            )

    @staticmethod
    def _log_params(s: Any, run_id: str, params: dict[str, str]) -> None:
        if not params:
            return
        existing = writes.existing_params(s, run_id, params)
        changed = {k: (existing[k], v) for k, v in params.items() if k in existing and existing[k] != v}
        if changed:
            detail = ", ".join(f"'{k}' (old '{old}', new '{new}')" for k, (old, new) in changed.items())
            raise InvalidParameter(
                f"Changing param values is not allowed. Params were already logged for run ID='{run_id}' "
                f"with different values: {detail}."
            )
        writes.insert_params(s, run_id, {k: v for k, v in params.items() if k not in existing})

    @staticmethod
    def _apply_special_tags(row: RunRow, tags: dict[str, str]) -> None:
        if RUN_NAME_TAG in tags:
            row.name = tags[RUN_NAME_TAG]
        if PARENT_RUN_TAG in tags:
            row.parent_run_id = tags[PARENT_RUN_TAG]
        code = _code_version_from_tags(tags)
        if code is not None and not row.code_version:
            row.code_version = asdict(code)

    def delete_tag(self, actor: Principal, run_id: str, key: str) -> None:
        with self.db.write() as s:
            group_id = self._writable(s, actor, run_id)
            tag = s.get(TagRow, (run_id, key))
            if tag is None:
                raise NotFound(f"No tag with name: {key} in run with id {run_id}")
            record(
                s,
                actor,
                resource_type="run",
                resource_id=run_id,
                action="delete_tag",
                group_id=group_id,
                before={f"tags.{key}": tag.value},
                after={f"tags.{key}": None},
            )
            s.delete(tag)

    def log_inputs(
        self,
        actor: Principal,
        run_id: str,
        *,
        datasets: list[DatasetInput],
        model_ids: list[str] | None = None,
    ) -> None:
        with self.db.write() as s:
            group_id = self._writable(s, actor, run_id)
            require_logged_models(s, actor, model_ids or [], Role.VIEWER)  # read as the run's inputs
            row = repo.get_run_row(s, run_id)
            for item in datasets:
                ds = item.dataset
                for field_name in ("name", "digest", "source_type", "source"):
                    if not getattr(ds, field_name):
                        raise InvalidParameter(
                            f"Missing value for required parameter 'dataset.{field_name}'."
                        )
                dataset_uuid = s.scalar(
                    select(DatasetRow.dataset_uuid).where(
                        DatasetRow.experiment_id == row.experiment_id,
                        DatasetRow.name == ds.name,
                        DatasetRow.digest == ds.digest,
                    )
                )
                if dataset_uuid is None:
                    dataset_uuid = new_id()
                    s.add(
                        DatasetRow(
                            dataset_uuid=dataset_uuid,
                            experiment_id=row.experiment_id,
                            name=ds.name,
                            digest=ds.digest,
                            source_type=ds.source_type,
                            source=ds.source,
                            schema=ds.schema,
                            profile=ds.profile,
                            created_at=now_ms(),
                        )
                    )
                    s.flush()
                if s.get(RunInputRow, (run_id, dataset_uuid)) is None:
                    s.add(RunInputRow(run_uuid=run_id, dataset_uuid=dataset_uuid, tags=item.tags))
            for model_id in model_ids or []:
                if s.get(RunModelRow, (run_id, model_id, "input")) is None:
                    s.add(RunModelRow(run_uuid=run_id, model_id=model_id, direction="input", step=0))
            record(
                s,
                actor,
                resource_type="run",
                resource_id=run_id,
                action="log_inputs",
                group_id=group_id,
                details={
                    "datasets": [f"{d.dataset.name}@{d.dataset.digest}" for d in datasets],
                    "models": list(model_ids or []),
                },
            )
        self.stats.add(inputs=len(datasets))

    def log_outputs(self, actor: Principal, run_id: str, *, models: list[tuple[str, int]]) -> None:
        with self.db.write() as s:
            group_id = self._writable(s, actor, run_id)
            # the run claims to have produced the models: a write on their lineage
            require_logged_models(s, actor, [m for m, _ in models], Role.MEMBER)
            record(
                s,
                actor,
                resource_type="run",
                resource_id=run_id,
                action="log_outputs",
                group_id=group_id,
                details={"models": [m for m, _ in models]},
            )
            for model_id, step in models:
                existing = s.get(RunModelRow, (run_id, model_id, "output"))
                if existing is None:
                    s.add(RunModelRow(run_uuid=run_id, model_id=model_id, direction="output", step=step))
                else:
                    existing.step = step

    @staticmethod
    def _checked_tags(tags: dict[str, Any]) -> dict[str, str]:
        return {
            validate_key("tag", k): validate_value("tag", k, v, MAX_TAG_VALUE_LENGTH) for k, v in tags.items()
        }
