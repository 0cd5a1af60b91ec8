"""Who may read and change the rows of a resource: the access policy every declaration names.

A policy answers three questions for the generic resource API: which rows a principal may see (an SQL
condition added to every list, count, show, link and choice, so that another group's row looks exactly
like a missing one), whether it may do an operation on one row (checked before any hook runs, so a
resource whose hook does not check permissions is still safe), and whether it may do an operation on
some row at all (the ``permissions`` of ``_info``). The services behind the hooks check again: the
generic layer is a second fence, never the only one.

Operations are ``add``, ``edit``, ``delete`` and ``action:<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import ColumnElement, false
from sqlalchemy.orm import QueryableAttribute, Session

from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.storage.resource_query import GroupPath, group_of, in_groups

ADD, EDIT, DELETE = "add", "edit", "delete"
_VERBS = {ADD: "creating", EDIT: "changing", DELETE: "deleting"}


def action_operation(name: str) -> str:
    return f"action:{name}"


def describe(operation: str, what: str) -> str:
    """``changing experiment 5``, ``action 'revoke' on token 3``: the subject of a refusal message."""
    if operation.startswith("action:"):
        return f"action '{operation.removeprefix('action:')}' on {what}"
    return f"{_VERBS.get(operation, operation)} {what}"


class Access(Protocol):
    def visible(self, actor: Principal) -> ColumnElement[bool] | None:
        """The condition on rows ``actor`` may read; None when it may read every row."""

    def check(
        self,
        session: Session,
        actor: Principal,
        *,
        primary_key: QueryableAttribute[Any],
        key: Any,
        operation: str,
        what: str,
    ) -> None:
        """Raise ``PermissionDenied`` (or ``NotFound``) unless ``actor`` may do ``operation`` on row ``key``,
        which it can already see. ``what`` names the row for people (``experiment 5``)."""

    def allowed(self, actor: Principal, operation: str) -> bool:
        """Whether ``actor`` may do ``operation`` on at least some row (for ``_info``)."""

    def requirement(self, operation: str) -> str:
        """What ``operation`` needs, for a refusal message: ``the 'member' role in a group``."""


@dataclass(frozen=True)
class GroupScoped:
    """Rows that belong to a group (reached through ``path``): read with ``read`` in that group, write
    with the role ``roles`` names for the operation (``member`` when not named). Operations in
    ``platform_admin`` need a platform admin whatever the group."""

    path: GroupPath
    read: Role = Role.VIEWER
    roles: dict[str, Role] = field(default_factory=dict, hash=False)
    platform_admin: frozenset[str] = frozenset()

    def role_for(self, operation: str) -> Role:
        return self.roles.get(operation, Role.MEMBER)

    def visible(self, actor: Principal) -> ColumnElement[bool] | None:
        if actor.is_admin:
            return None
        return in_groups(self.path, [g for g, role in actor.roles.items() if role >= self.read])

    def check(
        self,
        session: Session,
        actor: Principal,
        *,
        primary_key: QueryableAttribute[Any],
        key: Any,
        operation: str,
        what: str,
    ) -> None:
        if operation in self.platform_admin:
            actor.require_platform_admin(what=describe(operation, what))
            return
        group_id = group_of(session, self.path, primary_key, key)
        if group_id is None:
            raise NotFound(f"{what.capitalize()} does not exist (or you do not have access to it).")
        actor.require(group_id, self.role_for(operation), what=describe(operation, what))

    def allowed(self, actor: Principal, operation: str) -> bool:
        if actor.is_admin:
            return True
        if operation in self.platform_admin:
            return False
        role = self.read if operation == "read" else self.role_for(operation)
        return any(have >= role for have in actor.roles.values())

    def requirement(self, operation: str) -> str:
        if operation in self.platform_admin:
            return "a platform admin"
        role = self.read if operation == "read" else self.role_for(operation)
        return f"the '{role.label}' role in a group"


@dataclass(frozen=True)
class OwnerScoped:
    """Rows that belong to one user (``owner`` holds the user id): the owner and platform admins only."""

    owner: QueryableAttribute[Any]

    def visible(self, actor: Principal) -> ColumnElement[bool] | None:
        if actor.is_admin:
            return None
        return false() if actor.user_id is None else self.owner == actor.user_id

    def check(
        self,
        session: Session,
        actor: Principal,
        *,
        primary_key: QueryableAttribute[Any],
        key: Any,
        operation: str,
        what: str,
    ) -> None:
        """Seeing the row means owning it (or being a platform admin): nothing more to check."""

    def allowed(self, actor: Principal, operation: str) -> bool:
        return actor.is_admin or actor.user_id is not None

    def requirement(self, operation: str) -> str:
        return "a user account"


@dataclass(frozen=True)
class PlatformAdminOnly:
    """Rows only platform admins may see and change (the safe default of a declaration)."""

    def visible(self, actor: Principal) -> ColumnElement[bool] | None:
        return None if actor.is_admin else false()

    def check(
        self,
        session: Session,
        actor: Principal,
        *,
        primary_key: QueryableAttribute[Any],
        key: Any,
        operation: str,
        what: str,
    ) -> None:
        actor.require_platform_admin(what=describe(operation, what))

    def allowed(self, actor: Principal, operation: str) -> bool:
        return actor.is_admin

    def requirement(self, operation: str) -> str:
        return "a platform admin"
