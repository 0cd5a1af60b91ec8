"""Lease rows (``controller_leases``): take, renew, release and read one, atomically.

Taking and renewing are one ``UPDATE ... WHERE name = ? AND (holder = me OR expires_at < now)``, so two
holders can never both succeed; the very first ``INSERT`` races on the primary key instead.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from modelyard.storage.db import Database
from modelyard.storage.orm import ControllerLeaseRow


def take(db: Database, name: str, holder: str, *, now_ms: int, duration_ms: int) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``now_ms + duration_ms``; whether it is ours."""
    with db.write() as s:
        result = s.execute(
            update(ControllerLeaseRow)
            .where(ControllerLeaseRow.name == name)
            .where(or_(ControllerLeaseRow.holder == holder, ControllerLeaseRow.expires_at < now_ms))
            .values(holder=holder, expires_at=now_ms + duration_ms)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return True
        if s.scalar(select(ControllerLeaseRow.name).where(ControllerLeaseRow.name == name)) is not None:
            return False
    try:
        with db.write() as s:
            s.add(ControllerLeaseRow(name=name, holder=holder, expires_at=now_ms + duration_ms))
    except IntegrityError:  # another holder inserted it first
        return False
    return True


def release(db: Database, name: str, holder: str) -> None:
    """Expire lease ``name`` now if ``holder`` has it."""
    with db.write() as s:
        s.execute(
            update(ControllerLeaseRow)
            .where(ControllerLeaseRow.name == name, ControllerLeaseRow.holder == holder)
            .values(expires_at=0)
            .execution_options(synchronize_session=False)
        )


def holder(db: Database, name: str, *, now_ms: int) -> str | None:
    """Who holds lease ``name`` at ``now_ms`` (None when nobody does)."""
    with db.read() as s:
        row = s.get(ControllerLeaseRow, name)
        return row.holder if row is not None and row.expires_at >= now_ms else None
