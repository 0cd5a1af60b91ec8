"""Users: creating them, who sees whom, disabling them and their passwords.

The row-level helpers (``insert_user``, ``user_row``, ``to_user``) take the caller's session, so the
other parts of ``IdentityService`` use them inside their own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from modelyard.domain.errors import AlreadyExists, InvalidParameter, NotFound
from modelyard.domain.identity import Principal, validate_name
from modelyard.services.audit import record
from modelyard.services.common import now_ms
from modelyard.services.identity import secrets as sec
from modelyard.services.identity.auth import IdentityBase
from modelyard.storage.orm import GroupRow, MembershipRow, UiSessionRow, UserRow

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    email: str
    is_admin: bool
    disabled: bool
    created_at: int
    groups: dict[str, str]  # group name -> role


def _user_fields(row: UserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "email": row.email,
        "is_admin": row.is_admin,
        "disabled": row.disabled,
    }


def insert_user(
    s: Session,
    actor: Principal,
    *,
    username: str,
    password: str | None = None,
    is_admin: bool = False,
    display_name: str = "",
    email: str = "",
) -> UserRow:
    validate_name("user", username)
    if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise AlreadyExists(f"User '{username}' already exists.")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameter(f"Invalid password: use at least {MIN_PASSWORD_LENGTH} characters.")
    now = now_ms()
    row = UserRow(
        username=username,
        display_name=display_name,
        email=email,
        password_hash=sec.hash_password(password) if password else "",
        is_admin=is_admin,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    s.flush()
    after = {**_user_fields(row), "password": "set" if password else None}
    record(
        s,
        actor,
        resource_type="user",
        resource_id=row.id,
        resource_name=row.username,
        action="create",
        group_id=None,
        after=after,
    )
    return row


def to_user(s: Session, row: UserRow) -> User:
    groups = {
        name: role
        for name, role in s.execute(
            select(GroupRow.name, MembershipRow.role)
            .join(MembershipRow)
            .where(MembershipRow.user_id == row.id)
        )
    }
    return User(
        row.id,
        row.username,
        row.display_name,
        row.email,
        row.is_admin,
        row.disabled,
        row.created_at,
        groups,
    )


def user_row(s: Session, username: str) -> UserRow:
    row = s.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        raise NotFound(f"No user named '{username}'.")
    return row


class Users(IdentityBase):
    def has_users(self) -> bool:
        with self.db.read() as s:
            return bool(s.scalar(select(func.count()).select_from(UserRow)))

    def list_users(self, actor: Principal) -> list[User]:
        with self.db.read() as s:
            rows = list(s.scalars(select(UserRow).order_by(UserRow.username)))
            if not actor.is_admin:
                # others see the members of the groups they belong to
                visible = set(
                    s.scalars(
                        select(MembershipRow.user_id).where(MembershipRow.group_id.in_(actor.roles or [-1]))
                    )
                )
                rows = [r for r in rows if r.id in visible or r.id == actor.user_id]
            return [to_user(s, r) for r in rows]

    def set_disabled(self, actor: Principal, username: str, disabled: bool) -> User:
        actor.require_platform_admin(what="disabling or enabling users")
        with self.db.write() as s:
            row = user_row(s, username)
            if disabled and row.id == actor.user_id:
                raise InvalidParameter("You cannot disable yourself; ask another platform admin.")
            before = _user_fields(row)
            row.disabled = disabled
            row.updated_at = now_ms()
            if disabled:
                s.execute(delete(UiSessionRow).where(UiSessionRow.user_id == row.id))
            record(
                s,
                actor,
                resource_type="user",
                resource_id=row.id,
                resource_name=row.username,
                action="disable" if disabled else "enable",
                group_id=None,
                before=before,
                after=_user_fields(row),
            )
            out = to_user(s, row)
        self._changed()
        return out

    def set_password(self, actor: Principal, username: str, password: str) -> None:
        if actor.username != username:
            actor.require_platform_admin(what="changing another user's password")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidParameter(f"Invalid password: use at least {MIN_PASSWORD_LENGTH} characters.")
        with self.db.write() as s:
            row = user_row(s, username)
            row.password_hash = sec.hash_password(password)
            row.updated_at = now_ms()
            # a new password ends the user's web sessions (the UI starts a new one for whoever changed it)
            s.execute(delete(UiSessionRow).where(UiSessionRow.user_id == row.id))
            record(
                s,
                actor,
                resource_type="user",
                resource_id=row.id,
                resource_name=row.username,
                action="set_password",
                group_id=None,
                details={"password": "changed"},
            )
        self._changed()
