"""Users, groups, memberships and API tokens; authentication of requests.

Authentication results are cached for a couple of seconds per token (a lookup and a membership
load on every request would cost more than most tracking calls); every change made through this
service clears the cache at once, and other processes see it within the TTL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from modelyard.domain.errors import (
    AlreadyExists,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from modelyard.domain.identity import DEFAULT_GROUP_NAME, Principal, Role, validate_name
from modelyard.services import secrets as sec
from modelyard.services.audit import record
from modelyard.services.common import now_ms
from modelyard.storage.db import Database
from modelyard.storage.orm import GroupRow, MembershipRow, ProjectRow, TokenRow, UserRow

AUTH_CACHE_SECONDS = 2.0
LAST_USED_RESOLUTION_MS = 60_000
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


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    username: str
    name: str
    prefix: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    description: str
    created_at: int
    members: dict[str, str]  # username -> role


def _user_fields(row: UserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "email": row.email,
        "is_admin": row.is_admin,
        "disabled": row.disabled,
    }


class IdentityService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    # ---- authentication -------------------------------------------------------------------------
    def cached(self, token: str) -> Principal | None:
        """The principal of a recently authenticated token, without touching the database."""
        with self._lock:
            hit = self._cache.get(sec.token_hash(token))
        if hit is not None and time.monotonic() - hit[0] < AUTH_CACHE_SECONDS:
            return hit[1]
        return None

    def authenticate_token(self, token: str) -> Principal:
        digest = sec.token_hash(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < AUTH_CACHE_SECONDS:
            return hit[1]
        with self.db.read() as s:
            row = s.execute(
                select(TokenRow, UserRow).join(UserRow).where(TokenRow.secret_hash == digest)
            ).first()
            if row is None:
                raise Unauthenticated(
                    "Invalid token: no such token. Create one with `modelyard tokens create`."
                )
            tok, user = row
            if tok.revoked_at is not None:
                raise Unauthenticated(f"Token '{tok.prefix}…' was revoked; use another token.")
            if tok.expires_at is not None and tok.expires_at <= now_ms():
                raise Unauthenticated(f"Token '{tok.prefix}…' expired; create a new one.")
            if user.disabled:
                raise Unauthenticated(f"User '{user.username}' is disabled.")
            principal = self._principal(s, user, token_id=tok.id)
            token_id = tok.id
            stale = tok.last_used_at is None or now_ms() - tok.last_used_at > LAST_USED_RESOLUTION_MS
        if stale:
            # A minute's resolution tells live tokens from dead ones, at one write a minute per token.
            with self.db.write() as s:
                s.execute(update(TokenRow).where(TokenRow.id == token_id).values(last_used_at=now_ms()))
        with self._lock:
            self._cache[digest] = (now, principal)
        return principal

    def authenticate_password(self, username: str, password: str) -> Principal:
        """HTTP Basic: the password may be the user's password or one of their tokens."""
        if password.startswith(sec.TOKEN_PREFIX):
            principal = self.authenticate_token(password)
            if principal.username != username:
                raise Unauthenticated("The token does not belong to the user named in the credentials.")
            return principal
        with self.db.read() as s:
            user = s.scalar(select(UserRow).where(UserRow.username == username))
            if (
                user is None
                or not user.password_hash
                or not sec.verify_password(password, user.password_hash)
            ):
                raise Unauthenticated("Invalid username or password.")
            if user.disabled:
                raise Unauthenticated(f"User '{user.username}' is disabled.")
            return self._principal(s, user)

    def _principal(self, s: Session, user: UserRow, token_id: int | None = None) -> Principal:
        roles = {
            gid: Role.parse(role)
            for gid, role in s.execute(
                select(MembershipRow.group_id, MembershipRow.role).where(MembershipRow.user_id == user.id)
            )
        }
        return Principal(
            user_id=user.id, username=user.username, is_admin=user.is_admin, roles=roles, token_id=token_id
        )

    def principal_for(self, username: str) -> Principal:
        with self.db.read() as s:
            user = s.scalar(select(UserRow).where(UserRow.username == username))
            if user is None:
                raise NotFound(f"No user named '{username}'.")
            return self._principal(s, user)

    def _changed(self) -> None:
        with self._lock:
            self._cache.clear()

    # ---- bootstrap ------------------------------------------------------------------------------
    def has_users(self) -> bool:
        with self.db.read() as s:
            return bool(s.scalar(select(func.count()).select_from(UserRow)))

    def bootstrap_admin(self, username: str = "admin") -> tuple[str, str]:
        """On an empty installation: a platform admin (admin of the default group) and a token for it.

        Returns (username, token); the token is shown once and never stored in clear.
        """
        system = Principal.system()
        with self.db.write() as s:
            if s.scalar(select(func.count()).select_from(UserRow)):
                raise AlreadyExists(
                    "Users already exist; the first admin is created only on an empty installation."
                )
            user = self._insert_user(s, system, username=username, is_admin=True)
            group = s.scalar(select(GroupRow).where(GroupRow.name == DEFAULT_GROUP_NAME))
            if group is not None:
                self._set_membership(s, system, group, user, Role.ADMIN)
            _, token = self._insert_token(s, system, user, name="bootstrap", expires_at=None)
        self._changed()
        return username, token

    # ---- users ----------------------------------------------------------------------------------
    def _insert_user(
        self,
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
            resource_id=row.username,
            action="create",
            group_id=None,
            after=after,
        )
        return row

    def create_user(
        self,
        actor: Principal,
        *,
        username: str,
        password: str | None = None,
        is_admin: bool = False,
        display_name: str = "",
        email: str = "",
        group: str | None = None,
        role: str = "member",
    ) -> User:
        actor.require_platform_admin(what="creating users")
        parsed_role = Role.parse(role)
        with self.db.write() as s:
            user = self._insert_user(
                s,
                actor,
                username=username,
                password=password,
                is_admin=is_admin,
                display_name=display_name,
                email=email,
            )
            if group is not None:
                self._set_membership(s, actor, self._group_row(s, group), user, parsed_role)
            out = self._user(s, user)
        self._changed()
        return out

    def _user(self, s: Session, row: UserRow) -> User:
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

    def _user_row(self, s: Session, username: str) -> UserRow:
        row = s.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise NotFound(f"No user named '{username}'.")
        return row

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
            return [self._user(s, r) for r in rows]

    def set_disabled(self, actor: Principal, username: str, disabled: bool) -> User:
        actor.require_platform_admin(what="disabling or enabling users")
        with self.db.write() as s:
            row = self._user_row(s, username)
            if disabled and row.id == actor.user_id:
                raise InvalidParameter("You cannot disable yourself; ask another platform admin.")
            before = _user_fields(row)
            row.disabled = disabled
            row.updated_at = now_ms()
            record(
                s,
                actor,
                resource_type="user",
                resource_id=username,
                action="disable" if disabled else "enable",
                group_id=None,
                before=before,
                after=_user_fields(row),
            )
            out = self._user(s, row)
        self._changed()
        return out

    def set_password(self, actor: Principal, username: str, password: str) -> None:
        if actor.username != username:
            actor.require_platform_admin(what="changing another user's password")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidParameter(f"Invalid password: use at least {MIN_PASSWORD_LENGTH} characters.")
        with self.db.write() as s:
            row = self._user_row(s, username)
            row.password_hash = sec.hash_password(password)
            row.updated_at = now_ms()
            record(
                s,
                actor,
                resource_type="user",
                resource_id=username,
                action="set_password",
                group_id=None,
                details={"password": "changed"},
            )
        self._changed()

    # ---- tokens ---------------------------------------------------------------------------------
    def _insert_token(
        self, s: Session, actor: Principal, user: UserRow, *, name: str, expires_at: int | None
    ) -> tuple[TokenRow, str]:
        secret = sec.new_token()
        row = TokenRow(
            user_id=user.id,
            name=name,
            secret_hash=sec.token_hash(secret),
            prefix=secret[: len(sec.TOKEN_PREFIX) + 6],
            created_at=now_ms(),
            expires_at=expires_at,
        )
        s.add(row)
        s.flush()
        record(
            s,
            actor,
            resource_type="token",
            resource_id=row.id,
            action="create",
            group_id=None,
            after={"user": user.username, "name": name, "prefix": row.prefix, "expires_at": expires_at},
        )
        return row, secret

    def create_token(
        self,
        actor: Principal,
        *,
        username: str | None = None,
        name: str = "",
        expires_in_days: float | None = None,
    ) -> tuple[Token, str]:
        """A new token for ``username`` (default: the actor). Returns its record and the secret, shown once."""
        username = username or actor.username
        if username != actor.username:
            actor.require_platform_admin(what="creating tokens for another user")
        if expires_in_days is not None and expires_in_days <= 0:
            raise InvalidParameter("Invalid expiry: 'expires_in_days' must be positive.")
        expires_at = None if expires_in_days is None else now_ms() + int(expires_in_days * 86_400_000)
        with self.db.write() as s:
            user = self._user_row(s, username)
            row, secret = self._insert_token(s, actor, user, name=name, expires_at=expires_at)
            token = self._token(row, user.username)
        return token, secret

    @staticmethod
    def _token(row: TokenRow, username: str) -> Token:
        return Token(
            row.id,
            username,
            row.name,
            row.prefix,
            row.created_at,
            row.expires_at,
            row.revoked_at,
            row.last_used_at,
        )

    def list_tokens(self, actor: Principal, *, username: str | None = None) -> list[Token]:
        username = username or actor.username
        if username != actor.username:
            actor.require_platform_admin(what="listing another user's tokens")
        with self.db.read() as s:
            user = self._user_row(s, username)
            rows = s.scalars(select(TokenRow).where(TokenRow.user_id == user.id).order_by(TokenRow.id))
            return [self._token(r, username) for r in rows]

    def revoke_token(self, actor: Principal, token_id: int) -> Token:
        with self.db.write() as s:
            found = s.execute(
                select(TokenRow, UserRow.username).join(UserRow).where(TokenRow.id == token_id)
            ).first()
            if found is None:
                raise NotFound(f"No token with id {token_id}.")
            row, owner = found
            if owner != actor.username and not actor.is_admin:
                raise NotFound(f"No token with id {token_id}.")
            if row.revoked_at is None:
                row.revoked_at = now_ms()
                record(
                    s,
                    actor,
                    resource_type="token",
                    resource_id=token_id,
                    action="revoke",
                    group_id=None,
                    before={"revoked": False},
                    after={"revoked": True, "user": owner},
                )
            out = self._token(row, owner)
        self._changed()
        return out

    # ---- groups ---------------------------------------------------------------------------------
    def _group_row(self, s: Session, name: str) -> GroupRow:
        row = s.scalar(select(GroupRow).where(GroupRow.name == name))
        if row is None:
            raise NotFound(f"No group named '{name}'.")
        return row

    def _group(self, s: Session, row: GroupRow) -> Group:
        members = {
            u: r
            for u, r in s.execute(
                select(UserRow.username, MembershipRow.role)
                .join(MembershipRow)
                .where(MembershipRow.group_id == row.id)
            )
        }
        return Group(row.id, row.name, row.description, row.created_at, members)

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
                resource_id=name,
                action="create",
                group_id=row.id,
                after={"name": name, "description": description},
            )
            return self._group(s, row)

    def list_groups(self, actor: Principal) -> list[Group]:
        with self.db.read() as s:
            stmt = select(GroupRow).order_by(GroupRow.name)
            if not actor.is_admin:
                stmt = stmt.where(GroupRow.id.in_(actor.roles or [-1]))
            return [self._group(s, r) for r in s.scalars(stmt)]

    def get_group(self, actor: Principal, name: str) -> Group:
        with self.db.read() as s:
            row = self._group_row(s, name)
            actor.require(row.id, Role.VIEWER, what=f"Group '{name}'")
            return self._group(s, row)

    def _set_membership(
        self, s: Session, actor: Principal, group: GroupRow, user: UserRow, role: Role
    ) -> None:
        current = s.scalar(
            select(MembershipRow).where(MembershipRow.user_id == user.id, MembershipRow.group_id == group.id)
        )
        before = None if current is None else {"role": current.role}
        if current is None:
            s.add(MembershipRow(user_id=user.id, group_id=group.id, role=role.label, created_at=now_ms()))
        else:
            current.role = role.label
        record(
            s,
            actor,
            resource_type="membership",
            resource_id=f"{group.name}/{user.username}",
            action="set_role" if current else "add_member",
            group_id=group.id,
            before=before,
            after={"role": role.label},
        )

    def set_member(self, actor: Principal, *, group: str, username: str, role: str) -> Group:
        """Add a user to a group or change their role. Group admins and platform admins only."""
        parsed = Role.parse(role)
        with self.db.write() as s:
            grp = self._group_row(s, group)
            actor.require(grp.id, Role.ADMIN, what=f"Managing members of group '{group}'")
            user = self._user_row(s, username)
            self._set_membership(s, actor, grp, user, parsed)
            out = self._group(s, grp)
        self._changed()
        return out

    def remove_member(self, actor: Principal, *, group: str, username: str) -> Group:
        with self.db.write() as s:
            grp = self._group_row(s, group)
            actor.require(grp.id, Role.ADMIN, what=f"Managing members of group '{group}'")
            user = self._user_row(s, username)
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
                resource_id=f"{group}/{username}",
                action="remove_member",
                group_id=grp.id,
                before={"role": current.role},
                after=None,
            )
            out = self._group(s, grp)
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
