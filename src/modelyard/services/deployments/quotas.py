"""Group quotas for deployments: CPU, memory, GPU and the number of deployments, and whether a group
may deploy models at all. Platform admins set them; a group's members read them with its usage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.domain.deployments import parse_spec
from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.quotas import Quota, Usage, parse_quota
from modelyard.services.audit import record
from modelyard.services.common import now_ms
from modelyard.storage.db import Database
from modelyard.storage.orm import DeploymentRow, GroupQuotaRow, GroupRow


def load_quota(s: Session, group_id: int) -> Quota:
    row = s.get(GroupQuotaRow, group_id)
    if row is None:
        return Quota()
    return Quota(row.cpu_m, row.memory_mi, row.gpu, row.deployments, row.deployments_enabled)


def group_usage(s: Session, group_id: int) -> Usage:
    """What the group's deployments take by their specs (a stopped one counts only as a deployment)."""
    total = Usage()
    for spec in s.scalars(select(DeploymentRow.spec).where(DeploymentRow.group_id == group_id)):
        total += parse_spec(spec).usage()
    return total


class QuotaService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _group(self, s: Session, actor: Principal, group: str) -> GroupRow:
        row = s.scalar(select(GroupRow).where(GroupRow.name == group))
        if row is None or actor.role_in(row.id) is None:
            raise NotFound(f"group: '{group}' does not exist (or you are not a member).")
        return row

    def get(self, actor: Principal, group: str) -> dict[str, Any]:
        with self.db.read() as s:
            row = self._group(s, actor, group)
            actor.require(row.id, Role.VIEWER, what=f"Reading the quotas of group '{group}'")
            return self._view(s, row)

    def list_all(self, actor: Principal) -> list[dict[str, Any]]:
        with self.db.read() as s:
            stmt = select(GroupRow).order_by(GroupRow.name)
            groups = actor.readable_groups()
            if groups is not None:
                stmt = stmt.where(GroupRow.id.in_(groups))
            return [self._view(s, row) for row in s.scalars(stmt)]

    @staticmethod
    def _view(s: Session, row: GroupRow) -> dict[str, Any]:
        quota = load_quota(s, row.id)
        usage = group_usage(s, row.id)
        return {"group": row.name, "quota": quota.to_json(), "usage": usage.to_json()}

    def set(self, actor: Principal, group: str, raw: Any) -> dict[str, Any]:
        """Change some limits (others keep their values; ``null`` removes a limit). Platform admins only:
        existing deployments above a lowered quota keep running, new growth is refused."""
        with self.db.write() as s:
            row = self._group(s, actor, group)
            actor.require_platform_admin(what=f"Setting the quotas of group '{group}'")
            current = load_quota(s, row.id)
            quota = parse_quota(raw, current)
            stored = s.get(GroupQuotaRow, row.id)
            if stored is None:
                stored = GroupQuotaRow(group_id=row.id, updated_at=now_ms())
                s.add(stored)
            stored.cpu_m, stored.memory_mi, stored.gpu = quota.cpu_m, quota.memory_mi, quota.gpu
            stored.deployments, stored.deployments_enabled = quota.deployments, quota.deployments_enabled
            stored.updated_at = now_ms()
            record(
                s,
                actor,
                resource_type="group_quota",
                resource_id=row.id,
                resource_name=row.name,
                action="update",
                group_id=row.id,
                before=current.to_json(),
                after=quota.to_json(),
            )
            s.flush()
            return self._view(s, row)
