"""Tracking benchmark: modelyard vs. `mlflow server`, over MLflow's REST API only.

Both servers are started by this script, on free loopback ports, each in its own temporary directory,
one after the other (so they never compete for the machine's cores), and are killed on exit. Every
request is plain HTTP with the JSON body the official mlflow client (3.17) sends for the same call
(see /work/shared/REFERENCE.md); nothing of `mlflow` or `modelyard` is imported here.

Workloads (default shapes; `--quick` scales them down to about a minute per server):
  1. ingest          N runs x P metric points, POST runs/log-batch in batches of 1,000, T client threads
  2. runs/s          runs/create + runs/log-batch (5 params, 5 metrics, 3 tags) + runs/update FINISHED
  3. filtered search POST runs/search over S runs with a metric+param filter and order_by, p50
  4. 1000-run page   POST runs/search, max_results 1000, no filter, p50
  5. metric history  GET metrics/get-history for a 10,000-point metric, p50

All data comes from a seeded RNG, so both servers get the same values and must give the same answers;
any difference is printed as a WARNING row and recorded in the JSON.

Run it through bench/tracking/run.sh (which creates the bench virtualenv first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from report import report
from servers import ServerError, mlflow_server, modelyard_server
from workloads import WORKLOADS, bench_server

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="scaled-down shapes: 1-2 minutes per server")
    p.add_argument("--servers", default="mlflow,modelyard", help="comma list of mlflow, modelyard")
    p.add_argument(
        "--workloads", default=",".join(w[0] for w in WORKLOADS), help="comma list of workloads to run"
    )
    p.add_argument("--threads", type=int, default=4, help="concurrent clients for ingest and the search fill")
    p.add_argument("--ingest-runs", type=int, default=None, help="runs for ingest (default 20, quick 4)")
    p.add_argument("--points-per-run", type=int, default=10_000)
    p.add_argument("--ingest-keys", type=int, default=4, help="metric keys per ingest run")
    p.add_argument(
        "--batch-size", type=int, default=1000, help="metrics per log-batch (MLflow's limit is 1000)"
    )
    p.add_argument("--create-runs", type=int, default=None, help="runs for runs/s (default 200, quick 50)")
    p.add_argument("--runs-threads", type=int, default=1, help="concurrent clients for runs/s (default 1)")
    p.add_argument(
        "--search-runs",
        default=None,
        help="runs in the search experiment, or a comma list of scales searched one after the other, the "
        "experiment filled on from one to the next (default 1000,5000; quick 1000)",
    )
    p.add_argument(
        "--search-calls", type=int, default=None, help="timed calls per search (default 20, quick 8)"
    )
    p.add_argument("--max-results", type=int, default=1000)
    p.add_argument("--history-points", type=int, default=10_000)
    p.add_argument(
        "--history-calls", type=int, default=None, help="timed get-history calls (default 20, quick 8)"
    )
    p.add_argument("--warmup", type=int, default=1, help="untimed calls before each latency series")
    p.add_argument(
        "--mlflow-workers", type=int, default=None, help="mlflow server --workers (default: mlflow's, 4)"
    )
    p.add_argument("--mlflow-bin", default=None, help="mlflow executable (default: next to this python)")
    p.add_argument("--modelyard-bin", default=str(ROOT / ".venv" / "bin" / "modelyard"))
    p.add_argument(
        "--modelyard-log-level", default=None, help="MODELYARD_LOG_LEVEL for the server (default: its own)"
    )
    p.add_argument(
        "--ready-timeout", type=float, default=120.0, help="seconds to wait for each server to answer"
    )
    p.add_argument("--request-timeout", type=float, default=300.0)
    p.add_argument(
        "--json-out", default=None, help="results file (default bench/results/tracking-<time>.json)"
    )
    p.add_argument("--keep-temp", action="store_true", help="keep the servers' temporary directories")
    a = p.parse_args(argv)
    quick = a.quick
    a.ingest_runs = a.ingest_runs or (4 if quick else 20)
    a.create_runs = a.create_runs or (50 if quick else 200)
    try:
        scales = [
            int(x) for x in str(a.search_runs or ("1000" if quick else "1000,5000")).split(",") if x.strip()
        ]
    except ValueError:
        p.error(f"--search-runs takes numbers of runs separated by commas, not {a.search_runs!r}")
    if not scales or min(scales) < 1:
        p.error("--search-runs needs at least one scale of 1 run or more")
    a.search_runs = sorted(set(scales))
    a.search_calls = a.search_calls or (8 if quick else 20)
    a.history_calls = a.history_calls or (8 if quick else 20)
    a.servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    known = {w[0] for w in WORKLOADS}
    if bad := [w for w in a.workloads if w not in known] + [
        s for s in a.servers if s not in ("mlflow", "modelyard")
    ]:
        p.error(f"unknown workload/server: {bad}")
    if a.batch_size > 1000:
        p.error("--batch-size above 1000 is over MLflow's log-batch limit")
    return a


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so the finally blocks stop the servers."""

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _commit() -> str | None:
    """This checkout's commit, with "+dirty" when it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return head.strip() + ("+dirty" if dirty.stdout.strip() else "") if head else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    factories = {"mlflow": mlflow_server, "modelyard": modelyard_server}
    results: dict[str, Any] = {}
    failed_start: list[str] = []
    started = time.time()
    print(
        f"tracking bench: servers={','.join(args.servers)} quick={args.quick} threads={args.threads} "
        f"ingest={args.ingest_runs}x{args.points_per_run} runs={args.create_runs} "
        f"search_runs={','.join(map(str, args.search_runs))} "
        f"history={args.history_points} pts, calls={args.search_calls}/{args.history_calls}",
        flush=True,
    )
    load1 = os.getloadavg()[0]
    if load1 > (os.cpu_count() or 1):
        print(
            f"WARNING: load average {load1:.1f} on {os.cpu_count()} cores: the timings will be noisy",
            flush=True,
        )
    with terminate_on_sigterm():
        for name in args.servers:
            tmp = Path(tempfile.mkdtemp(prefix=f"bench-tracking-{name}-"))
            server = factories[name](tmp, args)
            try:
                results[name] = bench_server(server, args)
            except ServerError as e:
                print(f"   {name} could not be benchmarked: {e}", flush=True)
                failed_start.append(name)
                results[name] = {
                    "url": server.url,
                    "argv": server.argv,
                    "workloads": {},
                    "checks": {},
                    "errors": {"startup": str(e)},
                }
            finally:
                server.stop()
                if args.keep_temp:
                    print(f"   kept {tmp}")
                else:
                    shutil.rmtree(tmp, ignore_errors=True)

    warnings, ratios = report(results, args)
    out = (
        Path(args.json_out)
        if args.json_out
        else ROOT / "bench" / "results" / time.strftime("tracking-%Y%m%d-%H%M%S.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "bench": "tracking",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": round(time.time() - started, 1),
        "commit": _commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "args": {k: v for k, v in vars(args).items()},
        "targets": {
            w[0]: {"unit": w[1], "higher_is_better": w[2], "target_x": w[3], "mlflow_baseline": w[4]}
            for w in WORKLOADS
        },
        "results": results,
        "ratios_modelyard_vs_mlflow": ratios,
        "warnings": warnings,
    }
    out.write_text(json.dumps(doc, indent=2))
    print(f"\nresults written to {out}")
    return 1 if failed_start and len(failed_start) == len(args.servers) else 0


if __name__ == "__main__":
    sys.exit(main())
