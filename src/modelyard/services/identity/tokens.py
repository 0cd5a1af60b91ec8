"""API tokens: creating them (the secret is shown once, only its hash is stored), listing and revoking."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal
from modelyard.services.audit import record
from modelyard.services.common import now_ms
from modelyard.services.identity import secrets as sec
from modelyard.services.identity.auth import IdentityBase
from modelyard.services.identity.users import user_row
from modelyard.storage.orm import TokenRow, UserRow


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


def insert_token(
    s: Session, actor: Principal, user: UserRow, *, name: str, expires_at: int | None
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
        resource_name=name or None,
        action="create",
        group_id=None,
        after={"user": user.username, "name": name, "prefix": row.prefix, "expires_at": expires_at},
    )
    return row, secret


def _to_token(row: TokenRow, username: str) -> Token:
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


class Tokens(IdentityBase):
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
            user = user_row(s, username)
            row, secret = insert_token(s, actor, user, name=name, expires_at=expires_at)
            token = _to_token(row, user.username)
        return token, secret

    def list_tokens(self, actor: Principal, *, username: str | None = None) -> list[Token]:
        username = username or actor.username
        if username != actor.username:
            actor.require_platform_admin(what="listing another user's tokens")
        with self.db.read() as s:
            user = user_row(s, username)
            rows = s.scalars(select(TokenRow).where(TokenRow.user_id == user.id).order_by(TokenRow.id))
            return [_to_token(r, username) for r in rows]

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
                    resource_name=row.name or None,
                    action="revoke",
                    group_id=None,
                    before={"revoked": False},
                    after={"revoked": True, "user": owner},
                )
            out = _to_token(row, owner)
        self._changed()
        return out
