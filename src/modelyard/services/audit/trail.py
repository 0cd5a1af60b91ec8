"""The audit trail as services use it: record a change inside the caller's transaction, record a
refused attempt in a transaction of its own, append events made elsewhere (summaries), query, and
verify the hash chain."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from modelyard.domain.audit import GENESIS_HASH, AuditEvent, ChainReport, artifact_resource, diff, redact
from modelyard.domain.identity import Principal
from modelyard.services.audit.appends import DEFAULT_INTERVAL_S, AppendSummaries
from modelyard.services.audit.refusals import RefusalAggregator
from modelyard.services.common import now_ms
from modelyard.storage import audit as audit_store
from modelyard.storage import audit_appends
from modelyard.storage.db import Database

MAX_NAME = 250


def record(
    session: Session,
    actor: Principal,
    *,
    resource_type: str,
    resource_id: Any,
    action: str,
    group_id: int | None,
    resource_name: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record one event for a successful change; it joins the chain when the change commits.

    ``resource_id`` is the id the resource API and the CLI use for the resource (never reused);
    ``resource_name`` its name for people (a deployment's, a user's), where it has one."""
    changes = diff(before, after) if before is not None or after is not None else {}
    if resource_name is not None and len(resource_name) > MAX_NAME:
        # the column holds MAX_NAME characters (a registered model's name may have 256, a version's more)
        details = {**(details or {}), "resource": resource_name}
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
            resource_name=None if resource_name is None else resource_name[:MAX_NAME],
            action=action,
            outcome="success",
            changes=changes,
            prev_hash=GENESIS_HASH,
        ),
    )


class AuditService:
    """The trail, with its two aggregates: ``appends`` (metric points and uploads, counted in the
    database) and ``refusals`` (refused authentications, counted in memory per client)."""

    def __init__(self, db: Database, *, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.db = db
        self.appends = AppendSummaries(db, interval_s=interval_s)
        self.refusals = RefusalAggregator(interval_s=interval_s)
        self._flushing = threading.Lock()

    def flush(self, *, everything: bool = False) -> int:
        """Chain the summaries that are due (all of them when ``everything``); the number written.
        One flush at a time in a process: a call returns once what was due when it began is chained,
        whichever thread chained it."""
        with self._flushing:
            summaries = self.refusals.due(everything=everything)
            try:
                self.append_events(summaries)
            except Exception:
                self.refusals.requeue(summaries)
                raise
            return len(summaries) + self.appends.flush(everything=everything)

    def artifact_deleted(self, actor: Principal, path: str) -> None:
        """Record the deletion of an artifact file or directory (after it was deleted)."""
        resource_type, resource_id, experiment = artifact_resource(path)
        with self.db.write() as s:
            group_id = None if experiment is None else audit_appends.experiment_group(s, experiment)
            record(
                s,
                actor,
                resource_type=resource_type,
                resource_id=resource_id,
                action="delete_artifact",
                group_id=group_id,
                details={"path": path},
            )

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
        """A refused attempt (missing permission): its own transaction, since the request's
        transaction, if any, is rolled back."""
        self.append_events(
            [
                AuditEvent(
                    seq=0,
                    time=now_ms(),
                    actor_id=actor_id,
                    actor=actor[:64],
                    group_id=group_id,
                    resource_type=resource_type,
                    resource_id=resource_id[:MAX_NAME],
                    action=action[:64],
                    outcome=outcome,
                    changes={"reason": reason[:500]},
                    prev_hash=GENESIS_HASH,
                )
            ]
        )

    def append_events(self, events: Sequence[AuditEvent]) -> None:
        """Chain ``events`` (built outside any change's transaction: refusals, summaries) in one
        transaction of their own."""
        if not events:
            return
        with self.db.write() as s:
            audit_store.append_many(s, list(events))

    def verify(self) -> ChainReport:
        with self.db.read() as s:
            return audit_store.verify(s)

    def query(
        self,
        actor: Principal,
        *,
        resource_type: str | None = None,
        resource_id: str | None = None,
        resource: str | None = None,
        user: str | None = None,
        action: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[AuditEvent], int]:
        """Events the actor may see: all for platform admins, else those of groups they administer.
        ``resource`` matches a resource's id or its name."""
        groups: frozenset[int] | None = None
        if not actor.is_admin:
            groups = frozenset(g for g, role in actor.roles.items() if role.name == "ADMIN")
        with self.db.read() as s:
            return audit_store.query(
                s,
                resource_type=resource_type,
                resource_id=resource_id,
                resource=resource,
                actor=user,
                action=action,
                since=since,
                until=until,
                group_ids=groups,
                limit=limit,
                offset=offset,
            )
