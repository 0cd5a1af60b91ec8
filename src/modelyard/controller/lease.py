"""Leader election through a lease row: with several servers on one database, one controller reconciles.

The holder renews the row's expiry every ``renew_s``; anyone may take it once it has expired. Taking and
renewing are one atomic ``UPDATE ... WHERE name = ? AND (holder = me OR expires_at < now)``, so two
servers can never both succeed; the very first ``INSERT`` races on the primary key instead. A holder
that cannot reach the database stops reconciling when its own lease would have run out, before anyone
else may take it over (clocks of the servers are assumed to agree to well within a second).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from modelyard.storage.db import Database
from modelyard.storage.orm import ControllerLeaseRow

log = logging.getLogger("modelyard.controller")


def _now_ms() -> int:
    return int(time.time() * 1000)


class Lease:
    def __init__(
        self,
        db: Database,
        *,
        name: str,
        holder: str,
        duration_s: float = 10.0,
        renew_s: float = 2.0,
    ) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.duration_ms = int(duration_s * 1000)
        self.renew_s = renew_s
        self._valid_until = 0.0  # monotonic: how long what we last won is ours
        self._next_try = 0.0

    @property
    def held(self) -> bool:
        return time.monotonic() < self._valid_until

    def hold(self) -> bool:
        """Whether this controller leads now: takes or renews the lease when a try is due."""
        now = time.monotonic()
        if now < self._next_try:
            return self.held
        self._next_try = now + self.renew_s
        try:
            won = self._try()
        except SQLAlchemyError as exc:
            log.warning("controller lease %r: cannot reach the database: %s", self.name, exc)
            return self.held
        # margin: stop a little before the row's expiry, which others judge by their own clocks
        duration = self.duration_ms / 1000
        self._valid_until = now + duration - min(1.0, duration / 10) if won else 0.0
        return won

    def _try(self) -> bool:
        now = _now_ms()
        with self.db.write() as s:
            result = s.execute(
                update(ControllerLeaseRow)
                .where(ControllerLeaseRow.name == self.name)
                .where(or_(ControllerLeaseRow.holder == self.holder, ControllerLeaseRow.expires_at < now))
                .values(holder=self.holder, expires_at=now + self.duration_ms)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True
            exists = s.scalar(select(ControllerLeaseRow.name).where(ControllerLeaseRow.name == self.name))
            if exists is not None:
                return False
        try:
            with self.db.write() as s:
                s.add(
                    ControllerLeaseRow(name=self.name, holder=self.holder, expires_at=now + self.duration_ms)
                )
        except IntegrityError:  # another server inserted it first
            return False
        return True

    def release(self) -> None:
        """Give the lease up (a clean shutdown), so another server takes over at once."""
        self._valid_until = 0.0
        try:
            with self.db.write() as s:
                s.execute(
                    update(ControllerLeaseRow)
                    .where(ControllerLeaseRow.name == self.name, ControllerLeaseRow.holder == self.holder)
                    .values(expires_at=0)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError as exc:
            log.warning("controller lease %r: could not release it: %s", self.name, exc)

    def holder_now(self) -> str | None:
        """Who holds the lease now (None when nobody does)."""
        with self.db.read() as s:
            row = s.get(ControllerLeaseRow, self.name)
            return row.holder if row is not None and row.expires_at >= _now_ms() else None
