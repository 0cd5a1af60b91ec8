"""Refused authentications in the audit trail, aggregated so that a flood cannot flood the trail.

Requests with missing or wrong credentials are counted per client address (what a made-up username
cannot change: a flood of them from one client is one key). The first refusal of a client in an
interval is recorded at once, with ``count`` 1; the ones after it are counted in memory and recorded
as one event when the interval ends — ``count`` refusals, their time span, the claimed usernames and
paths with their counts (the first 20 of each). Across all clients at most ``max_events`` clients get
an immediate event per interval; beyond that (a flood from many addresses), refusals are counted in
one overflow window (``client`` ``*``, with the number of distinct clients and the first 20). So
refusals write at most ``2 * max_events + 1`` events per interval whatever arrives, and each joins the
hash chain. What is counted in memory and not yet written (at most one interval's worth) is lost if
the server is killed; a clean shutdown writes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelyard.domain.audit import GENESIS_HASH, AuditEvent
from modelyard.services.common import now_ms

OVERFLOW = "*"
MAX_LISTED = 20
MAX_SEEN = 10_000  # distinct clients counted exactly in the overflow window; beyond, "at least"
DEFAULT_INTERVAL_S = 60.0
DEFAULT_MAX_EVENTS = 100


@dataclass
class _Window:
    """Refusals of one client (or of the overflow) in the current interval, after the first."""

    started: float  # the clock's value when the interval started
    action: str
    path: str
    count: int = 0  # refusals counted and not yet written
    first_ms: int = 0
    last_ms: int = 0
    reason: str = ""
    claimed: dict[str, int] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)
    clients: dict[str, int] = field(default_factory=dict)  # the overflow window's clients (first 20)
    seen: set[str] = field(default_factory=set)  # the overflow window's distinct clients, up to MAX_SEEN

    def add(self, *, wall: int, claimed: str, path: str, reason: str) -> None:
        self.count += 1
        self.first_ms = self.first_ms or wall
        self.last_ms = wall
        self.reason = reason
        _bump(self.claimed, claimed)
        _bump(self.paths, path)


def _bump(counts: dict[str, int], key: str) -> None:
    if key in counts or len(counts) < MAX_LISTED:
        counts[key] = counts.get(key, 0) + 1


class RefusalAggregator:
    def __init__(
        self,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        max_events: int = DEFAULT_MAX_EVENTS,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = now_ms,
    ) -> None:
        self.interval_s = interval_s
        self.max_events = max_events
        self.clock = clock
        self.wall_ms = wall_ms
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._ready: list[AuditEvent] = []  # summaries of windows that ended, not yet taken by ``due``
        self._budget_started = clock()
        self._budget_used = 0

    def refused(self, *, client: str, claimed: str, method: str, path: str, reason: str) -> AuditEvent | None:
        """Count one refusal; the event to record now (the client's first in this interval), or None."""
        now, wall = self.clock(), self.wall_ms()
        claimed, path, reason = claimed[:64], path[:250], reason[:500]
        action = f"{method} {path}"[:64]
        with self._lock:
            window = self._current(client, now)
            if window is None:
                if now - self._budget_started >= self.interval_s:
                    self._budget_started, self._budget_used = now, 0
                if self._budget_used < self.max_events:
                    self._budget_used += 1
                    self._windows[client] = _Window(started=now, action=action, path=path)
                    changes = {"reason": reason, "client": client, "count": 1}
                    return _event(actor=claimed, action=action, path=path, time_ms=wall, changes=changes)
                window = self._current(OVERFLOW, now)
                if window is None:
                    window = self._windows[OVERFLOW] = _Window(started=now, action=action, path=path)
                if len(window.seen) < MAX_SEEN:
                    window.seen.add(client)
                _bump(window.clients, client)
            window.add(wall=wall, claimed=claimed, path=path, reason=reason)
            return None

    def _current(self, key: str, now: float) -> _Window | None:
        """The key's window if its interval is still running; an ended one is summarised first."""
        window = self._windows.get(key)
        if window is not None and now - window.started >= self.interval_s:
            del self._windows[key]
            if window.count:
                self._ready.append(self._summary(key, window))
            window = None
        return window

    def due(self, *, everything: bool = False) -> list[AuditEvent]:
        """Summaries of the windows whose interval ended (of all windows when ``everything``), to be
        written by the caller; they are forgotten here."""
        now = self.clock()
        with self._lock:
            for key in list(self._windows):
                if everything:
                    window = self._windows.pop(key)
                    if window.count:
                        self._ready.append(self._summary(key, window))
                else:
                    self._current(key, now)
            out, self._ready = self._ready, []
        return out

    def requeue(self, events: list[AuditEvent]) -> None:
        """Summaries handed out by ``due`` that could not be written: ``due`` hands them out again."""
        with self._lock:
            self._ready[:0] = events

    def pending(self) -> int:
        """Refusals counted and not yet handed out by ``due``."""
        with self._lock:
            return sum(w.count for w in self._windows.values()) + sum(
                int(e.changes["count"]) for e in self._ready
            )

    def _summary(self, client: str, window: _Window) -> AuditEvent:
        changes: dict[str, Any] = {
            "reason": window.reason,
            "client": client,
            "count": window.count,
            "from": window.first_ms,
            "to": window.last_ms,
            "claimed": window.claimed,
            "paths": window.paths,
        }
        if client == OVERFLOW:
            changes["clients"] = window.clients
            changes["distinct_clients"] = len(window.seen)
            if len(window.seen) >= MAX_SEEN:
                changes["distinct_clients_at_least"] = True
        actors = list(window.claimed)
        return _event(
            actor=actors[0] if len(actors) == 1 else "anonymous",
            action=window.action,
            path=window.path,
            time_ms=self.wall_ms(),
            changes=changes,
        )


def _event(*, actor: str, action: str, path: str, time_ms: int, changes: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        seq=0,
        time=time_ms,
        actor_id=None,
        actor=actor,
        group_id=None,
        resource_type="authentication",
        resource_id=path,
        action=action,
        outcome="unauthenticated",
        changes=changes,
        prev_hash=GENESIS_HASH,
    )
