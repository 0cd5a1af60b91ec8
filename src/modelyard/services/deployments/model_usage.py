"""Which deployments serve a registered model version: those with a predictor whose model resolved to
it (``models:/name/3``, or ``models:/name@alias`` while the alias named version 3 when the spec was
applied — what the replicas load), for the registry's version page.

Only the deployments the actor can read are listed (the viewer role in their group), so another
group's deployment of a shared model is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from modelyard.domain.deployments import endpoint_path
from modelyard.domain.identity import Principal
from modelyard.storage.db import Database
from modelyard.storage.orm import DeploymentRow


@dataclass(frozen=True, slots=True)
class ServingDeployment:
    name: str
    stage: str
    phase: str
    message: str
    predictors: tuple[str, ...]  # the predictors that load the version
    endpoint: str
    replicas: int
    available_replicas: int
    updated_at: int


class ModelUsageOps:
    db: Database

    def serving_model_version(self, actor: Principal, name: str, version: int) -> list[ServingDeployment]:
        """The deployments (readable by the actor) with a predictor that loads version ``version`` of
        registered model ``name``, by name."""
        stmt = select(DeploymentRow).where(DeploymentRow.deleting.is_(False)).order_by(DeploymentRow.name)
        groups = actor.readable_groups()
        if groups is not None:
            stmt = stmt.where(DeploymentRow.group_id.in_(groups or [-1]))
        out: list[ServingDeployment] = []
        with self.db.read() as s:
            for row in s.scalars(stmt):
                predictors = tuple(
                    predictor
                    for predictor, info in sorted((row.models or {}).items())
                    if isinstance(info, dict)
                    and info.get("registered_model") == name
                    and str(info.get("version")) == str(version)
                )
                if predictors:
                    out.append(
                        ServingDeployment(
                            name=row.name,
                            stage=row.stage,
                            phase=row.phase,
                            message=row.message,
                            predictors=predictors,
                            endpoint=endpoint_path(row.name),
                            replicas=row.replicas,
                            available_replicas=row.available_replicas,
                            updated_at=row.updated_at,
                        )
                    )
        return out
