"""Groups and memberships: creating a group (with its default project), members and their roles, and
the group an actor's new experiments go to by default."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelyard.domain.errors import AlreadyExists, NotFound, PermissionDenied
from modelyard.domain.identity import DEFAULT_GROUP_NAME, Principal, Role, validate_name
from modelyard.services.audit import record
from modelyard.services.common import now_ms
from modelyard.services.identity.auth import IdentityBase
from modelyard.services.identity.users import user_row
from modelyard.storage.orm import GroupRow, MembershipRow, ProjectRow, UserRow


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    description: str
    created_at: int
    members: dict[str, str]  # username -> role


def group_row(s: Session, name: str) -> GroupRow:
    row = s.scalar(select(GroupRow).where(GroupRow.name == name))
    if row is None:
        raise NotFound(f"No group named '{name}'.")
    return row


def _to_group(s: Session, row: GroupRow) -> Group:
    members = {
        u: r
        for u, r in s.execute(
            select(UserRow.username, MembershipRow.role)
            .join(MembershipRow)
            .where(MembershipRow.group_id == row.id)
        )
    }
    return Group(row.id, row.name, row.description, row.created_at, members)


def set_membership(s: Session, actor: Principal, group: GroupRow, user: UserRow, role: Role) -> None:
    current = s.scalar(
        select(MembershipRow).where(MembershipRow.user_id == user.id, MembershipRow.group_id == group.id)
    )
    before = None if current is None else {"role": current.role}
    if current is None:
        membership = MembershipRow(user_id=user.id, group_id=group.id, role=role.label, created_at=now_ms())
        s.add(membership)
        s.flush()
    else:
        membership = current
        current.role = role.label
    record(
        s,
        actor,
        resource_type="membership",
        resource_id=membership.id,
        resource_name=f"{group.name}/{user.username}",
        action="set_role" if current else "add_member",
        group_id=group.id,
        before=before,
        after={"role": role.label},
    )


class Groups(IdentityBase):
    def create_group(self, actor: Principal, *, name: str, description: str = "") -> Group:
        """A group and its default project (named like the group), where its experiments go by default."""
        actor.require_platform_admin(what="creating groups")
        validate_name("group", name)
        with self.db.write() as s:
            if s.scalar(select(GroupRow.id).where(GroupRow.name == name)) is not None:
                raise AlreadyExists(f"Group '{name}' already exists.")
            if s.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
                raise AlreadyExists(f"A project named '{name}' already exists; choose another group name.")
            now = now_ms()
            row = GroupRow(name=name, description=description, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            s.add(
                ProjectRow(
                    name=name,
                    description=f"Default project of group {name}.",
                    group_id=row.id,
                    created_at=now,
                    updated_at=now,
                )
            )
            record(
                s,
                actor,
                resource_type="group",
                resource_id=row.id,
                resource_name=name,
                action="create",
                group_id=row.id,
                after={"name": name, "description": description},
            )
            return _to_group(s, row)

    def list_groups(self, actor: Principal) -> list[Group]:
        with self.db.read() as s:
            stmt = select(GroupRow).order_by(GroupRow.name)
            if not actor.is_admin:
                stmt = stmt.where(GroupRow.id.in_(actor.roles or [-1]))
            return [_to_group(s, r) for r in s.scalars(stmt)]

    def role_names(self, actor: Principal) -> dict[str, str]:
        """The actor's own groups by name, with their role in each (a platform admin's memberships too,
        not every group)."""
        if not actor.roles:
            return {}
        with self.db.read() as s:
            names = s.execute(select(GroupRow.id, GroupRow.name).where(GroupRow.id.in_(actor.roles)))
            return {name: actor.roles[gid].label for gid, name in sorted(names, key=lambda r: r[1])}

    def get_group(self, actor: Principal, name: str) -> Group:
        with self.db.read() as s:
            row = group_row(s, name)
            actor.require(row.id, Role.VIEWER, what=f"Group '{name}'")
            return _to_group(s, row)

    def set_member(self, actor: Principal, *, group: str, username: str, role: str) -> Group:
        """Add a user to a group or change their role. Group admins and platform admins only."""
        parsed = Role.parse(role)
        with self.db.write() as s:
            grp = group_row(s, group)
            actor.require(grp.id, Role.ADMIN, what=f"Managing members of group '{group}'")
            user = user_row(s, username)
            set_membership(s, actor, grp, user, parsed)
            out = _to_group(s, grp)
        self._changed()
        return out

    def remove_member(self, actor: Principal, *, group: str, username: str) -> Group:
        with self.db.write() as s:
            grp = group_row(s, group)
            actor.require(grp.id, Role.ADMIN, what=f"Managing members of group '{group}'")
            user = user_row(s, username)
            current = s.scalar(
                select(MembershipRow).where(
                    MembershipRow.user_id == user.id, MembershipRow.group_id == grp.id
                )
            )
            if current is None:
                raise NotFound(f"User '{username}' is not a member of group '{group}'.")
            s.execute(
                delete(MembershipRow).where(
                    MembershipRow.user_id == user.id, MembershipRow.group_id == grp.id
                )
            )
            record(
                s,
                actor,
                resource_type="membership",
                resource_id=current.id,
                resource_name=f"{grp.name}/{user.username}",
                action="remove_member",
                group_id=grp.id,
                before={"role": current.role},
                after=None,
            )
            out = _to_group(s, grp)
        self._changed()
        return out

    def default_group_id(self, actor: Principal) -> int:
        """The group new experiments of this actor go to when none is named: the default group for
        platform admins, else the first group (by name) the actor can write to."""
        with self.db.read() as s:
            if actor.is_admin:
                gid = s.scalar(select(GroupRow.id).where(GroupRow.name == DEFAULT_GROUP_NAME))
                if gid is not None:
                    return int(gid)
            writable = actor.writable_groups() or frozenset()
            gid = s.scalar(
                select(GroupRow.id).where(GroupRow.id.in_(writable or [-1])).order_by(GroupRow.name)
            )
        if gid is None:
            raise PermissionDenied(
                f"User '{actor.username}' cannot create anything: they are not a member of any group. "
                "Ask a group admin to add them (`modelyard groups add-member`)."
            )
        return int(gid)
