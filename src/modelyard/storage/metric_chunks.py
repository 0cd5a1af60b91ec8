"""Metric points packed into chunks (see ``MetricChunkRow``): writing, reading, deduplicating."""

from __future__ import annotations

import hashlib
import itertools
import math
import operator
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.domain.tracking import Metric, MetricPoints
from modelyard.storage import driver_sql
from modelyard.storage.orm import MetricChunkRow

_COLUMNS = (
    "run_uuid", "key", "digest", "count", "min_step", "max_step", "steps", "timestamps", "values",
    "model_id", "dataset_name", "dataset_digest",
)  # fmt: skip
_LITTLE = sys.byteorder == "little"

Group = tuple[str, str | None, str | None, str | None]  # key, model_id, dataset_name, dataset_digest


def _pack(kind: str, items: Sequence[float] | Sequence[int]) -> bytes:
    arr = array(kind, items)
    if not _LITTLE:
        arr.byteswap()
    return arr.tobytes()


def _unpack(kind: str, raw: bytes) -> array[Any]:
    arr = array(kind)
    arr.frombytes(raw)
    if not _LITTLE:
        arr.byteswap()
    return arr


_QUOTED = ", ".join(f'"{c}"' for c in _COLUMNS)
_INSERT = (
    f"INSERT INTO metric_chunks ({_QUOTED}) VALUES ({', '.join('?' * len(_COLUMNS))}) ON CONFLICT DO NOTHING"
)


def insert_points(session: Session, run_id: str, metrics: Iterable[Metric]) -> None:
    """Store points as one chunk per (key, model, dataset); an identical chunk already stored is skipped."""
    groups: dict[Group, tuple[list[int], list[int], list[float]]] = defaultdict(lambda: ([], [], []))
    for m in metrics:
        steps, stamps, values = groups[(m.key, m.model_id, m.dataset_name, m.dataset_digest)]
        steps.append(m.step)
        stamps.append(m.timestamp)
        values.append(m.value)
    rows = []
    for (key, model_id, ds_name, ds_digest), (steps, stamps, values) in groups.items():
        packed = (_pack("q", steps), _pack("q", stamps), _pack("d", values))
        h = hashlib.sha1(usedforsecurity=False)
        for part in (*packed, str((model_id, ds_name, ds_digest)).encode()):
            h.update(part)
        rows.append(
            (
                run_id,
                key,
                h.hexdigest(),
                len(steps),
                min(steps),
                max(steps),
                *packed,
                model_id,
                ds_name,
                ds_digest,
            )
        )
    if rows:
        driver_sql.execute(session, _INSERT, rows)


def _expand(chunk: Any) -> list[Metric]:
    steps = _unpack("q", chunk.steps)
    stamps = _unpack("q", chunk.timestamps)
    values = _unpack("d", chunk.values)
    key, run_id, model_id = chunk.key, chunk.run_uuid, chunk.model_id
    ds_name, ds_digest = chunk.dataset_name, chunk.dataset_digest
    return [
        Metric(key, v, t, s, run_id, model_id, ds_name, ds_digest)
        for s, t, v in zip(steps, stamps, values, strict=True)
    ]


def _order(p: Metric) -> tuple[int, int, float]:
    return (p.step, p.timestamp, p.value if p.value == p.value else math.inf)


def _sorted_unique(points: list[Metric]) -> list[Metric]:
    """Sorted by step, timestamp, value (NaN last); exact repeats (same step, timestamp, value) dropped."""
    if any(_order(a) > _order(b) for a, b in itertools.pairwise(points)):
        points.sort(key=_order)
    out: list[Metric] = []
    prev: tuple[int, int, str] | None = None
    for p in points:
        # compare values by repr so that NaN repeats are recognised too (NaN != NaN)
        ident = (p.step, p.timestamp, repr(p.value))
        if ident != prev:
            out.append(p)
            prev = ident
    return out


def history(
    session: Session, run_id: str, key: str, *, min_step: int | None = None, max_step: int | None = None
) -> list[Metric]:
    """Every distinct point of one metric of one run, ordered by step, timestamp, value."""
    c = MetricChunkRow
    stmt = select(
        c.run_uuid, c.key, c.steps, c.timestamps, c.values, c.model_id, c.dataset_name, c.dataset_digest
    ).where(c.run_uuid == run_id, c.key == key)
    if min_step is not None:
        stmt = stmt.where(MetricChunkRow.max_step >= min_step)
    if max_step is not None:
        stmt = stmt.where(MetricChunkRow.min_step <= max_step)
    points: list[Metric] = []
    for chunk in session.execute(stmt):
        points.extend(_expand(chunk))
    if min_step is not None or max_step is not None:
        lo = min_step if min_step is not None else -(2**63)
        hi = max_step if max_step is not None else 2**63
        points = [p for p in points if lo <= p.step <= hi]
    return _sorted_unique(points)


_SERIES_SQL = (
    'SELECT min_step, max_step, steps, timestamps, "values", model_id, dataset_name, dataset_digest '
    "FROM metric_chunks WHERE run_uuid = ? AND key = ? ORDER BY min_step, max_step"
)


def _strictly_increasing(steps: list[int]) -> bool:
    # C-level passes: sorting an ordered list is one linear scan, and the pairwise test is a map
    return steps == sorted(steps) and not any(map(operator.eq, steps, itertools.islice(steps, 1, None)))


def series(session: Session, run_id: str, key: str) -> MetricPoints:
    """``history`` as columns. When the chunks follow each other (each chunk's steps strictly
    increasing, and every chunk after the last step of the one before), which is how a training
    loop logs, the chunks' arrays are joined as they are: no per-point objects, no sort."""
    chunks = driver_sql.execute(session, _SERIES_SQL, (run_id, key)).all()
    steps: list[int] = []
    stamps: array[int] = array("q")
    values: array[float] = array("d")
    last: int | None = None
    for min_step, max_step, raw_steps, raw_stamps, raw_values, *extras in chunks:
        chunk_steps = _unpack("q", raw_steps).tolist()
        if (last is not None and min_step <= last) or extras != [None, None, None]:
            break
        if not _strictly_increasing(chunk_steps):
            break
        steps += chunk_steps
        stamps += _unpack("q", raw_stamps)
        values += _unpack("d", raw_values)
        last = max_step
    else:
        return MetricPoints(key, steps, stamps.tolist(), values.tolist())
    return MetricPoints.of(key, history(session, run_id, key))


def model_points(session: Session, model_ids: Sequence[str]) -> dict[str, list[Metric]]:
    """Points logged with a ``model_id``, per model."""
    out: dict[str, list[Metric]] = defaultdict(list)
    if model_ids:
        for chunk in session.scalars(select(MetricChunkRow).where(MetricChunkRow.model_id.in_(model_ids))):
            out[str(chunk.model_id)].extend(_expand(chunk))
    return {k: _sorted_unique(v) for k, v in out.items()}
