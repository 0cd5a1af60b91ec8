"""What every registry operation does first: find the model (or version) by name, check the actor's
role in the model's group, and — for writes — record the change in the audit trail.

A model the actor cannot read is reported exactly like a missing one, so names of other groups'
models cannot be probed (except by ``create``: names are global, as in MLflow, so a taken name is
refused whoever holds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import String
from sqlalchemy.orm import Session

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.registry import MAX_REGISTRY_TAG_VALUE_LENGTH
from modelyard.domain.tracking import validate_key, validate_value
from modelyard.services.audit import record
from modelyard.storage import registry_repo as repo
from modelyard.storage.orm import AuditEventRow, ModelVersionRow, RegisteredModelRow

_AUDIT_ID_LENGTH = cast(String, AuditEventRow.__table__.c.resource_id.type).length or 250


def model_not_found(name: str) -> NotFound:
    return NotFound(f"Registered Model with name={name} not found")


def version_not_found(name: str, version: int) -> NotFound:
    return NotFound(f"Model Version (name={name}, version={version}) not found")


def model_for(s: Session, actor: Principal, name: str, role: Role) -> RegisteredModelRow:
    """The named model, after checking the actor holds ``role`` in its group.

    For writes (``role`` member or above) the model's row is locked first, so writers of one model
    queue on it, and always take it before the audit chain's head: one order, no deadlock.
    """
    row = repo.model_row(s, name, for_update=role >= Role.MEMBER)
    if row is None or actor.role_in(row.group_id) is None:
        raise model_not_found(name)
    actor.require(row.group_id, role, what=f"Registered model '{name}'")
    return row


def version_for(
    s: Session, actor: Principal, name: str, version: int, role: Role
) -> tuple[RegisteredModelRow, ModelVersionRow]:
    model = model_for(s, actor, name, role)
    row = repo.version_row(s, model.id, version)
    if row is None:
        raise version_not_found(name, version)
    return model, row


def text_param(value: Any, name: str) -> str:
    """An optional string parameter (a description, a link); missing is empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid value {value!r} for parameter '{name}': expected a string.")
    return value


def checked_tag(key: Any, value: Any) -> tuple[str, str]:
    key = validate_key("tag", key)
    return key, validate_value("tag", key, value, MAX_REGISTRY_TAG_VALUE_LENGTH)


def audit(
    s: Session,
    actor: Principal,
    model: RegisteredModelRow,
    action: str,
    *,
    version: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """One audit event for a registered model (``version`` None) or one of its versions. A name too long
    for the trail's resource id column (names may have 256 characters) is clipped there and recorded
    whole in the details."""
    resource_id = model.name if version is None else f"{model.name}/{version}"
    if len(resource_id) > _AUDIT_ID_LENGTH:
        details = {**(details or {}), "resource": resource_id}
        resource_id = resource_id[:_AUDIT_ID_LENGTH]
    record(
        s,
        actor,
        resource_type="registered_model" if version is None else "model_version",
        resource_id=resource_id,
        action=action,
        group_id=model.group_id,
        before=before,
        after=after,
        details=details,
    )
