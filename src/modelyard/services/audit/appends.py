"""High-volume appends in the audit trail: metric points and artifact uploads are counted, not
chained one by one.

A training loop logs thousands of points a minute; an event per call made the audit table grow with
the metric data and every call take the chain's lock. Instead the call counts what it appended
(``tally``: one upsert per metric key, in the call's own transaction, so the count commits with the
points or not at all), and ``AppendSummaries.flush`` turns the counts of each resource, actor and kind
into one chained event — ``log_metrics`` with the points per key, ``upload_artifacts`` with the files
and bytes per path — once a group has been counting for an interval (60 s by default), and for every
group at a clean shutdown. The counts live in the database until they are chained, in the same
transaction that deletes them, so a ``kill -9`` loses none: the next server chains them.

What a person asks about — creating, changing and deleting things, params and tags, permissions,
lifecycle — is still recorded as its own event in the change's transaction (``trail.record``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from modelyard.domain.audit import GENESIS_HASH, AuditEvent, artifact_resource
from modelyard.domain.identity import Principal
from modelyard.services.common import now_ms
from modelyard.storage import audit as audit_store
from modelyard.storage import audit_appends as store
from modelyard.storage.audit_appends import Pending
from modelyard.storage.db import Database

METRIC = "metric"
ARTIFACT = "artifact"
ACTIONS = {METRIC: "log_metrics", ARTIFACT: "upload_artifacts"}
DEFAULT_INTERVAL_S = 60.0
MAX_LISTED = 100  # keys or paths named in one summary; the rest are counted in ``more``
MAX_KEY = 500
GROUPS_PER_FLUSH = 500


def tally(
    session: Session,
    actor: Principal,
    *,
    resource_type: str,
    resource_id: str,
    group_id: int | None,
    kind: str,
    counts: Mapping[str, int],
    sizes: Mapping[str, int] | None = None,
) -> None:
    """Count appends to a resource in the caller's transaction: ``counts`` per key (metric key,
    artifact path), ``sizes`` the bytes per key where they matter."""
    now = now_ms()
    store.add(
        session,
        [
            Pending(
                resource_type=resource_type,
                resource_id=resource_id,
                actor=actor.username[:64],
                kind=kind,
                key=key[:MAX_KEY],
                actor_id=actor.user_id,
                group_id=group_id,
                count=count,
                bytes=(sizes or {}).get(key, 0),
                first_time=now,
                last_time=now,
            )
            for key, count in counts.items()
        ],
    )


class AppendSummaries:
    """Counts appends made outside any other transaction (artifact uploads) and chains the summaries."""

    def __init__(
        self, db: Database, *, interval_s: float = DEFAULT_INTERVAL_S, clock: Callable[[], int] = now_ms
    ) -> None:
        self.db = db
        self.interval_ms = int(interval_s * 1000)
        self.clock = clock

    def artifact_written(self, actor: Principal, path: str, size: int) -> None:
        """Count one uploaded file (after it was stored: an upload that failed is not counted)."""
        resource_type, resource_id, experiment = artifact_resource(path)
        with self.db.write() as s:
            group_id = None if experiment is None else store.experiment_group(s, experiment)
            tally(
                s,
                actor,
                resource_type=resource_type,
                resource_id=resource_id,
                group_id=group_id,
                kind=ARTIFACT,
                counts={path: 1},
                sizes={path: size},
            )

    def flush(self, *, everything: bool = False) -> int:
        """Chain a summary for every group counting for an interval or longer (every group when
        ``everything``); returns the number of events written."""
        written = 0
        while True:
            now = self.clock()
            cutoff = None if everything else now - self.interval_ms
            with self.db.read() as s:
                groups = store.due_groups(s, cutoff=cutoff, limit=GROUPS_PER_FLUSH)
            if not groups:
                return written
            with self.db.write() as s:
                events: list[AuditEvent] = []
                taken = [store.take(s, g) for g in groups]
                names = store.run_names(s, [g[1] for g in groups if g[0] == "run"])
                for rows in taken:
                    events.extend(_summaries(rows, now, names))
                if events:
                    audit_store.append_many(s, events)
            written += len(events)
            if len(groups) < GROUPS_PER_FLUSH:
                return written


def _summaries(rows: list[Pending], now: int, names: Mapping[str, str]) -> list[AuditEvent]:
    """One event per kind for the rows of one group."""
    by_kind: dict[str, list[Pending]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    events = []
    for kind, kind_rows in by_kind.items():
        first = kind_rows[0]
        events.append(
            AuditEvent(
                seq=0,
                time=now,
                actor_id=first.actor_id,
                actor=first.actor,
                group_id=first.group_id,
                resource_type=first.resource_type,
                resource_id=first.resource_id,
                resource_name=names.get(first.resource_id) if first.resource_type == "run" else None,
                action=ACTIONS.get(kind, f"append_{kind}"),
                outcome="success",
                changes=_changes(kind, kind_rows),
                prev_hash=GENESIS_HASH,
            )
        )
    return events


def counted(kind: str, counts: Mapping[str, int]) -> dict[str, Any]:
    """``{"count", "keys"|"paths", "more_keys"|"more_paths"}``: appends per key, the first 100 keys
    named, as summaries and the events that count a call's appends in passing hold them."""
    listed = "paths" if kind == ARTIFACT else "keys"
    keys = sorted(counts)
    out: dict[str, Any] = {"count": sum(counts.values()), listed: {k: counts[k] for k in keys[:MAX_LISTED]}}
    if len(keys) > MAX_LISTED:
        out[f"more_{listed}"] = len(keys) - MAX_LISTED
    return out


def _changes(kind: str, rows: list[Pending]) -> dict[str, Any]:
    changes = counted(kind, {r.key: r.count for r in rows})
    changes["from"] = min(r.first_time for r in rows)
    changes["to"] = max(r.last_time for r in rows)
    if kind == ARTIFACT:
        changes["bytes"] = sum(r.bytes for r in rows)
    return changes
