"""The param, metric and tag keys of experiments (``experiment_keys``, kept by triggers: migration 0008)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from modelyard.storage import driver_sql

KINDS = ("param", "metric", "tag")


def keys_of(session: Session, experiment_ids: Sequence[int]) -> dict[str, list[str]]:
    """Each kind's keys used by the runs of any of the experiments: distinct, sorted."""
    out: dict[str, set[str]] = {kind: set() for kind in KINDS}
    if experiment_ids:
        marks = ", ".join("?" * len(experiment_ids))
        rows = driver_sql.execute(
            session,
            f"SELECT kind, key FROM experiment_keys WHERE experiment_id IN ({marks})",
            tuple(experiment_ids),
        )
        for kind, key in rows:
            out[str(kind)].add(str(key))
    return {kind: sorted(keys) for kind, keys in out.items()}
