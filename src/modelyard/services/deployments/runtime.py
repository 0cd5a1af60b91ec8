"""The runtime side of deployments: client tokens of private endpoints, what the controller reads and
reports, and the gateway's route to a deployment's ready replicas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.domain.deployments import (
    DeploymentSpec,
    EndpointAccess,
    Phase,
    Replica,
    ReplicaState,
    Stage,
    parse_spec,
)
from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.services.audit import record
from modelyard.services.common import now_ms
from modelyard.services.identity.secrets import new_token, token_hash
from modelyard.storage.db import Database
from modelyard.storage.orm import DeploymentRow, DeploymentTokenRow


@dataclass(frozen=True, slots=True)
class Route:
    """What the gateway needs to forward a request to a deployment's replicas."""

    deployment_id: int
    name: str
    group_id: int
    access: EndpointAccess
    phase: Phase
    stopped: bool
    message: str
    # predictor name -> (traffic share, URLs of ready replicas)
    predictors: dict[str, tuple[int, tuple[str, ...]]]
    token_hashes: frozenset[str]


def role_for(spec: DeploymentSpec | dict[str, Any]) -> Role:
    """Changing a production deployment takes the group's admin; a staging one, a member."""
    stage = spec.stage.value if isinstance(spec, DeploymentSpec) else spec.get("stage")
    return Role.ADMIN if stage == Stage.PRODUCTION.value else Role.MEMBER


