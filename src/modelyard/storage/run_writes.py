"""The hot paths of run tracking (create, log-batch, update), written as driver-level SQL
(``storage.driver_sql``): a run's create + log-batch + update is ~10 statements, and SQLAlchemy's
per-statement cost would exceed SQLite's. Everything else goes through the ORM.

Params, tags and latest metrics are written in key order: a new key also goes into the experiment's
key list (``experiment_keys``, by trigger), and on PostgreSQL two runs of one experiment adding the
same new keys at once in opposite orders would each wait on the other's uncommitted key (a deadlock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy.orm import Session

from modelyard.domain.errors import NotFound
from modelyard.domain.tracking import Metric, Run
from modelyard.storage import driver_sql, metric_chunks

_exec = driver_sql.execute


def run_id_for_idempotency_key(session: Session, key: str) -> str | None:
    row = _exec(session, "SELECT run_uuid FROM runs WHERE idempotency_key = ?", (key,)).first()
    return None if row is None else str(row[0])


def experiment_state(session: Session, experiment_id: int) -> tuple[str, str, int] | None:
    """(artifact_location, lifecycle_stage, group_id) of an experiment, or None."""
    row = _exec(
        session,
        "SELECT e.artifact_location, e.lifecycle_stage, p.group_id FROM experiments e "
        "JOIN projects p ON p.id = e.project_id WHERE e.experiment_id = ?",
        (experiment_id,),
    ).first()
    return None if row is None else (row[0], row[1], int(row[2]))


def run_scope(session: Session, run_id: str) -> tuple[str, int]:
    """(lifecycle_stage, group_id) of a run; NotFound if there is no such run."""
    row = _exec(
        session,
        "SELECT r.lifecycle_stage, p.group_id FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
        "JOIN projects p ON p.id = e.project_id WHERE r.run_uuid = ?",
        (run_id,),
    ).first()
    if row is None:
        raise NotFound(run_not_found(run_id))
    return str(row[0]), int(row[1])


def run_not_found(run_id: str) -> str:
    return f"Run with id={run_id} not found"


def run_info(session: Session, run_id: str) -> Run:
    """A run's own fields (no params, metrics or tags)."""
    row = _exec(
        session,
        "SELECT run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, "
        "lifecycle_stage FROM runs WHERE run_uuid = ?",
        (run_id,),
    ).first()
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    return Run(
        run_id=row[0],
        experiment_id=str(row[1]),
        run_name=row[2],
        user_id=row[3],
        status=row[4],
        start_time=row[5],
        end_time=row[6],
        artifact_uri=row[7],
        lifecycle_stage=row[8],
    )


def update_run_info(session: Session, run: Run) -> None:
    _exec(
        session,
        "UPDATE runs SET status = ?, end_time = ?, name = ? WHERE run_uuid = ?",
        (run.status, run.end_time, run.run_name, run.run_id),
    )


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(asdict(value)).decode()


def insert_run(session: Session, run: Run, *, parent_run_id: str | None, idempotency_key: str | None) -> None:
    _exec(
        session,
        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, "
        "artifact_uri, parent_run_id, code_version, environment, idempotency_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run.run_id,
            int(run.experiment_id),
            run.run_name,
            run.user_id,
            str(run.status),
            run.start_time,
            str(run.lifecycle_stage),
            run.artifact_uri,
            parent_run_id,
            _json(run.code_version),
            _json(run.environment),
            idempotency_key,
        ),
    )
    upsert_tags(session, run.run_id, run.tags)


def upsert_tags(session: Session, run_id: str, tags: dict[str, str]) -> None:
    if tags:
        _exec(
            session,
            "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
            [(run_id, k, v) for k, v in sorted(tags.items())],
        )


def existing_params(session: Session, run_id: str, keys: Iterable[str]) -> dict[str, str]:
    keys = list(keys)
    if not keys:
        return {}
    marks = ", ".join("?" * len(keys))
    rows = _exec(
        session, f"SELECT key, value FROM params WHERE run_uuid = ? AND key IN ({marks})", (run_id, *keys)
    )
    return {k: v for k, v in rows}


def insert_params(session: Session, run_id: str, params: dict[str, str]) -> None:
    if params:
        _exec(
            session,
            "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(run_id, k, v) for k, v in sorted(params.items())],
        )


_LATEST_UPSERT = (
    "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, "
    "step = excluded.step, is_nan = excluded.is_nan "
    "WHERE (excluded.step, excluded.timestamp, excluded.value) > "
    "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"
)


def insert_metrics(session: Session, run_id: str, metrics: Sequence[Metric]) -> None:
    """Store points (an identical retried batch is ignored) and move each key's latest value forward."""
    latest: dict[str, tuple[int, int, float, bool]] = {}
    for m in metrics:
        nan = m.value != m.value
        cand = (m.step, m.timestamp, 0.0 if nan else m.value, nan)
        cur = latest.get(m.key)
        if cur is None or cand[:3] > cur[:3]:
            latest[m.key] = cand
    if not latest:
        return
    metric_chunks.insert_points(session, run_id, metrics)
    _exec(session, _LATEST_UPSERT, [(run_id, k, v, t, s, n) for k, (s, t, v, n) in sorted(latest.items())])
