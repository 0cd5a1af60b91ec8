"""Audit rows written by tracking traffic, and the run-creation rate, against a real ``modelyard server``.

Starts this checkout's server on a fresh data dir, then over MLflow's REST API:

1. ``--points`` metric points, one ``runs/log-metric`` call each (what ``mlflow.log_metric`` in a
   training loop sends);
2. the same number of points in ``runs/log-batch`` calls of 1,000;
3. ``--runs`` runs, each ``runs/create`` + ``runs/log-batch`` (5 params, 5 metrics, 3 tags) +
   ``runs/update`` FINISHED, one client (the shape of bench/tracking's runs/s workload).

The server is then stopped with SIGTERM (a clean shutdown writes what it aggregated) and the audit
events are counted in its SQLite file, by phase and action. Prints rows per phase and runs/s.

    .venv/bin/python bench/audit/rows.py
    .venv/bin/python bench/audit/rows.py --points 2000 --runs 50      # quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from server import modelyard_server

API = "/api/2.0/mlflow"
BASE_TS = 1_700_000_000_000


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=20_000, help="metric points per phase (default 20,000)")
    p.add_argument("--runs", type=int, default=200, help="runs created in phase 3 (default 200)")
    p.add_argument("--python", default=sys.executable, help="python that runs `-m modelyard server`")
    p.add_argument(
        "--src",
        type=Path,
        default=None,
        help="the src/ directory of another checkout to run the server from (e.g. the commit before, to "
        "compare in the same conditions); default this checkout's",
    )
    p.add_argument("--json-out", default=None, help="write the results here as JSON too")
    return p.parse_args()


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"{API}{path}", json=body)
    if r.status_code != 200:
        raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
    out: dict[str, Any] = r.json()
    return out


def new_run(client: httpx.Client, eid: str, name: str, start: int) -> str:
    body = {"experiment_id": eid, "run_name": name, "start_time": start}
    return str(post(client, "/runs/create", body)["run"]["info"]["run_id"])


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="audit-rows-"))
    timings: dict[str, float] = {}
    try:
        with modelyard_server(tmp, args.python, args.src) as running:
            client = httpx.Client(
                base_url=running.url, headers={"Authorization": f"Bearer {running.token}"}, timeout=60
            )
            with client:
                eid = str(post(client, "/experiments/create", {"name": "audit-rows"})["experiment_id"])
                # 1. one log-metric call per point
                run = new_run(client, eid, "per-point", BASE_TS)
                t0 = time.perf_counter()
                for step in range(args.points):
                    body = {
                        "run_id": run,
                        "key": "loss",
                        "value": 1.0 / (step + 1),
                        "timestamp": BASE_TS + step,
                    }
                    post(client, "/runs/log-metric", {**body, "step": step})
                timings["log_metric_points_per_s"] = args.points / (time.perf_counter() - t0)
                # 2. batches of 1,000
                run = new_run(client, eid, "batched", BASE_TS)
                t0 = time.perf_counter()
                for off in range(0, args.points, 1000):
                    metrics = [
                        {"key": f"k{i % 4}", "value": float(i), "timestamp": BASE_TS + i, "step": i}
                        for i in range(off, min(off + 1000, args.points))
                    ]
                    post(client, "/runs/log-batch", {"run_id": run, "metrics": metrics})
                timings["log_batch_points_per_s"] = args.points / (time.perf_counter() - t0)
                # 3. full runs, as bench/tracking's runs/s
                t0 = time.perf_counter()
                for i in range(args.runs):
                    rid = new_run(client, eid, f"run-{i:05d}", BASE_TS + i)
                    batch = {
                        "run_id": rid,
                        "params": [{"key": f"p{j}", "value": f"v{j}-{i % 10}"} for j in range(5)],
                        "metrics": [
                            {"key": f"m{j}", "value": 0.5, "timestamp": BASE_TS + i, "step": 0}
                            for j in range(5)
                        ],
                        "tags": [{"key": f"t{j}", "value": f"tag-{j}"} for j in range(3)],
                    }
                    post(client, "/runs/log-batch", batch)
                    post(
                        client, "/runs/update", {"run_id": rid, "status": "FINISHED", "end_time": BASE_TS + i}
                    )
                timings["runs_per_s"] = args.runs / (time.perf_counter() - t0)
            running.stop()
            db = running.database
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT resource_id, action, COUNT(*) FROM audit_events WHERE resource_type = 'run' "
                "GROUP BY resource_id, action"
            ).fetchall()
            names = dict(conn.execute("SELECT run_uuid, name FROM runs").fetchall())
            total = int(conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0])
        per_phase: dict[str, dict[str, int]] = {"per-point": {}, "batched": {}, "full runs": {}}
        for run_id, action, count in rows:
            phase = names.get(run_id, "?")
            phase = phase if phase in ("per-point", "batched") else "full runs"
            per_phase[phase][action] = per_phase[phase].get(action, 0) + count
        result = {
            "points": args.points,
            "runs": args.runs,
            **timings,
            "audit_rows": per_phase,
            "total": total,
        }
        for phase, actions in per_phase.items():
            shown = ", ".join(f"{a} {n}" for a, n in sorted(actions.items()))
            print(f"{phase:>10}: {sum(actions.values())} audit rows ({shown})")
        print(
            f"log-metric {timings['log_metric_points_per_s']:.0f} points/s, "
            f"log-batch {timings['log_batch_points_per_s']:.0f} points/s, "
            f"{timings['runs_per_s']:.1f} runs/s (create + log-batch + update, 1 client)"
        )
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
