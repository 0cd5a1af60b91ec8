"""The requests a replica answers with an error, in its log: ``POST /invocations -> 400: <message>``.

A client that sends thousands of bad requests must not flood the log (or slow the replica down with
writing it): at most ``burst`` lines per ``window_s``; what is left out is counted, and said in one
line when the next window starts (or the server stops).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class ErrorLog:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        window_s: float = 10.0,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self.window_s = window_s
        self.burst = burst
        self._now = clock
        self._lock = threading.Lock()
        self._window_start = float("-inf")
        self._logged = 0
        self._skipped = 0

    def record(self, method: str, path: str, status: int, message: str) -> None:
        with self._lock:
            now = self._now()
            if now - self._window_start >= self.window_s:
                self._flush()
                self._window_start, self._logged = now, 0
            if self._logged >= self.burst:
                self._skipped += 1
                return
            self._logged += 1
        level = logging.ERROR if status >= 500 else logging.WARNING
        self._log.log(level, "%s %s -> %d: %s", method, path, status, message.replace("\n", " "))

    def close(self) -> None:
        """Say how many errors were left out of the current window."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._skipped:
            self._log.warning(
                "%d more request error(s) in %g s were not logged (at most %d a window)",
                self._skipped,
                self.window_s,
                self.burst,
            )
            self._skipped = 0
