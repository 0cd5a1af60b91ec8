"""The audit trail's background writer: every second it chains the refusal summaries whose interval
ended and the append counts that are due; closing it stops the thread and writes everything counted.
One per server process (the app's lifespan owns it); several processes on one database are safe, as
each count is taken by exactly one of them."""

from __future__ import annotations

import logging
import threading

from modelyard.services.audit.trail import AuditService

log = logging.getLogger("modelyard.audit")

TICK_S = 1.0


class AuditBackground:
    def __init__(self, audit: AuditService, *, tick_s: float = TICK_S) -> None:
        self.audit = audit
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="modelyard-audit", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self._flush(everything=False)

    def _flush(self, *, everything: bool) -> None:
        try:
            self.audit.flush(everything=everything)
        except Exception:  # the next tick retries: counts stay where they are until written
            log.exception("could not write the audit trail's summaries")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._flush(everything=True)
