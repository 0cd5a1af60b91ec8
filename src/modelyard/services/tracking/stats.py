"""Counts of the tracking writes this server process committed, for ``GET /metrics``
(``modelyard_tracking_writes_total{kind}``; ``rate()`` over it is the write rate): runs created, and
metric values, params, tags and dataset inputs logged. A write is counted once its transaction has
committed, so a refused or failed one counts nothing. Each server counts its own; Prometheus adds
the servers up.
"""

from __future__ import annotations

import threading

KINDS = ("runs", "metrics", "params", "tags", "inputs")


class TrackingStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # writes are counted on the API's worker threads
        self._counts = dict.fromkeys(KINDS, 0)

    def add(self, **amounts: int) -> None:
        """``add(metrics=3, params=1)``: one committed write's items, by kind."""
        with self._lock:
            for kind, amount in amounts.items():
                self._counts[kind] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
