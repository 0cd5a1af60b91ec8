"""Leader election through a lease row: with several servers on one database, one controller reconciles.

The holder renews the row's expiry every ``renew_s``; anyone may take it once it has expired (the
atomic take is ``storage.leases.take``, so two servers can never both succeed). A holder
that cannot reach the database stops reconciling when its own lease would have run out, before anyone
else may take it over (clocks of the servers are assumed to agree to well within a second).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from modelyard.storage import leases
from modelyard.storage.db import Database

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
        return leases.take(self.db, self.name, self.holder, now_ms=_now_ms(), duration_ms=self.duration_ms)

    def release(self) -> None:
        """Give the lease up (a clean shutdown), so another server takes over at once."""
        self._valid_until = 0.0
        try:
            leases.release(self.db, self.name, self.holder)
        except SQLAlchemyError as exc:
            log.warning("controller lease %r: could not release it: %s", self.name, exc)

    def holder_now(self) -> str | None:
        """Who holds the lease now (None when nobody does)."""
        return leases.holder(self.db, self.name, now_ms=_now_ms())
