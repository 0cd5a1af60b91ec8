"""Web UI sessions: a login in a browser, held by a cookie whose value is a random session id.

Only the SHA-256 of the id is stored (like API tokens: the id is 256-bit random, so no KDF is needed),
with the user and two expiries: an idle one, moved on by use (at most once a minute, one write), and
an absolute one. A session acts with the user's current groups and roles: its principal is loaded
like a token's and shares the authentication cache, which every identity change clears. Changing a
user's password or disabling them ends their sessions (``users``).
"""

from __future__ import annotations

import secrets
import time

from sqlalchemy import delete, select, update

from modelyard.domain.errors import Unauthenticated
from modelyard.domain.identity import Principal
from modelyard.services.common import now_ms
from modelyard.services.identity import secrets as sec
from modelyard.services.identity.auth import AUTH_CACHE_SECONDS, LAST_USED_RESOLUTION_MS, Authentication
from modelyard.storage.orm import UiSessionRow, UserRow

SESSION_IDLE_MS = 12 * 3600 * 1000
SESSION_MAX_MS = 7 * 24 * 3600 * 1000
_EXPIRED = "Your session has ended; log in again."


def _key(session_id: str) -> str:
    return "session:" + sec.token_hash(session_id)


class Sessions(Authentication):
    def create_session(self, principal: Principal) -> str:
        """A new session for an authenticated user; returns its id (shown once, to the cookie).
        Sessions that ended are removed on the way."""
        if principal.user_id is None:
            raise Unauthenticated("Only a user can have a session.")
        session_id = secrets.token_urlsafe(32)
        now = now_ms()
        with self.db.write() as s:
            s.execute(
                delete(UiSessionRow).where(
                    (UiSessionRow.expires_at <= now) | (UiSessionRow.idle_expires_at <= now)
                )
            )
            s.add(
                UiSessionRow(
                    id_hash=sec.token_hash(session_id),
                    user_id=principal.user_id,
                    created_at=now,
                    last_seen_at=now,
                    idle_expires_at=now + SESSION_IDLE_MS,
                    expires_at=now + SESSION_MAX_MS,
                )
            )
        return session_id

    def authenticate_session(self, session_id: str) -> Principal:
        """The principal of a live session, else ``Unauthenticated``."""
        key = _key(session_id)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < AUTH_CACHE_SECONDS:
            return hit[1]
        wall = now_ms()
        with self.db.read() as s:
            row = s.execute(
                select(UiSessionRow, UserRow)
                .join(UserRow, UserRow.id == UiSessionRow.user_id)
                .where(UiSessionRow.id_hash == sec.token_hash(session_id))
            ).first()
            if row is None:
                raise Unauthenticated(_EXPIRED)
            session, user = row
            if session.expires_at <= wall or session.idle_expires_at <= wall or user.disabled:
                raise Unauthenticated(_EXPIRED)
            principal = self._principal(s, user)
            stale = wall - session.last_seen_at > LAST_USED_RESOLUTION_MS
        if stale:
            with self.db.write() as s:
                s.execute(
                    update(UiSessionRow)
                    .where(UiSessionRow.id_hash == sec.token_hash(session_id))
                    .values(last_seen_at=wall, idle_expires_at=wall + SESSION_IDLE_MS)
                )
        with self._lock:
            self._cache[key] = (now, principal)
        return principal

    def end_session(self, session_id: str) -> None:
        """Log out: the session is gone at once, in this process and (by the cache's TTL) in others."""
        with self.db.write() as s:
            s.execute(delete(UiSessionRow).where(UiSessionRow.id_hash == sec.token_hash(session_id)))
        with self._lock:
            self._cache.pop(_key(session_id), None)
