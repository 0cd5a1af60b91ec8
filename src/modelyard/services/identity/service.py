"""Users, groups, memberships and API tokens; authentication of requests.

``IdentityService`` is the one identity service the rest of modelyard uses. It is put together from
parts that each own one concept, next to this module: ``auth`` (authentication and its
cache), ``sessions`` (web UI logins), ``users``, ``tokens`` and ``groups`` (groups and memberships).
What spans several of them lives here: bootstrapping the first admin and creating a user straight
into a group.

Authentication results are cached for a couple of seconds per token (a lookup and a membership
load on every request would cost more than most tracking calls); every change made through this
service clears the cache at once, and other processes see it within the TTL.
"""

from __future__ import annotations

from sqlalchemy import func, select

from modelyard.domain.errors import AlreadyExists
from modelyard.domain.identity import DEFAULT_GROUP_NAME, Principal, Role
from modelyard.services.identity.auth import AUTH_CACHE_SECONDS, LAST_USED_RESOLUTION_MS
from modelyard.services.identity.groups import Group, Groups, group_row, set_membership
from modelyard.services.identity.sessions import Sessions
from modelyard.services.identity.tokens import Token, Tokens, insert_token
from modelyard.services.identity.users import MIN_PASSWORD_LENGTH, User, Users, insert_user, to_user
from modelyard.storage.orm import GroupRow, UserRow

__all__ = [
    "AUTH_CACHE_SECONDS",
    "LAST_USED_RESOLUTION_MS",
    "MIN_PASSWORD_LENGTH",
    "Group",
    "IdentityService",
    "Token",
    "User",
]


class IdentityService(Sessions, Users, Tokens, Groups):
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
            user = insert_user(s, system, username=username, is_admin=True)
            group = s.scalar(select(GroupRow).where(GroupRow.name == DEFAULT_GROUP_NAME))
            if group is not None:
                set_membership(s, system, group, user, Role.ADMIN)
            _, token = insert_token(s, system, user, name="bootstrap", expires_at=None)
        self._changed()
        return username, token

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
            user = insert_user(
                s,
                actor,
                username=username,
                password=password,
                is_admin=is_admin,
                display_name=display_name,
                email=email,
            )
            if group is not None:
                set_membership(s, actor, group_row(s, group), user, parsed_role)
            out = to_user(s, user)
        self._changed()
        return out
