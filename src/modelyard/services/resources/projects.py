"""Project changes the experiment service does not offer yet: update (name, description) and delete.

Both need the ``admin`` role in the project's group, and both are audited in their transaction. A
default project — the installation's ``default`` one, or a group's own (named like the group) —
cannot be renamed or deleted: experiments created without a project land in it by name. A project is
deleted only when no experiment (active or deleted) belongs to it any more.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.domain.errors import AlreadyExists, Conflict, InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.tracking import DEFAULT_PROJECT_NAME
from modelyard.services.audit import record
from modelyard.services.common import now_ms
from modelyard.storage.db import Database
from modelyard.storage.orm import ExperimentRow, GroupRow, ProjectRow

MAX_PROJECT_NAME_LENGTH = 250  # the width of projects.name


def _row(s: Session, actor: Principal, project_id: int, what: str) -> ProjectRow:
    row = s.get(ProjectRow, project_id)
    if row is None or actor.role_in(row.group_id) is None:
        raise NotFound(f"No project with id={project_id} exists.")
    actor.require(row.group_id, Role.ADMIN, what=f"{what} project {project_id}")
    return row


def _default_of(s: Session, row: ProjectRow) -> str | None:
    """Why the project is a default one (for the refusal), or None when it is not."""
    if row.name == DEFAULT_PROJECT_NAME:
        return f"The default project '{DEFAULT_PROJECT_NAME}'"
    group = s.scalar(select(GroupRow.name).where(GroupRow.id == row.group_id))
    return f"Project '{row.name}', the default project of group '{group}'," if group == row.name else None


def update_project(
    db: Database,
    actor: Principal,
    project_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
) -> None:
    if name is not None and (not name.strip() or len(name) > MAX_PROJECT_NAME_LENGTH):
        raise InvalidParameter(
            f"Invalid project name '{name[:80]}': it must be non-blank and at most {MAX_PROJECT_NAME_LENGTH} "
            "characters."
        )
    try:
        with db.write() as s:
            row = _row(s, actor, project_id, "Changing")
            before = {"name": row.name, "description": row.description}
            if name is not None and name != row.name:
                default = _default_of(s, row)
                if default is not None:
                    raise InvalidParameter(f"{default} cannot be renamed; its description can be changed.")
                if s.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
                    raise AlreadyExists(f"Project(name={name}) already exists.")
                row.name = name
            if description is not None:
                row.description = description
            row.updated_at = now_ms()
            record(
                s,
                actor,
                resource_type="project",
                resource_id=project_id,
                resource_name=row.name,
                action="update",
                group_id=row.group_id,
                before=before,
                after={"name": row.name, "description": row.description},
            )
    except IntegrityError:  # lost a race with a concurrent rename to the same name
        raise AlreadyExists(f"Project(name={name}) already exists.") from None


def delete_project(db: Database, actor: Principal, project_id: int) -> None:
    try:
        with db.write() as s:
            row = _row(s, actor, project_id, "Deleting")
            default = _default_of(s, row)
            if default is not None:
                raise Conflict(f"{default} cannot be deleted.")
            count = s.scalar(select(func.count()).where(ExperimentRow.project_id == project_id)) or 0
            if count:
                raise Conflict(
                    f"Project '{row.name}' (id={project_id}) still has {count} experiment(s), deleted ones "
                    "included; a project can be deleted only when none belongs to it."
                )
            record(
                s,
                actor,
                resource_type="project",
                resource_id=project_id,
                resource_name=row.name,
                action="delete",
                group_id=row.group_id,
                before={"name": row.name, "description": row.description, "group_id": row.group_id},
                after=None,
            )
            s.delete(row)
    except IntegrityError:  # an experiment was created in it meanwhile
        raise Conflict(
            f"Project id={project_id} gained an experiment while being deleted; it was kept."
        ) from None
