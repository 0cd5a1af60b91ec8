"""Rows every installation has: the default project and experiment "0" named "Default"."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.domain.tracking import DEFAULT_EXPERIMENT_NAME, DEFAULT_PROJECT_NAME
from modelyard.storage.orm import ExperimentRow, ProjectRow


def ensure_defaults(session: Session) -> None:
    """Create the defaults if missing (idempotent; the initial migration creates them too)."""
    now = int(time.time() * 1000)
    project = session.scalar(select(ProjectRow).where(ProjectRow.name == DEFAULT_PROJECT_NAME))
    if project is None:
        project = ProjectRow(
            name=DEFAULT_PROJECT_NAME, description="The default project.", created_at=now, updated_at=now
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
