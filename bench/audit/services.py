"""The tracking writes the audit trail rides on, measured in-process (no HTTP: the server's share of a
request's time, with less of the machine's noise), for this checkout and optionally another one, in
alternating rounds, each round a fresh process and SQLite data dir.

Workloads: runs created as ``mlflow.start_run`` + ``log_batch`` (5 params, 5 metrics, 3 tags) +
``end_run`` do (runs/s); one metric point per call, as ``mlflow.log_metric`` in a loop does (calls/s);
batches of 1,000 points on 4 keys (points/s). Prints each round and the median per checkout.

    .venv/bin/python bench/audit/services.py --base /tmp/base-src/src --rounds 3

(``git archive <commit> src | tar -x -C /tmp/base-src`` makes the other checkout.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Metric
from modelyard.services import build_services
from modelyard.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def measure(runs: int, points: int, batches: int) -> dict[str, float]:
    """Runs in a child process, whose PYTHONPATH chose the checkout ``modelyard`` is imported from."""
    svc = build_services(Settings(data_dir=Path(tempfile.mkdtemp(prefix="audit-ab-")), controller=False))
    admin = Principal.system()
    tracking = svc.tracking
    eid = svc.experiments.create_experiment(admin, name="bench")

    def full_run(i: int) -> None:
        run = tracking.create_run(admin, experiment_id=eid, run_name=f"r{i}", start_time=1000 + i)
        tracking.log_batch(
            admin,
            run.run_id,
            metrics=[Metric(f"m{j}", 0.5, 1, 0) for j in range(5)],
            params=[(f"p{j}", "v") for j in range(5)],
            tags=[(f"t{j}", "x") for j in range(3)],
        )
        tracking.update_run(admin, run.run_id, status="FINISHED", end_time=2000)

    for i in range(30):  # warm-up
        full_run(-1 - i)
    t0 = time.perf_counter()
    for i in range(runs):
        full_run(i)
    out = {"runs_per_s": runs / (time.perf_counter() - t0)}
    run_id = tracking.create_run(admin, experiment_id=eid, run_name="points", start_time=1).run_id
    t0 = time.perf_counter()
    for step in range(points):
        tracking.log_batch(admin, run_id, metrics=[Metric("loss", 0.5, 1, step)])
    out["single_point_calls_per_s"] = points / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for b in range(batches):
        tracking.log_batch(
            admin, run_id, metrics=[Metric(f"k{i % 4}", 0.5, 1, b * 1000 + i) for i in range(1000)]
        )
    out["batched_points_per_s"] = batches * 1000 / (time.perf_counter() - t0)
    svc.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, default=None, help="src/ of the checkout to compare with")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runs", type=int, default=500)
    p.add_argument("--points", type=int, default=3000, help="single-point calls")
    p.add_argument("--batches", type=int, default=100, help="1,000-point batches")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(measure(a.runs, a.points, a.batches)))
        return
    checkouts = {"this": ROOT / "src", **({"base": a.base} if a.base else {})}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    for r in range(a.rounds):
        order = list(checkouts.items())
        for name, src in order if r % 2 == 0 else reversed(order):  # ABBA: a load trend hits both alike
            env = {**os.environ, "PYTHONPATH": str(src)}
            argv = [sys.executable, __file__, "--child", "--runs", str(a.runs), "--points", str(a.points)]
            out = subprocess.run(
                [*argv, "--batches", str(a.batches)], env=env, capture_output=True, text=True, check=False
            )
            if out.returncode:
                raise SystemExit(out.stderr[-2000:])
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            shown = ", ".join(f"{k} {v:.0f}" for k, v in results[name][-1].items())
            print(f"round {r + 1} {name}: {shown}  (load {os.getloadavg()[0]:.1f})")
    for name, rounds in results.items():
        medians = {k: statistics.median(x[k] for x in rounds) for k in rounds[0]}
        print(f"median {name}: " + ", ".join(f"{k} {v:.0f}" for k, v in medians.items()))


if __name__ == "__main__":
    main()
