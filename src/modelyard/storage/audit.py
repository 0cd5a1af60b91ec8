"""Audit storage: append an event inside the caller's transaction, read the chain back, query it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from modelyard.domain.audit import AuditEvent, ChainReport, event_hash, verify_chain
from modelyard.storage import driver_sql
from modelyard.storage.orm import AuditEventRow, AuditHeadRow

_HEAD_ID = 1


_PENDING = "modelyard.audit.pending"


def queue(session: Session, event: AuditEvent) -> None:
    """Add ``event`` to the chain when the session's transaction commits (see ``append_queued``)."""
    session.info.setdefault(_PENDING, []).append(event)


def append_queued(session: Session) -> None:
    """Before a commit: flush the transaction's own changes, then append its queued events.

    Taking the chain's head lock last, after every row lock the transaction needs, gives all writers
    one lock order, so two transactions can never deadlock over the head and a contended row; and the
    head is held only for the few statements that append.
    """
    events = session.info.pop(_PENDING, None)
    if events:
        session.flush()
        append_many(session, events)


def append(session: Session, event: AuditEvent) -> AuditEvent:
    """Add one event at the end of the chain (its seq, prev_hash and hash are filled here)."""
    return append_many(session, [event])[0]


_INSERT = (
    "INSERT INTO audit_events (seq, time, actor_id, actor, group_id, resource_type, resource_id, "
    "resource_name, action, outcome, changes, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def append_many(session: Session, events: list[AuditEvent]) -> list[AuditEvent]:
    """Chain ``events`` after the current head, in order, in three statements whatever their number.

    The head row is locked first (FOR UPDATE on PostgreSQL; SQLite write transactions are already
    exclusive), so concurrent writers append one after another and the chain never forks.
    """
    lock = "" if driver_sql.dialect(session) == "sqlite" else " FOR UPDATE"
    seq, prev = driver_sql.execute(
        session, f"SELECT seq, hash FROM audit_head WHERE id = ?{lock}", (_HEAD_ID,)
    ).one()
    chained = []
    for event in events:
        seq += 1
        linked = replace(event, seq=seq, prev_hash=prev)
        linked = replace(linked, hash=event_hash(linked))
        prev = linked.hash
        chained.append(linked)
    driver_sql.execute(
        session,
        _INSERT,
        [
            (
                e.seq,
                e.time,
                e.actor_id,
                e.actor,
                e.group_id,
                e.resource_type,
                e.resource_id,
                e.resource_name,
                e.action,
                e.outcome,
                orjson.dumps(e.changes).decode(),
                e.prev_hash,
                e.hash,
            )
            for e in chained
        ],
    )
    driver_sql.execute(session, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = ?", (seq, prev, _HEAD_ID))
    return chained


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        time=row.time,
        actor_id=row.actor_id,
        actor=row.actor,
        group_id=row.group_id,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        resource_name=row.resource_name,
        action=row.action,
        outcome=row.outcome,
        changes=dict(row.changes or {}),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _all_events(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEventRow).where(AuditEventRow.seq > last).order_by(AuditEventRow.seq).limit(batch)
            )
        )
        if not rows:
            return
        for row in rows:
            yield _event(row)
        last = rows[-1].seq


def verify(session: Session) -> ChainReport:
    head = session.execute(
        select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == _HEAD_ID)
    ).one()
    return verify_chain(_all_events(session), head_seq=head.seq, head_hash=head.hash)


def query(
    session: Session,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
    resource: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: int | None = None,
    until: int | None = None,
    group_ids: frozenset[int] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Matching events, newest first, and how many match in all. ``group_ids`` None means any group.
    ``resource`` matches a resource's id or its name (events written before names were recorded hold
    the name in ``resource_id`` for name-keyed resources, so those match too)."""
    conditions = []
    if resource_type:
        conditions.append(AuditEventRow.resource_type == resource_type)
    if resource_id:
        conditions.append(AuditEventRow.resource_id == resource_id)
    if resource:
        conditions.append(or_(AuditEventRow.resource_id == resource, AuditEventRow.resource_name == resource))
    if actor:
        conditions.append(AuditEventRow.actor == actor)
    if action:
        conditions.append(AuditEventRow.action == action)
    if since is not None:
        conditions.append(AuditEventRow.time >= since)
    if until is not None:
        conditions.append(AuditEventRow.time <= until)
    if group_ids is not None:
        conditions.append(AuditEventRow.group_id.in_(group_ids))
    total = session.scalar(select(func.count()).select_from(AuditEventRow).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEventRow)
        .where(*conditions)
        .order_by(AuditEventRow.seq.desc())
        .offset(offset)
        .limit(limit)
    )
    return [_event(r) for r in rows], int(total)
