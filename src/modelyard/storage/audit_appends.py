"""Counts of high-volume appends (metric points, artifact uploads) waiting to be summarised into the
audit chain: added in the transaction that makes the appends, taken (read and deleted) in the
transaction that chains their summary, so a count is either pending here or in the chain, never both
and never neither — a ``kill -9`` in between loses nothing.

Lock order, for PostgreSQL: a writer upserts the rows of one resource, actor and kind in key order
(then, at commit, may lock the chain's head); the summariser locks each due group's rows in the same
order before it locks the head. No two transactions can wait on each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from modelyard.storage import driver_sql

_exec = driver_sql.execute


@dataclass(frozen=True, slots=True)
class Pending:
    resource_type: str
    resource_id: str
    actor: str
    kind: str
    key: str
    actor_id: int | None
    group_id: int | None
    count: int
    bytes: int
    first_time: int
    last_time: int


Group = tuple[str, str, str]
"""(resource_type, resource_id, actor): what one summary covers, per kind."""

_UPSERT = (
    "INSERT INTO audit_appends (resource_type, resource_id, actor, kind, key, actor_id, group_id, count, "
    "bytes, first_time, last_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (resource_type, resource_id, actor, kind, key) DO UPDATE SET "
    "count = audit_appends.count + excluded.count, bytes = audit_appends.bytes + excluded.bytes, "
    "last_time = excluded.last_time"
)
_COLUMNS = (
    "resource_type, resource_id, actor, kind, key, actor_id, group_id, count, bytes, first_time, last_time"
)
_GROUP = "resource_type = ? AND resource_id = ? AND actor = ?"


def add(session: Session, rows: list[Pending]) -> None:
    """Count ``rows`` in the caller's transaction (one statement, keys in lock order)."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: (r.resource_type, r.resource_id, r.actor, r.kind, r.key))
    _exec(
        session,
        _UPSERT,
        [
            (
                r.resource_type,
                r.resource_id,
                r.actor,
                r.kind,
                r.key,
                r.actor_id,
                r.group_id,
                r.count,
                r.bytes,
                r.first_time,
                r.last_time,
            )
            for r in ordered
        ],
    )


def due_groups(session: Session, *, cutoff: int | None, limit: int) -> list[Group]:
    """Groups counting since ``cutoff`` or earlier (every group when ``cutoff`` is None), oldest first."""
    having = "" if cutoff is None else " HAVING MIN(first_time) <= ?"
    rows = _exec(
        session,
        "SELECT resource_type, resource_id, actor FROM audit_appends GROUP BY resource_type, resource_id, "
        f"actor{having} ORDER BY MIN(first_time) LIMIT ?",
        (limit,) if cutoff is None else (cutoff, limit),
    ).all()
    return sorted((str(a), str(b), str(c)) for a, b, c in rows)


def take(session: Session, group: Group) -> list[Pending]:
    """Lock, read and delete the rows of ``group`` (none if another summariser took them first)."""
    lock = "" if driver_sql.dialect(session) == "sqlite" else " FOR UPDATE"
    rows = _exec(
        session,
        f"SELECT {_COLUMNS} FROM audit_appends WHERE {_GROUP} ORDER BY kind, key{lock}",
        group,
    ).all()
    if rows:
        _exec(session, f"DELETE FROM audit_appends WHERE {_GROUP}", group)
    return [Pending(*row) for row in rows]


def run_names(session: Session, run_ids: list[str]) -> dict[str, str]:
    """Names of runs, for summaries that name them."""
    if not run_ids:
        return {}
    marks = ", ".join("?" for _ in run_ids)
    rows = _exec(session, f"SELECT run_uuid, name FROM runs WHERE run_uuid IN ({marks})", tuple(run_ids))
    return {str(a): str(b) for a, b in rows}


def experiment_group(session: Session, experiment_id: int) -> int | None:
    """The group of an experiment (through its project), or None if there is no such experiment."""
    row = _exec(
        session,
        "SELECT p.group_id FROM experiments e JOIN projects p ON p.id = e.project_id WHERE e.experiment_id = ?",
        (experiment_id,),
    ).first()
    return None if row is None else int(row[0])
