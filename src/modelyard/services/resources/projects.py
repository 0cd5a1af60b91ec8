"""Project changes the experiment service does not offer yet: update (name, description) and delete.

The default project cannot be renamed or deleted: experiments created without a project land in it
by name. A project is deleted only when no experiment (active or deleted) belongs to it any more.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.domain.errors import AlreadyExists, Conflict, InvalidParameter, NotFound
from modelyard.domain.tracking import DEFAULT_PROJECT_NAME
from modelyard.services.common import now_ms
from modelyard.storage.db import Database
from modelyard.storage.orm import ExperimentRow, ProjectRow

MAX_PROJECT_NAME_LENGTH = 250  # the width of projects.name


def _row(s: Session, project_id: int) -> ProjectRow:
    row = s.get(ProjectRow, project_id)
    if row is None:
        raise NotFound(f"No project with id={project_id} exists.")
    return row


def update_project(
    db: Database, project_id: int, *, name: str | None = None, description: str | None = None
) -> None:
    if name is not None and (not name.strip() or len(name) > MAX_PROJECT_NAME_LENGTH):
        raise InvalidParameter(
            f"Invalid project name '{name[:80]}': it must be non-blank and at most {MAX_PROJECT_NAME_LENGTH} "
            "characters."
        )
    try:
        with db.write() as s:
            row = _row(s, project_id)
            if name is not None and name != row.name:
                if row.name == DEFAULT_PROJECT_NAME:
                    raise InvalidParameter(
                        f"The default project '{DEFAULT_PROJECT_NAME}' cannot be renamed; its description "
                        "can be changed."
                    )
                if s.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
                    raise AlreadyExists(f"Project(name={name}) already exists.")
                row.name = name
            if description is not None:
                row.description = description
            row.updated_at = now_ms()
    except IntegrityError:  # lost a race with a concurrent rename to the same name
        raise AlreadyExists(f"Project(name={name}) already exists.") from None


def delete_project(db: Database, project_id: int) -> None:
    try:
        with db.write() as s:
            row = _row(s, project_id)
            if row.name == DEFAULT_PROJECT_NAME:
                raise Conflict(f"The default project '{DEFAULT_PROJECT_NAME}' cannot be deleted.")
            count = s.scalar(select(func.count()).where(ExperimentRow.project_id == project_id)) or 0
            if count:
                raise Conflict(
                    f"Project '{row.name}' (id={project_id}) still has {count} experiment(s), deleted ones "
                    "included; a project can be deleted only when none belongs to it."
                )
            s.delete(row)
    except IntegrityError:  # an experiment was created in it meanwhile
        raise Conflict(
            f"Project id={project_id} gained an experiment while being deleted; it was kept."
        ) from None
