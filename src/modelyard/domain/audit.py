"""Audit events: what changed, by whom, chained by hashes so that editing or deleting one is detectable.

Each event's hash covers its own fields and the previous event's hash. Changing any field of any
event, deleting an event from the middle or the end, or inserting one, breaks the chain at that
point, which ``verify_chain`` reports. (An attacker who can rewrite the whole table *and* recompute
every hash is out of scope: export the head hash elsewhere to catch that too.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from modelyard.domain.values import ascii_digits

GENESIS_HASH = "0" * 64
REDACTED = "***"
_SECRET_WORDS = ("password", "secret", "token", "credential", "private_key")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    time: int
    actor_id: int | None
    actor: str
    group_id: int | None
    resource_type: str
    resource_id: str
    action: str
    outcome: str
    changes: dict[str, Any]
    prev_hash: str
    hash: str = ""
    # The resource's name beside its id (a deployment's name, a user's username), when it has one.
    resource_name: str | None = None


_SECRET = re.compile("|".join(_SECRET_WORDS))


def is_secret(key: str) -> bool:
    return _SECRET.search(key.lower()) is not None


def redact(value: Any) -> Any:
    """A copy with the values of secret-looking keys replaced, at any depth."""
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"before": {...}, "after": {...}}`` holding only the fields that differ, secrets redacted."""
    b = dict(before or {})
    a = dict(after or {})
    keys = [k for k in {**b, **a} if b.get(k) != a.get(k)]
    out: dict[str, Any] = {}
    if before is not None:
        out["before"] = redact({k: b.get(k) for k in keys})
    if after is not None:
        out["after"] = redact({k: a.get(k) for k in keys})
    return out


def event_hash(event: AuditEvent) -> str:
    payload = [
        event.seq,
        event.time,
        event.actor_id,
        event.actor,
        event.group_id,
        event.resource_type,
        event.resource_id,
        event.action,
        event.outcome,
        event.changes,
        event.prev_hash,
    ]
    if event.resource_name is not None:
        # Events written before names were recorded hash as they did; setting or clearing a name on
        # any event later breaks its hash.
        payload.append(event.resource_name)
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class ChainReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(events: Iterable[AuditEvent], *, head_seq: int, head_hash: str) -> ChainReport:
    """Check events (in seq order) against each other and against the recorded head of the chain."""
    report = ChainReport()
    prev_hash, prev_seq = GENESIS_HASH, 0
    for event in events:
        report.checked += 1
        if event.seq != prev_seq + 1:
            report.problems.append(
                f"event {prev_seq + 1}{'-' + str(event.seq - 1) if event.seq - 1 > prev_seq + 1 else ''} "
                f"is missing (the chain jumps from {prev_seq} to {event.seq})"
            )
        if event.prev_hash != prev_hash:
            report.problems.append(
                f"event {event.seq} does not link to the event before it (prev_hash differs)"
            )
        if event_hash(event) != event.hash:
            report.problems.append(f"event {event.seq} was altered: its content no longer matches its hash")
        prev_hash, prev_seq = event.hash, event.seq
    if prev_seq != head_seq or prev_hash != head_hash:
        report.problems.append(
            f"the chain ends at event {prev_seq} but the recorded head is event {head_seq}: "
            "events at the end were deleted or the head was changed"
        )
    return report


def artifact_resource(path: str) -> tuple[str, str, int | None]:
    """What an artifact path (relative to the server's artifact root, already cleaned) belongs to, as
    (resource type, resource id, experiment id): ``<exp>/<run>/artifacts/...`` a run,
    ``<exp>/models/<model>/artifacts/...`` a logged model, anything else under ``<exp>/`` the
    experiment, and a path outside any experiment the top-level directory (``artifact_root``)."""
    parts = path.split("/")
    if not ascii_digits(parts[0]):  # '³' is a digit to str.isdigit, not to int()
        return "artifact_root", parts[0], None
    experiment = int(parts[0])
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        return "logged_model", parts[2], experiment
    if len(parts) >= 3 and parts[2] == "artifacts":
        return "run", parts[1], experiment
    return "experiment", parts[0], experiment
