"""Run search at scale on SQLite: fill a fresh database, then time search_run_ids.

    .venv/bin/python bench/search_scale.py                  # 100,000 runs, 30 timed calls per query
    .venv/bin/python bench/search_scale.py --runs 10000 --repeat 50 --db /tmp/search.db

Experiment 1 holds ``--runs`` runs; experiment 2 holds ``--small`` runs with the same keys, to show
that a small experiment is not slowed down by a big one. Each run has 5 params (p0..p4, ten values
v0..v9), 5 latest metrics (m0..m4, uniform in [0, 1)) and 3 tags. Only the tables search reads are
filled (not the metric history). The database is made by the real migrations, so it has exactly the
shipped indexes. The target: under 100 ms p50 for the first query.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from modelyard.domain.search import parse_filter, parse_order_by
from modelyard.storage.db import Database
from modelyard.storage.migrate import upgrade
from modelyard.storage.orm import ExperimentRow, LatestMetricRow, ParamRow, RunRow, TagRow
from modelyard.storage.search_sql import search_run_ids

BIG, SMALL = 1, 2
CHUNK = 10_000
BASE_MS = 1_700_000_000_000

QUERIES: list[tuple[int, str, list[str]]] = [
    (BIG, "metrics.m0 > 0.5 and params.p0 = 'v1'", ["metrics.m0 DESC"]),  # the target
    (BIG, "", []),  # an unfiltered page in the default order (start_time DESC)
    (BIG, "", ["metrics.m1 DESC"]),
    (BIG, "params.p1 = 'v3'", []),
    (BIG, "params.p1 = 'v3'", ["metrics.m1 DESC"]),
    (BIG, "params.p1 = 'v3'", ["params.p2"]),  # no index gives this order: every match is sorted
    (SMALL, "metrics.m0 > 0.5 and params.p0 = 'v1'", ["metrics.m0 DESC"]),
    (SMALL, "", ["metrics.m1 DESC"]),
]


def _chunks(first: int, total: int) -> Iterator[range]:
    for start in range(first, first + total, CHUNK):
        yield range(start, min(start + CHUNK, first + total))


def _experiment(db: Database, experiment_id: int) -> None:
    row = {
        "experiment_id": experiment_id,
        "name": f"bench-{experiment_id}",
        "artifact_location": f"mlflow-artifacts:/{experiment_id}",
        "lifecycle_stage": "active",
        "creation_time": BASE_MS,
        "last_update_time": BASE_MS,
        "project_id": 1,
    }
    with db.engine.begin() as conn:
        conn.execute(insert(ExperimentRow.__table__), [row])


def fill(db: Database, experiment_id: int, first: int, runs: int, rng: random.Random) -> None:
    """Runs ``first .. first + runs - 1`` (their index sets start_time), bulk-inserted by chunks."""
    _experiment(db, experiment_id)
    for chunk in _chunks(first, runs):
        run_rows, params, metrics, tags = [], [], [], []
        for i in chunk:
            run_id = uuid.UUID(int=rng.getrandbits(128)).hex
            run_rows.append(
                {
                    "run_uuid": run_id,
                    "experiment_id": experiment_id,
                    "name": f"run-{i}",
                    "user_id": f"user{i % 7}",
                    "status": "FINISHED",
                    "start_time": BASE_MS + i * 1000,
                    "end_time": BASE_MS + i * 1000 + 500,
                    "lifecycle_stage": "active",
                    "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                }
            )
            params += [
                {"run_uuid": run_id, "key": f"p{k}", "value": f"v{rng.randrange(10)}"} for k in range(5)
            ]
            metrics += [
                {"run_uuid": run_id, "key": f"m{k}", "value": rng.random(), "timestamp": BASE_MS, "step": 0}
                for k in range(5)
            ]
            tags += [
                {"run_uuid": run_id, "key": "mlflow.runName", "value": f"run-{i}"},
                {"run_uuid": run_id, "key": "mlflow.user", "value": f"user{i % 7}"},
                {"run_uuid": run_id, "key": "team", "value": f"t{i % 3}"},
            ]
        with db.engine.begin() as conn:
            conn.execute(insert(RunRow.__table__), run_rows)
            conn.execute(insert(ParamRow.__table__), params)
            conn.execute(insert(LatestMetricRow.__table__), metrics)
            conn.execute(insert(TagRow.__table__), tags)


def timed(db: Database, repeat: int, call: Callable[[Any], list[str]]) -> tuple[float, float, int]:
    samples: list[float] = []
    found = 0
    with db.read() as session:
        call(session)  # warm the page cache and the statement cache
        for _ in range(repeat):
            start = time.perf_counter()
            found = len(call(session))
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the big experiment")
    parser.add_argument("--small", type=int, default=500, help="runs in the small experiment")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE first (planner statistics)")
    parser.add_argument("--db", type=Path, help="database file; filled if new, reused if it exists")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path: Path = args.db or Path(tmp) / "search.db"
        db = Database(f"sqlite:///{path}")
        if path.exists():
            print(f"reusing {path} (delete it to fill a fresh one)")
        else:
            upgrade(db)
            start = time.perf_counter()
            rng = random.Random(args.seed)
            fill(db, BIG, 0, args.runs, rng)
            fill(db, SMALL, args.runs, args.small, rng)
            print(
                f"filled {args.runs:,} + {args.small:,} runs in {time.perf_counter() - start:.1f} s ({path})"
            )
        if args.analyze:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            print("ran ANALYZE")

        print(
            f"{'experiment: filter ORDER BY order_by (a 1000-run page)':<78} {'p50 ms':>7} {'p95 ms':>7} {'rows':>5}"
        )
        for experiment_id, filter_string, order_by in QUERIES:
            filters, order = parse_filter(filter_string), parse_order_by(order_by)

            def call(
                session: Any, eid: int = experiment_id, filters: Any = filters, order: Any = order
            ) -> list[str]:
                return search_run_ids(
                    session,
                    experiment_ids=[eid],
                    stages=("active",),
                    filters=filters,
                    order_by=order,
                    max_results=1000,
                    offset=0,
                )

            p50, p95, rows = timed(db, args.repeat, call)
            size = "big" if experiment_id == BIG else "small"
            label = f"{size}: {filter_string or '(no filter)'} ORDER BY {', '.join(order_by) or 'default'}"
            print(f"{label:<78} {p50:7.1f} {p95:7.1f} {rows:5}")
        db.dispose()


if __name__ == "__main__":
    main()
