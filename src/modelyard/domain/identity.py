"""Identity: users, groups, roles, the principal a request acts as, and what it may do.

A group member is a ``viewer`` (read), ``member`` (read and write the group's resources) or
``admin`` (also manage members and quotas). Platform admins see and manage everything. Every
resource belongs to exactly one group, so one question — "what is this principal's role in that
group?" — decides every read and write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum

from modelyard.domain.errors import HiddenNotFound, InvalidParameter, PermissionDenied

ANONYMOUS = "anonymous"
DEFAULT_GROUP_NAME = "default"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class Role(IntEnum):
    """Ordered: each role can do everything the roles below it can."""

    VIEWER = 1
    MEMBER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, raw: object) -> Role:
        if isinstance(raw, str) and raw.upper() in cls.__members__:
            return cls[raw.upper()]
        raise InvalidParameter(f"Invalid role '{raw}': use one of viewer, member, admin.")

    @property
    def label(self) -> str:
        return self.name.lower()


def validate_name(kind: str, name: object) -> str:
    """User and group names: 1-64 characters, letters, digits and ``_ . @ -``, starting alphanumeric."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidParameter(
            f"Invalid {kind} name '{name}': use 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit."
        )
    return name


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as. ``roles`` maps group id to the principal's role in it."""

    user_id: int | None
    username: str
    is_admin: bool = False
    roles: dict[int, Role] = field(default_factory=dict)
    token_id: int | None = None

    @classmethod
    def system(cls) -> Principal:
        """The server itself (bootstrap, migrations, --no-auth mode): a platform admin."""
        return cls(user_id=None, username="system", is_admin=True)

    def role_in(self, group_id: int) -> Role | None:
        if self.is_admin:
            return Role.ADMIN
        return self.roles.get(group_id)

    def readable_groups(self) -> frozenset[int] | None:
        """Ids of groups whose resources this principal may read; None means all (platform admin)."""
        return None if self.is_admin else frozenset(self.roles)

    def writable_groups(self) -> frozenset[int] | None:
        if self.is_admin:
            return None
        return frozenset(g for g, r in self.roles.items() if r >= Role.MEMBER)

    def require(self, group_id: int, role: Role, *, what: str, missing: str | None = None) -> None:
        """Raise unless the principal has at least ``role`` in the group.

        Without even read access the resource is reported as missing, so that ids of other groups'
        resources cannot be probed: ``missing`` is the message the caller gives for a resource that does
        not exist, so that the two answers are the same. With read but not enough access the refusal
        says what is needed.
        """
        have = self.role_in(group_id)
        if have is None:
            raise HiddenNotFound(
                missing or f"{what} does not exist (or you do not have access to it).", group_id=group_id
            )
        if have < role:
            raise PermissionDenied(
                f"Permission denied: {what} needs the '{role.label}' role in its group; "
                f"user '{self.username}' is a '{have.label}'.",
                group_id=group_id,
            )

    def require_platform_admin(self, *, what: str) -> None:
        if not self.is_admin:
            raise PermissionDenied(
                f"Permission denied: {what} needs a platform admin; '{self.username}' is not one."
            )
