"""Audit storage: append an event inside the caller's transaction, read the chain back, query it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from modelyard.domain.audit import AuditEvent, ChainReport, event_hash, verify_chain
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
        for event in events:
            append(session, event)


def append(session: Session, event: AuditEvent) -> AuditEvent:
    """Add ``event`` (its seq, prev_hash and hash are filled here) at the end of the chain.

    The head row is locked first (FOR UPDATE on PostgreSQL; SQLite write transactions are already
    exclusive), so concurrent writers append one after another and the chain never forks.
    """
    head = session.execute(
        select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == _HEAD_ID).with_for_update()
    ).one()
    chained = replace(event, seq=head.seq + 1, prev_hash=head.hash)
    chained = replace(chained, hash=event_hash(chained))
    session.add(
        AuditEventRow(
            seq=chained.seq,
            time=chained.time,
            actor_id=chained.actor_id,
            actor=chained.actor,
            group_id=chained.group_id,
            resource_type=chained.resource_type,
            resource_id=chained.resource_id,
            action=chained.action,
            outcome=chained.outcome,
            changes=chained.changes,
            prev_hash=chained.prev_hash,
            hash=chained.hash,
        )
    )
    session.execute(
        update(AuditHeadRow).where(AuditHeadRow.id == _HEAD_ID).values(seq=chained.seq, hash=chained.hash)
    )
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
    actor: str | None = None,
    action: str | None = None,
    since: int | None = None,
    until: int | None = None,
    group_ids: frozenset[int] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Matching events, newest first, and how many match in all. ``group_ids`` None means any group."""
    conditions = []
    if resource_type:
        conditions.append(AuditEventRow.resource_type == resource_type)
    if resource_id:
        conditions.append(AuditEventRow.resource_id == resource_id)
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
