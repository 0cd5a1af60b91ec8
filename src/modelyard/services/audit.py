"""The audit trail as services use it: record a change inside the caller's transaction, record a
refused attempt in a transaction of its own, query, and verify the hash chain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from modelyard.domain.audit import GENESIS_HASH, AuditEvent, ChainReport, diff, redact
from modelyard.domain.identity import Principal
from modelyard.services.common import now_ms
from modelyard.storage import audit as audit_store
from modelyard.storage.db import Database


def record(
    session: Session,
    actor: Principal,
    *,
    resource_type: str,
    resource_id: Any,
    action: str,
    group_id: int | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record one event for a successful change; it joins the chain when the change commits."""
    changes = diff(before, after) if before is not None or after is not None else {}
    if details:
        changes["details"] = redact(dict(details))
    audit_store.queue(
        session,
        AuditEvent(
            seq=0,
            time=now_ms(),
            actor_id=actor.user_id,
            actor=actor.username,
            group_id=group_id,
            resource_type=resource_type,
            resource_id=str(resource_id),
            action=action,
            outcome="success",
            changes=changes,
            prev_hash=GENESIS_HASH,
        ),
    )


class AuditService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record_refusal(
        self,
        *,
        actor: str,
        actor_id: int | None,
        action: str,
        resource_type: str,
        resource_id: str,
        reason: str,
        outcome: str = "denied",
        group_id: int | None = None,
    ) -> None:
        """A refused attempt (bad credentials, missing permission): its own transaction, since the
        request's transaction, if any, is rolled back."""
        with self.db.write() as s:
            audit_store.append(
                s,
                AuditEvent(
                    seq=0,
                    time=now_ms(),
                    actor_id=actor_id,
                    actor=actor[:64],
                    group_id=group_id,
                    resource_type=resource_type,
                    resource_id=resource_id[:250],
                    action=action[:64],
                    outcome=outcome,
                    changes={"reason": reason[:500]},
                    prev_hash=GENESIS_HASH,
                ),
            )

    def verify(self) -> ChainReport:
        with self.db.read() as s:
            return audit_store.verify(s)

    def query(
        self,
        actor: Principal,
        *,
        resource_type: str | None = None,
        resource_id: str | None = None,
        user: str | None = None,
        action: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[AuditEvent], int]:
        """Events the actor may see: all for platform admins, else those of groups they administer."""
        groups: frozenset[int] | None = None
        if not actor.is_admin:
            groups = frozenset(g for g, role in actor.roles.items() if role.name == "ADMIN")
        with self.db.read() as s:
            return audit_store.query(
                s,
                resource_type=resource_type,
                resource_id=resource_id,
                actor=user,
                action=action,
                since=since,
                until=until,
                group_ids=groups,
                limit=limit,
                offset=offset,
            )
