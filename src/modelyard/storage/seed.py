"""Rows every installation has: the default group and project, experiment "0" named "Default", and the
head of the audit chain."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.domain.audit import GENESIS_HASH
from modelyard.domain.identity import DEFAULT_GROUP_NAME
from modelyard.domain.tracking import DEFAULT_EXPERIMENT_NAME, DEFAULT_PROJECT_NAME
from modelyard.storage.orm import AuditHeadRow, ExperimentRow, GroupRow, ProjectRow


def ensure_defaults(session: Session) -> None:
    """Create the defaults if missing (idempotent; the migrations create them too)."""
    now = int(time.time() * 1000)
    group = session.scalar(select(GroupRow).where(GroupRow.name == DEFAULT_GROUP_NAME))
    if group is None:
        group = GroupRow(
            name=DEFAULT_GROUP_NAME, description="The default group.", created_at=now, updated_at=now
        )
        session.add(group)
        session.flush()
    project = session.scalar(select(ProjectRow).where(ProjectRow.name == DEFAULT_PROJECT_NAME))
    if project is None:
        project = ProjectRow(
            name=DEFAULT_PROJECT_NAME,
            description="The default project.",
            group_id=group.id,
            created_at=now,
            updated_at=now,
        )
        session.add(project)
        session.flush()
    if session.get(ExperimentRow, 0) is None:
        session.add(
            ExperimentRow(
                experiment_id=0,
                name=DEFAULT_EXPERIMENT_NAME,
                artifact_location="mlflow-artifacts:/0",
                lifecycle_stage="active",
                creation_time=now,
                last_update_time=now,
                project_id=project.id,
            )
        )
        session.flush()
    if session.get(AuditHeadRow, 1) is None:
        session.add(AuditHeadRow(id=1, seq=0, hash=GENESIS_HASH))
        session.flush()