class DeploymentRuntimeOps:
    db: Database
    _changed: Callable[[], None]

    def _row(
        self, s: Session, actor: Principal, name: str, role: Role, *, lock: bool = False
    ) -> DeploymentRow:
        raise NotImplementedError

    # ---- endpoint tokens -------------------------------------------------------------------------
    def create_token(self, actor: Principal, name: str, token_name: str = "") -> dict[str, Any]:
        secret = new_token()
        with self.db.write() as s:
            row = self._row(s, actor, name, Role.VIEWER)
            actor.require(
                row.group_id, role_for(row.spec), what=f"Creating a client token for deployment '{name}'"
            )
            token = DeploymentTokenRow(
                deployment_id=row.id,
                name=token_name[:250],
                secret_hash=token_hash(secret),
                prefix=secret[:12],
                created_by=actor.username,
                created_at=now_ms(),
            )
            s.add(token)
            s.flush()
            record(
                s,
                actor,
                resource_type="deployment_token",
                resource_id=token.id,
                resource_name=f"{name}/{token.name}" if token.name else name,
                action="create",
                group_id=row.group_id,
                after={"deployment": name, "name": token.name, "prefix": token.prefix},
            )
            result = {"id": token.id, "name": token.name, "prefix": token.prefix, "token": secret}
        self._changed()
        return result

    def list_tokens(self, actor: Principal, name: str) -> list[dict[str, Any]]:
        with self.db.read() as s:
            row = self._row(s, actor, name, Role.VIEWER)
            actor.require(row.group_id, Role.MEMBER, what=f"Listing client tokens of deployment '{name}'")
            tokens = s.scalars(
                select(DeploymentTokenRow)
                .where(DeploymentTokenRow.deployment_id == row.id)
                .order_by(DeploymentTokenRow.id)
            )
            return [
                {
                    "id": t.id,
                    "name": t.name,
                    "prefix": t.prefix,
                    "created_by": t.created_by,
                    "created_at": t.created_at,
                }
                for t in tokens
            ]

    def revoke_token(self, actor: Principal, name: str, token_id: int) -> None:
        with self.db.write() as s:
            row = self._row(s, actor, name, Role.VIEWER)
            actor.require(
                row.group_id, role_for(row.spec), what=f"Revoking a client token of deployment '{name}'"
            )
            token = s.get(DeploymentTokenRow, token_id)
            if token is None or token.deployment_id != row.id:
                raise NotFound(f"token: deployment '{name}' has no client token with id {token_id}.")
            record(
                s,
                actor,
                resource_type="deployment_token",
                resource_id=token_id,
                resource_name=f"{name}/{token.name}" if token.name else name,
                action="revoke",
                group_id=row.group_id,
                before={"deployment": name, "prefix": token.prefix},
                after=None,
            )
            s.delete(token)
        self._changed()

    # ---- the controller's side -----------------------------------------------------------------
    def desired(self) -> list[dict[str, Any]]:
        """Every deployment with what the controller needs: id, name, generation, spec, models, and the
        status last reported (replica_status, phase, message, observed_generation)."""
        with self.db.read() as s:
            rows = s.execute(
                select(
                    DeploymentRow.id,
                    DeploymentRow.name,
                    DeploymentRow.generation,
                    DeploymentRow.spec,
                    DeploymentRow.models,
                    DeploymentRow.replica_status,
                    DeploymentRow.phase,
                    DeploymentRow.message,
                    DeploymentRow.observed_generation,
                )
            ).all()
            return [
                {
                    "id": r[0],
                    "name": r[1],
                    "generation": r[2],
                    "spec": r[3],
                    "models": r[4],
                    "replica_status": r[5],
                    "phase": r[6],
                    "message": r[7],
                    "observed_generation": r[8],
                }
                for r in rows
            ]

    def report_status(
        self, deployment_id: int, generation: int, phase: Phase, message: str, replicas: list[Replica]
    ) -> None:
        """The controller's view of one deployment; ignored when the deployment is gone."""
        with self.db.write() as s:
            row = s.get(DeploymentRow, deployment_id)
            if row is None:
                return
            detail = [r.to_json() for r in replicas]
            available = sum(1 for r in replicas if r.state is ReplicaState.READY)
            if (
                row.phase,
                row.message,
                row.replica_status,
                row.observed_generation,
                row.available_replicas,
            ) == (phase.value, message, detail, generation, available):
                return
            row.phase, row.message = phase.value, message
            row.replicas = len(replicas)
            row.available_replicas = available
            row.replica_status = detail
            row.observed_generation = max(row.observed_generation, generation)

    def metrics_rows(self) -> list[dict[str, Any]]:
        """Per deployment: name, desired replicas (by spec), ready replicas and phase."""
        with self.db.read() as s:
            rows = s.execute(
                select(
                    DeploymentRow.name,
                    DeploymentRow.spec,
                    DeploymentRow.available_replicas,
                    DeploymentRow.phase,
                )
                .where(DeploymentRow.deleting.is_(False))
                .order_by(DeploymentRow.name)
            ).all()
        return [
            {"name": name, "desired": parse_spec(spec).replicas, "ready": ready, "phase": phase}
            for name, spec, ready, phase in rows
        ]

    def route(self, name: str) -> Route | None:
        """The gateway's view of deployment ``name`` (no access check here: the gateway does it)."""
        with self.db.read() as s:
            row = s.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
            if row is None or row.deleting:
                return None
            spec = row.spec
            ready: dict[str, list[str]] = {p["name"]: [] for p in spec["predictors"]}
            for r in row.replica_status:
                if (
                    r.get("state") == ReplicaState.READY.value
                    and r.get("predictor") in ready
                    and r.get("url")
                ):
                    ready[r["predictor"]].append(r["url"])
            hashes = frozenset(
                s.scalars(
                    select(DeploymentTokenRow.secret_hash).where(DeploymentTokenRow.deployment_id == row.id)
                )
            )
            return Route(
                deployment_id=row.id,
                name=row.name,
                group_id=row.group_id,
                access=EndpointAccess(spec.get("endpoint", {}).get("access", "public")),
                phase=Phase(row.phase),
                stopped=bool(spec.get("stop")),
                message=row.message,
                predictors={
                    p["name"]: (int(p.get("traffic", 100)), tuple(ready[p["name"]]))
                    for p in spec["predictors"]
                },
                token_hashes=hashes,
            )
