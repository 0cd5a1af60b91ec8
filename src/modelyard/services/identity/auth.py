"""Authentication of requests: a token, or a username with a password or token (HTTP Basic).

Authentication results are cached for a couple of seconds per token (a lookup and a membership
load on every request would cost more than most tracking calls). ``IdentityBase`` owns that cache
so that every part of ``IdentityService`` clears it at once after a change; other processes see the
change within the TTL.
"""

from __future__ import annotations

import functools
import secrets
import threading
import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from modelyard.domain.errors import NotFound, Unauthenticated
from modelyard.domain.identity import Principal, Role
from modelyard.services.common import now_ms
from modelyard.services.identity import secrets as sec
from modelyard.storage.db import Database
from modelyard.storage.orm import MembershipRow, TokenRow, UserRow

AUTH_CACHE_SECONDS = 2.0
LAST_USED_RESOLUTION_MS = 60_000


@functools.cache
def _dummy_hash() -> str:
    """A password hash no one has, checked when a username does not exist."""
    return sec.hash_password(secrets.token_urlsafe(16))


class IdentityBase:
    """What every part of ``IdentityService`` shares: the database and the authentication cache."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def _changed(self) -> None:
        with self._lock:
            self._cache.clear()


class Authentication(IdentityBase):
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
                raise Unauthenticated("Invalid token: no such token.")
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
            stored = user.password_hash if user is not None and user.password_hash else None
            # a missing user costs the same scrypt as a wrong password: the time of the answer does
            # not tell whether a username exists
            matches = sec.verify_password(password, stored or _dummy_hash())
            if user is None or stored is None or not matches:
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
