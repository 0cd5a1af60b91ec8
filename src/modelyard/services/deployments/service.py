"""Deployments as users change them: create, update, scale, stop, start, roll back, promote, delete.

Every change is one transaction that checks the actor's role in the deployment's group, admits the new
spec against the group's quotas (refused before anything starts), resolves each predictor's model to
the artifact location its replicas will load, bumps ``generation``, prepends the spec to ``history`` and
writes an audit event. The controller (``modelyard.controller``) notices the new generation and makes
the replicas match; it reports back through ``report_status``.

Roles: reading needs ``viewer`` in the group; changing a staging deployment needs ``member``; creating
or changing a production deployment (promotion included) needs the group's ``admin``.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.domain.deployments import (
    DeploymentSpec,
    Phase,
    Stage,
    endpoint_path,
    merge_spec,
    parse_model_ref,
    parse_spec,
    push_history,
    validate_deployment_name,
    with_replicas,
    with_restart,
)
from modelyard.domain.errors import AlreadyExists, Conflict, InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.quotas import Usage, check_quota
from modelyard.domain.registry import join_uri
from modelyard.services.artifacts import ArtifactService
from modelyard.services.audit import record
from modelyard.services.common import now_ms
from modelyard.services.deployments.model_usage import ModelUsageOps
from modelyard.services.deployments.quotas import group_usage, load_quota
from modelyard.services.deployments.runtime import DeploymentRuntimeOps, role_for
from modelyard.storage import registry_repo
from modelyard.storage.db import Database
from modelyard.storage.orm import DeploymentRow, GroupRow

SNAPSHOT_ROOT = "deployments"  # where promotion copies model files, inside the default artifact store


def _not_found(name: str) -> NotFound:
    return NotFound(f"Deployment '{name}' does not exist (or you do not have access to it).")


def slug(text: str) -> str:
    """A deployment name made from free text (a model's name): lowercase, digits and '-'."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return out or "model"


class DeploymentService(DeploymentRuntimeOps, ModelUsageOps):
    def __init__(self, db: Database, artifacts: ArtifactService) -> None:
        self.db = db
        self.artifacts = artifacts
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # ---- change notification (the in-process controller wakes up at once) ----------------------
    def subscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # ---- reads ---------------------------------------------------------------------------------
    def _row(
        self, s: Session, actor: Principal, name: str, role: Role, *, lock: bool = False
    ) -> DeploymentRow:
        stmt = select(DeploymentRow).where(DeploymentRow.name == name)
        if lock:
            stmt = stmt.with_for_update()
        row = s.scalar(stmt)
        if row is None or row.deleting or actor.role_in(row.group_id) is None:
            raise _not_found(name)
        actor.require(
            row.group_id, role, what=f"{'Reading' if role is Role.VIEWER else 'Changing'} deployment '{name}'"
        )
        return row

    def get(self, actor: Principal, name: str) -> dict[str, Any]:
        with self.db.read() as s:
            row = self._row(s, actor, name, Role.VIEWER)
            return self.view(s, row)

    def list_all(self, actor: Principal) -> list[dict[str, Any]]:
        with self.db.read() as s:
            stmt = select(DeploymentRow).where(DeploymentRow.deleting.is_(False)).order_by(DeploymentRow.name)
            groups = actor.readable_groups()
            if groups is not None:
                stmt = stmt.where(DeploymentRow.group_id.in_(groups))
            return [self.view(s, row) for row in s.scalars(stmt)]

    @staticmethod
    def view(s: Session, row: DeploymentRow) -> dict[str, Any]:
        group = s.get(GroupRow, row.group_id)  # the session's identity map: one query per group in a list
        return {
            "id": row.id,
            "name": row.name,
            "group": group.name if group is not None else None,
            "owner": row.owner,
            "stage": row.stage,
            "spec": row.spec,
            "models": row.models,
            "status": {
                "phase": row.phase,
                "message": row.message,
                "replicas": row.replicas,
                "available_replicas": row.available_replicas,
                "endpoint": endpoint_path(row.name),
                "generation": row.generation,
                "observed_generation": row.observed_generation,
                "replicas_detail": row.replica_status,
            },
            "history": row.history,
            "promoted_from": row.source_deployment_id,
            "promoted_from_name": _name_of(s, row.source_deployment_id),
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }

    # ---- model resolution ----------------------------------------------------------------------
    def _resolve_models(
        self, s: Session, actor: Principal, spec: DeploymentSpec, group_id: int
    ) -> dict[str, Any]:
        """predictor -> {model, version, location}: what each predictor's replicas will load, after
        checking the actor may read the model and that it belongs to the deployment's group."""
        out: dict[str, Any] = {}
        for p in spec.predictors:
            ref = p.model_ref
            where = f"predictor '{p.name}' model {p.model}"
            if ref.run_id is not None:
                scope = registry_repo.run_scope(s, ref.run_id)
                if scope is None or actor.role_in(scope.group_id) is None:
                    raise NotFound(
                        f"{where}: run {ref.run_id} does not exist (or you do not have access to it)."
                    )
                # MLflow 3 keeps a model logged in a run as a logged model of its own, named like the path
                logged = registry_repo.run_logged_model_location(s, ref.run_id, ref.path or "")
                location = logged or join_uri(scope.location, ref.path or "")
                out[p.name] = {"model": p.model, "version": None, "run_id": ref.run_id, "location": location}
                continue
            assert ref.name is not None
            model = registry_repo.model_row(s, ref.name)
            if model is None or actor.role_in(model.group_id) is None:
                raise NotFound(
                    f"{where}: registered model '{ref.name}' does not exist (or you do not have access to it)."
                )
            if ref.alias is not None:
                version = registry_repo.aliased_version(s, model.id, ref.alias)
                if version is None:
                    raise NotFound(f"{where}: registered model '{ref.name}' has no alias '{ref.alias}'.")
            else:
                assert ref.version is not None
                version = registry_repo.version_row(s, model.id, ref.version)
                if version is None:
                    raise NotFound(f"{where}: registered model '{ref.name}' has no version {ref.version}.")
            if version.status != "READY":
                raise InvalidParameter(f"{where}: version {version.version} is {version.status}, not READY.")
            out[p.name] = {
                "model": p.model,
                "version": str(version.version),
                "registered_model": model.name,
                "location": version.storage_location,
            }
        return out

    def _snapshot(self, deployment: str, models: dict[str, Any]) -> dict[str, Any]:
        """Copy each predictor's model files into the artifact store under ``deployments/``: the
        production copy, which later registry changes cannot alter."""
        out: dict[str, Any] = {}
        for predictor, info in models.items():
            target = f"{SNAPSHOT_ROOT}/{deployment}/{predictor}-{uuid.uuid4().hex[:12]}"
            self.artifacts.copy_tree(info["location"], target)
            out[predictor] = {
                **info,
                "location": f"mlflow-artifacts:/{target}",
                "snapshot_of": info["location"],
            }
        return out

    # ---- admission -----------------------------------------------------------------------------
    @staticmethod
    def _admit(
        s: Session, group_id: int, before: DeploymentSpec | None, after: DeploymentSpec | None
    ) -> None:
        group = s.scalar(select(GroupRow).where(GroupRow.id == group_id).with_for_update())
        assert group is not None
        quota = load_quota(s, group_id)
        in_use = group_usage(s, group_id)
        check_quota(
            group.name,
            quota,
            in_use,
            before.usage() if before is not None else Usage(),
            after.usage() if after is not None else Usage(),
        )

    def _group_for(self, s: Session, actor: Principal, group: str | None) -> int:
        if group is not None:
            gid = s.scalar(select(GroupRow.id).where(GroupRow.name == group))
            if gid is None or actor.role_in(gid) is None:
                raise NotFound(f"group: '{group}' does not exist (or you are not a member).")
            return gid
        if actor.user_id is not None and not actor.is_admin:
            writable = sorted(g for g, r in actor.roles.items() if r >= Role.MEMBER)
            if len(writable) == 1:
                return writable[0]
        default = s.scalar(select(GroupRow.id).where(GroupRow.name == "default"))
        if default is not None and (actor.role_in(default) or Role.VIEWER) >= Role.MEMBER:
            return default
        if actor.writable_groups() == frozenset():
            raise InvalidParameter(
                "group: you have the 'member' role in no group, so you cannot deploy; ask a group's "
                "admin to make you a member."
            )
        raise InvalidParameter(
            "group: required; you are a member of several groups, name the one to deploy in."
        )

    # ---- changes -------------------------------------------------------------------------------
    def create(
        self,
        actor: Principal,
        name: Any,
        spec_raw: Any,
        *,
        group: str | None = None,
        promoted_from: int | None = None,
    ) -> dict[str, Any]:
        name = validate_deployment_name(name)
        spec = parse_spec(spec_raw)
        try:
            with self.db.write() as s:
                group_id = self._group_for(s, actor, group)
                actor.require(group_id, role_for(spec), what=f"Creating a {spec.stage.value} deployment")
                existing = s.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
                if existing is not None:
                    raise AlreadyExists(f"name: a deployment named '{name}' already exists.")
                models = self._resolve_models(s, actor, spec, group_id)
                self._admit(s, group_id, None, spec)
                if spec.stage is Stage.PRODUCTION:
                    models = self._snapshot(name, models)
                now = now_ms()
                data = spec.to_json()
                row = DeploymentRow(
                    name=name,
                    group_id=group_id,
                    owner_id=actor.user_id,
                    owner=actor.username,
                    stage=spec.stage.value,
                    spec=data,
                    models=models,
                    generation=1,
                    observed_generation=0,
                    phase=(Phase.STOPPED if spec.stop else Phase.DEPLOYING).value,
                    message="Waiting for the controller.",
                    replicas=0,
                    available_replicas=0,
                    replica_status=[],
                    history=push_history([], now, actor.username, data),
                    source_deployment_id=promoted_from,
                    deleting=False,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                s.flush()
                record(
                    s,
                    actor,
                    resource_type="deployment",
                    resource_id=row.id,
                    resource_name=name,
                    action="create",
                    group_id=group_id,
                    after={**data, "models": models},
                )
                view = self.view(s, row)
        except IntegrityError:
            raise AlreadyExists(f"name: a deployment named '{name}' already exists.") from None
        self._changed()
        return view

    def _apply(
        self,
        actor: Principal,
        name: str,
        action: str,
        change: Callable[[Session, DeploymentRow, DeploymentSpec], DeploymentSpec],
    ) -> dict[str, Any]:
        with self.db.write() as s:
            row = self._row(s, actor, name, Role.VIEWER, lock=True)
            current = parse_spec(row.spec)
            actor.require(row.group_id, role_for(current), what=f"Changing deployment '{name}'")
            new = change(s, row, current)
            if new.stage is not current.stage:
                raise InvalidParameter(
                    "stage: cannot change; promote a staging deployment to create a production one."
                )
            actor.require(row.group_id, role_for(new), what=f"Changing deployment '{name}'")
            data = new.to_json()
            if data == row.spec:
                return self.view(s, row)
            self._admit(s, row.group_id, current, new)
            before = {**row.spec, "models": row.models}
            models = self._resolve_models(s, actor, new, row.group_id)
            if new.stage is Stage.PRODUCTION:
                # keep the existing snapshot of a predictor whose model did not change
                kept = {
                    p: m
                    for p, m in row.models.items()
                    if p in models and m.get("model") == models[p]["model"]
                }
                fresh = self._snapshot(name, {p: m for p, m in models.items() if p not in kept})
                models = {**kept, **fresh}
            now = now_ms()
            row.spec = data
            row.models = models
            row.stage = new.stage.value
            row.generation += 1
            row.history = push_history(list(row.history), now, actor.username, data)
            row.updated_at = now
            if new.stop and row.phase != Phase.STOPPED.value:
                row.phase, row.message = Phase.STOPPING.value, "Stopping: waiting for the controller."
            elif not new.stop:
                row.phase, row.message = Phase.DEPLOYING.value, "Applying the new spec."
            record(
                s,
                actor,
                resource_type="deployment",
                resource_id=row.id,
                resource_name=name,
                action=action,
                group_id=row.group_id,
                before=before,
                after={**data, "models": models},
            )
            view = self.view(s, row)
        self._changed()
        return view

    def update(self, actor: Principal, name: str, patch: Any) -> dict[str, Any]:
        return self._apply(actor, name, "update", lambda _s, _row, spec: merge_spec(spec, patch))

    def scale(
        self, actor: Principal, name: str, replicas: Any, predictor: str | None = None
    ) -> dict[str, Any]:
        return self._apply(
            actor, name, "scale", lambda _s, _row, spec: with_replicas(spec, replicas, predictor)
        )

    def stop(self, actor: Principal, name: str) -> dict[str, Any]:
        return self._apply(actor, name, "stop", lambda _s, _row, spec: merge_spec(spec, {"stop": True}))

    def start(self, actor: Principal, name: str) -> dict[str, Any]:
        """Start a stopped deployment; on a ``Failed`` one that is not stopped, retry: restart it."""

        def change(_s: Session, row: DeploymentRow, spec: DeploymentSpec) -> DeploymentSpec:
            if not spec.stop and row.phase == Phase.FAILED.value:
                return with_restart(spec, now_ms())
            return merge_spec(spec, {"stop": False})

        return self._apply(actor, name, "start", change)

    def restart(self, actor: Principal, name: str, predictor: str | None = None) -> dict[str, Any]:
        """Replace every replica (of ``predictor``, or of all) with a new one, surge-first, without a
        spec change: the way to retry a ``Failed`` deployment or to roll its replicas."""

        def change(_s: Session, _row: DeploymentRow, spec: DeploymentSpec) -> DeploymentSpec:
            if spec.stop:
                raise Conflict(
                    f"Deployment '{name}' is stopped: no replica runs to restart. Start it, and its "
                    "replicas start afresh."
                )
            return with_restart(spec, now_ms(), predictor)

        return self._apply(actor, name, "restart", change)

    def rollback(self, actor: Principal, name: str, to: Any = 1) -> dict[str, Any]:
        """Restore ``history[to]`` (0 is the current spec, 1 the one before it, ...)."""

        def change(_s: Session, row: DeploymentRow, _spec: DeploymentSpec) -> DeploymentSpec:
            history = row.history
            if isinstance(to, bool) or not isinstance(to, int) or not 0 <= to < len(history):
                raise InvalidParameter(
                    f"to: expected a history index from 0 to {len(history) - 1}, got {to!r}."
                )
            return parse_spec(history[to]["spec"])

        return self._apply(actor, name, "rollback", change)

    def promote(self, actor: Principal, name: str, target: Any, overrides: Any = None) -> dict[str, Any]:
        """A new production deployment from staging deployment ``name``: its spec with ``overrides``
        (replicas, resources, display name ...), and a snapshot of the model files. Group admins only."""
        with self.db.read() as s:
            row = self._row(s, actor, name, Role.VIEWER)
            if row.stage != Stage.STAGING.value:
                raise InvalidParameter(
                    f"Deployment '{name}' is already a production deployment; promote a staging one."
                )
            actor.require(row.group_id, Role.ADMIN, what=f"Promoting deployment '{name}' to production")
            group = s.scalar(select(GroupRow.name).where(GroupRow.id == row.group_id))
            base = parse_spec(row.spec)
            source_id = row.id
            models = dict(row.models)
        spec = (
            merge_spec(base, {**(overrides or {}), "stage": Stage.PRODUCTION.value, "stop": False})
            if isinstance(overrides, dict | None)
            else None
        )
        if spec is None:
            raise InvalidParameter(
                "overrides: expected an object of spec fields (replicas go in predictors)."
            )
        # production serves exactly what staging resolved (an alias that moved since does not count)
        pinned = {
            "predictors": [
                {**p.to_json(), "model": _pinned(models.get(p.name), p.model)} for p in spec.predictors
            ]
        }
        spec = merge_spec(spec, pinned)
        view = self.create(actor, target, spec.to_json(), group=group, promoted_from=source_id)
        return view

    def delete(self, actor: Principal, name: str) -> None:
        """Remove the deployment; the controller stops its replicas (draining them) right after."""
        with self.db.write() as s:
            row = self._row(s, actor, name, Role.VIEWER, lock=True)
            actor.require(row.group_id, role_for(row.spec), what=f"Deleting deployment '{name}'")
            record(
                s,
                actor,
                resource_type="deployment",
                resource_id=row.id,
                resource_name=name,
                action="delete",
                group_id=row.group_id,
                before={**row.spec, "models": row.models},
                after=None,
            )
            s.delete(row)
        self._changed()

    def deploy_model(
        self, actor: Principal, model: str, *, name: str | None = None, group: str | None = None
    ) -> dict[str, Any]:
        """RocketML's "deploy to staging" in one call: one replica of ``model`` (a model version or a
        run's model) in the actor's group, named after the model unless ``name`` is given."""
        if name is None:
            try:
                ref = parse_model_ref(model, "model")
            except InvalidParameter:
                ref = None  # create() refuses it, naming the field
            if ref is not None and ref.name is not None:
                name = slug(f"{ref.name}-{ref.version or ref.alias}")
            else:
                name = slug(f"run-{ref.run_id[:8]}" if ref is not None and ref.run_id else "model")
        return self.create(
            actor,
            name,
            {"stage": "staging", "predictors": [{"name": "main", "model": model, "replicas": 1}]},
            group=group,
        )


def _name_of(s: Session, deployment_id: int | None) -> str | None:
    """The name of the deployment with this id; None when there is none (any more)."""
    if deployment_id is None:
        return None
    return s.scalar(select(DeploymentRow.name).where(DeploymentRow.id == deployment_id))


def _pinned(resolved: dict[str, Any] | None, model: str) -> str:
    """``models:/name@alias`` pinned to the version staging resolved it to."""
    if resolved and resolved.get("registered_model") and resolved.get("version"):
        return f"models:/{resolved['registered_model']}/{resolved['version']}"
    return model
