"""Create the web UI benchmark's data in a modelyard data dir, in-process (no HTTP).

One experiment ("ui-bench") with ``--runs`` runs (default 100,000), each with ``--params`` params
(default 20), ``--metrics`` metrics (default 50, one point each: the runs table's latest values) and two
tags, written with the storage layer's driver-level writes; and, in the same experiment, through the
service layer (``TrackingService``), runs with long histories of one metric ("loss"): one of
``--long-points`` points (default 1,000,000) and ``--medium-runs`` of ``--medium-points`` (default 3 of
100,000), logged in batches of 1,000 as the MLflow client's batching logger does, and one of
``--single-points`` points (default 20,000) logged one point per call, as ``mlflow.log_metric`` in a
training loop does. The values come from a seeded generator: every run of the script makes the same
data. Progress and rates are printed as it goes.

The data dir is reused across bench runs: when it already holds the benchmark's data the script
says so and stops (``--force`` refuses to touch a dir with data in it; delete the dir instead). What
bench.py needs (the admin's token, the ids) is written to ``<data dir>/ui-bench.json``.

    .venv/bin/python bench/ui/generate.py /tmp/ui-bench              # about 15-25 minutes here
    .venv/bin/python bench/ui/generate.py /tmp/ui-small --runs 2000 --long-points 100000
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import RUN_NAME_TAG, LifecycleStage, Metric, Run, RunStatus
from modelyard.services import Services, build_services
from modelyard.services.common import new_id
from modelyard.services.container import bootstrap_admin
from modelyard.settings import Settings
from modelyard.storage import run_writes as writes

EXPERIMENT = "ui-bench"
T0 = 1_700_000_000_000
MANIFEST = "ui-bench.json"


def loss(rng: random.Random, step: int, n: int) -> float:
    """A decaying training loss with noise and a rare spike."""
    value = 2.0 * math.exp(-5.0 * step / n) + rng.gauss(0, 0.02)
    return value * 20 if rng.random() < 1e-5 else value


class Progress:
    def __init__(self, what: str, total: int, unit: str) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.t0 = self.last = time.perf_counter()

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self.last >= 5:
            self.last = now
            rate = done / max(now - self.t0, 1e-9)
            left = (self.total - done) / rate if rate else 0
            print(
                f"  {self.what}: {done:,}/{self.total:,} {self.unit} ({rate:,.0f}/s, ~{left:,.0f} s left)",
                flush=True,
            )

    def done(self) -> float:
        elapsed = time.perf_counter() - self.t0
        self.update(self.total, force=True)
        return elapsed


def table_runs(svc: Services, eid: str, args: argparse.Namespace) -> None:
    """The runs table's runs, written with the storage layer's own driver-level writes (those of
    ``TrackingService.create_run``/``log_batch``/``update_run``), a thousand runs per transaction:
    the service's per-call transaction and audit events would make 100,000 runs take an hour here."""
    rng = random.Random(args.seed)
    with svc.db.read() as s:
        location = writes.experiment_state(s, int(eid))
    assert location is not None
    progress = Progress("runs", args.runs, "runs")
    for first in range(0, args.runs, 1000):
        with svc.db.write() as s:
            for i in range(first, min(first + 1000, args.runs)):
                start = T0 + i * 1000
                run_id = new_id()
                run = Run(
                    run_id=run_id,
                    experiment_id=eid,
                    run_name=f"run-{i:06d}",
                    user_id="bench",
                    status=RunStatus.FINISHED,
                    start_time=start,
                    end_time=start + 900,
                    artifact_uri=f"{location[0].rstrip('/')}/{run_id}/artifacts",
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    tags={
                        RUN_NAME_TAG: f"run-{i:06d}",
                        "team": rng.choice(("a", "b", "c")),
                        "stage": rng.choice(("dev", "prod")),
                    },
                )
                writes.insert_run(s, run, parent_run_id=None, idempotency_key=None)
                writes.update_run_info(s, run)
                writes.insert_params(
                    s, run_id, {f"p{j:02d}": str(rng.randrange(1000)) for j in range(args.params)}
                )
                metrics = [Metric(f"m{j:02d}", rng.random(), start + 500, 0) for j in range(args.metrics)]
                writes.insert_metrics(s, run_id, metrics)
        progress.update(min(first + 1000, args.runs))
    progress.done()


def history_run(svc: Services, admin: Principal, eid: str, name: str, points: int, *, batch: int) -> str:
    rng = random.Random(name)
    run = svc.tracking.create_run(admin, experiment_id=eid, run_name=name, start_time=T0)
    progress = Progress(name, points, "points")
    for first in range(0, points, batch):
        metrics = [
            Metric("loss", loss(rng, s, points), T0 + 10 * s, s)
            for s in range(first, min(first + batch, points))
        ]
        svc.tracking.log_batch(admin, run.run_id, metrics=metrics)
        progress.update(first + len(metrics))
    progress.done()
    return run.run_id


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", type=Path)
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--params", type=int, default=20)
    p.add_argument("--metrics", type=int, default=50)
    p.add_argument("--long-points", type=int, default=1_000_000)
    p.add_argument("--medium-runs", type=int, default=3)
    p.add_argument("--medium-points", type=int, default=100_000)
    p.add_argument("--single-points", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=14)
    args = p.parse_args()

    manifest = args.data_dir / MANIFEST
    if manifest.exists():
        print(f"{args.data_dir} already holds the benchmark's data ({manifest}); nothing to do.")
        return
    if args.data_dir.exists() and any(args.data_dir.iterdir()):
        sys.exit(f"{args.data_dir} is not empty and holds no {MANIFEST}: give an empty or new directory.")
    settings = Settings(data_dir=args.data_dir, controller=False).resolved()
    svc = build_services(settings)  # creates the dir and the database (migrated)
    created = bootstrap_admin(settings)
    assert created is not None
    username, token = created
    admin = Principal.system()
    t0 = time.perf_counter()
    try:
        eid = svc.experiments.create_experiment(admin, name=EXPERIMENT)
        print(f"experiment {eid}: {args.runs:,} runs x {args.params} params x {args.metrics} metrics")
        table_runs(svc, eid, args)
        print("long histories (batches of 1,000 points)")
        long_run = history_run(svc, admin, eid, "history-long", args.long_points, batch=1000)
        medium = [
            history_run(svc, admin, eid, f"history-medium-{i}", args.medium_points, batch=1000)
            for i in range(args.medium_runs)
        ]
        print("a history logged one point per call")
        single = history_run(svc, admin, eid, "history-single", args.single_points, batch=1)
    finally:
        svc.close()
    manifest.write_text(
        json.dumps(
            {
                "username": username,
                "token": token,
                "experiment_id": eid,
                "runs": args.runs,
                "params": args.params,
                "metrics": args.metrics,
                "long_run": long_run,
                "long_points": args.long_points,
                "medium_runs": medium,
                "medium_points": args.medium_points,
                "single_run": single,
                "single_points": args.single_points,
                "seed": args.seed,
                "seconds": round(time.perf_counter() - t0),
            },
            indent=2,
        )
    )
    manifest.chmod(0o600)
    print(f"done in {time.perf_counter() - t0:,.0f} s; {manifest} written")


if __name__ == "__main__":
    main()
