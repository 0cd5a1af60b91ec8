"""Fill a data dir for the runs-table benchmark: one experiment of N runs x 20 params x 50 metrics.

    PYTHONPATH=$PWD/src .venv/bin/python bench/ui/runs_table_data.py /tmp/uibench --runs 100000

The rows go in by the storage layer's bulk path (driver-level ``executemany`` on the migrated
schema, in chunks of 5,000 runs), so 100,000 runs take about a minute, not hours: only the tables
the runs table reads are filled (runs, params, latest metrics, tags, and one metric chunk per run
for one metric, so the min/max columns have something to read). What the data looks like:

- params ``p00``..``p19``: ``p00`` one of 10 model names, ``p01`` a learning rate, the rest a few
  values each; run 7 of every 1,000 lacks ``p03`` (a missing sort key);
- metrics ``m00``..``m49``: uniform in [0, 1); every 97th run has ``m01`` = NaN and every 89th
  lacks ``m02``;
- tags ``mlflow.runName``, ``mlflow.user``, ``mlflow.source.name``, ``team``;
- 2% of the runs are children of the run before their block of ten (nested runs);
- statuses FINISHED, with every 50th FAILED and every 200th RUNNING (no end time).

A data dir that already holds the experiment is reused (the experiment name says how many runs).
"""

from __future__ import annotations

import argparse
import random
import struct
import time
import uuid
from pathlib import Path
from typing import Any

from modelyard.services.container import prepare_storage
from modelyard.settings import Settings
from modelyard.storage.db import Database

BASE_MS = 1_700_000_000_000
CHUNK = 5_000
PARAMS = 20
METRICS = 50
MODELS = ("tree", "forest", "boost", "linear", "svm", "knn", "mlp", "cnn", "rnn", "bayes")


def experiment_name(runs: int) -> str:
    return f"ui-bench-{runs}"


def _ids(rng: random.Random, n: int) -> list[str]:
    return [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(n)]


def _run_rows(
    experiment_id: int, first: int, ids: list[str], parents: dict[int, str]
) -> list[tuple[Any, ...]]:
    rows = []
    for offset, run_id in enumerate(ids):
        i = first + offset
        start = BASE_MS + i * 1000
        status = "RUNNING" if i % 200 == 0 else "FAILED" if i % 50 == 0 else "FINISHED"
        end = None if status == "RUNNING" else start + 1000 + (i * 7919) % 600_000
        rows.append(
            (
                run_id,
                experiment_id,
                f"run-{i}",
                f"user{i % 7}",
                status,
                start,
                end,
                "active",
                f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                parents.get(i),
            )
        )
    return rows


def _params(rng: random.Random, i: int, run_id: str) -> list[tuple[str, str, str]]:
    out = [(run_id, "p00", MODELS[rng.randrange(10)]), (run_id, "p01", f"{10 ** -rng.uniform(1, 5):.6f}")]
    for k in range(2, PARAMS):
        if k == 3 and i % 1000 == 7:
            continue
        out.append((run_id, f"p{k:02d}", f"v{rng.randrange(3 + k)}"))
    return out


def _metrics(rng: random.Random, i: int, run_id: str) -> list[tuple[Any, ...]]:
    out = []
    for k in range(METRICS):
        if k == 2 and i % 89 == 0:
            continue
        nan = k == 1 and i % 97 == 0
        out.append((run_id, f"m{k:02d}", 0.0 if nan else rng.random(), BASE_MS + i * 1000, 10, nan))
    return out


def _chunk(run_id: str, rng: random.Random) -> tuple[Any, ...]:
    """A 10-point history of ``m00`` (one chunk row), for the min/max columns."""
    steps = list(range(10))
    values = [rng.random() for _ in steps]
    pack_i = struct.Struct("<10q").pack
    return (
        run_id,
        "m00",
        uuid.uuid4().hex[:40],
        10,
        0,
        9,
        pack_i(*steps),
        pack_i(*(BASE_MS + s for s in steps)),
        struct.pack("<10d", *values),
    )


def fill(db: Database, runs: int, *, seed: int = 7, quiet: bool = False) -> int:
    """Create the experiment and its runs; returns the experiment id."""
    rng = random.Random(seed)
    name = experiment_name(runs)
    with db.engine.begin() as conn:
        found = conn.exec_driver_sql("SELECT experiment_id FROM experiments WHERE name = ?", (name,)).first()
        if found is not None:
            return int(found[0])
        conn.exec_driver_sql(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
            "last_update_time, project_id) VALUES (?, '', 'active', ?, ?, 1)",
            (name, BASE_MS, BASE_MS),
        )
        experiment_id = int(
            conn.exec_driver_sql("SELECT experiment_id FROM experiments WHERE name = ?", (name,)).one()[0]
        )
        conn.exec_driver_sql(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
            (f"mlflow-artifacts:/{experiment_id}", experiment_id),
        )
    started = time.perf_counter()
    for first in range(0, runs, CHUNK):
        n = min(CHUNK, runs - first)
        ids = _ids(rng, n)
        # runs first+10k+1 .. first+10k+2 (2%) are children of first+10k
        parents = {
            i: ids[i - first - (i % 10)] for i in range(first, first + n) if i % 10 in (1, 2) and i % 100 < 10
        }
        params, metrics, tags, chunks = [], [], [], []
        for offset, run_id in enumerate(ids):
            i = first + offset
            params += _params(rng, i, run_id)
            metrics += _metrics(rng, i, run_id)
            tags += [
                (run_id, "mlflow.runName", f"run-{i}"),
                (run_id, "mlflow.user", f"user{i % 7}"),
                (run_id, "mlflow.source.name", f"train_{i % 4}.py"),
                (run_id, "team", f"t{i % 3}"),
            ]
            if i % 100 == 0:
                chunks.append(_chunk(run_id, rng))
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
                "lifecycle_stage, artifact_uri, parent_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _run_rows(experiment_id, first, ids, parents),
            )
            conn.exec_driver_sql("INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)", params)
            conn.exec_driver_sql(
                "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                metrics,
            )
            conn.exec_driver_sql("INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)", tags)
            conn.exec_driver_sql(
                "INSERT INTO metric_chunks (run_uuid, key, digest, count, min_step, max_step, steps, "
                'timestamps, "values") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
                chunks,
            )
        if not quiet:
            done = first + n
            rate = done / (time.perf_counter() - started)
            print(f"  {done:>7,} runs ({rate:,.0f} runs/s)", flush=True)
    return experiment_id


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir).resolved()
    prepare_storage(settings)
    db = Database(settings.database_url)
    try:
        start = time.perf_counter()
        experiment_id = fill(db, args.runs, seed=args.seed)
        print(
            f"experiment {experiment_id} ({experiment_name(args.runs)}) ready in {time.perf_counter() - start:.0f} s"
        )
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
