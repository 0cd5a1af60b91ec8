"""Serving benchmark: modelyard serve-model vs. mlflow models serve, MLServer and a bare uvicorn app.

All servers run in the same invocation, one at a time (never two at once: the machine has 2 cores), with the
same models and the same request rows. Each is started on free loopback ports in its own temp dir and its
whole process group is killed when it is done (or when this script exits, is interrupted or is terminated).

Servers and the protocols measured on each:
  mlflow        `mlflow models serve -m <dir> --env-manager local` (1 uvicorn worker, its default)  /invocations
  mlserver      `mlserver start <dir>` (mlserver-sklearn runtime, default settings)               V2 infer
  bare-1w       bench/serving/bare_app.py on uvicorn, 1 worker: orjson + model.predict         /predict
  bare-2w       the same with 2 workers
  modelyard     `modelyard serve-model --model-uri <dir>`                        /invocations, V2, Seldon v1
                from .bench-venv/modelyard (this checkout as `pip install modelyard[sklearn]`), the
                environment a user's replica runs in, not the test environment (--modelyard-bin)
  modelyard-batch  the same with --max-batch-size/--max-batch-wait-ms (only at 64 connections, 1-row)

Per model (gbc: GradientBoostingClassifier 100 trees x 20 features; iris: LogisticRegression) and per body
(1 row, 100 rows): every response is checked once against the model's local predictions (1-row bodies also
as 100 concurrent requests, each answer matched to its row), then wrk (2
threads, Lua script with the POST body) measures throughput at 8 connections, and p50/p99 latency at 1, 8
and 64 connections for the gbc 1-row body (all bodies with --latency-all). Cold start is process launch to
the first 200 on a predict request (median of --cold-runs launches, gbc).

Then, for gbc, the 1-row cells at 8 connections of bare-1w, MLServer and modelyard run again in
--rounds interleaved rounds, with fresh processes every round: a single run on a 2-core machine varies
by 10-20%, so the throughput targets for 1-row bodies use the medians of those rounds (the other cells,
and mlflow, one run each).

Run it through bench/serving/run.sh, which creates the environments first (setup.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import cold_starts, interleaved_rounds, measure_server
from payloads import load_models
from report import print_report, targets, versions
from servers import BENCH_VENV, HERE, ROOT, SERVER_ORDER, modelyard_available, stop_all


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers and remove dirs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="5 s per wrk run (default 15 s), 1 s warm-up")
    p.add_argument("--duration", type=float, help="seconds per timed wrk run (default 15, --quick 5)")
    p.add_argument(
        "--warmup", type=float, help="seconds of untimed wrk warm-up per body (default 2, --quick 1)"
    )
    p.add_argument("--servers", default=",".join(SERVER_ORDER), help="comma list, default: all")
    p.add_argument("--models", default="gbc,iris", help="comma list: gbc,iris")
    p.add_argument("--batch-sizes", default="1,100", help="rows per request, from 1,100")
    p.add_argument("--concurrency", default="1,8,64", help="wrk connections for the latency runs")
    p.add_argument("--latency-all", action="store_true", help="latency at every concurrency for every body")
    p.add_argument("--cold-runs", type=int, default=3, help="launches per server for the cold start median")
    p.add_argument("--cold-model", default="gbc")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of the 1-row c=8 cells for bare-1w, mlserver and modelyard on the "
        "--rounds-model (fresh processes each round; the targets use the medians; 0: none)",
    )
    p.add_argument("--rounds-model", default="gbc")
    p.add_argument("--ready-timeout", type=float, default=120.0)
    p.add_argument(
        "--modelyard-bin",
        default=str(ROOT / ".bench-venv" / "modelyard" / "bin" / "modelyard"),
        help="the modelyard executable (default: the modelyard[sklearn] install that setup.sh makes)",
    )
    p.add_argument("--modelyard-protocols", default="mlflow,mlflow-split,v2,seldon")
    p.add_argument(
        "--modelyard-arg", action="append", default=[], help="extra serve-model argument (repeatable)"
    )
    p.add_argument("--max-batch-size", type=int, default=64)
    p.add_argument("--max-batch-wait-ms", type=float, default=2)
    p.add_argument(
        "--models-dir", help="reuse models trained by train_models.py (default: train into a temp dir)"
    )
    p.add_argument("--json-out", help="default bench/results/serving-<time>.json")
    a = p.parse_args(argv)
    a.duration = a.duration or (5.0 if a.quick else 15.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if a.quick else 2.0)
    a.servers = [s for s in a.servers.split(",") if s]
    a.models = [m for m in a.models.split(",") if m]
    a.batch_sizes = [b for b in a.batch_sizes.split(",") if b]
    a.concurrency = [int(c) for c in a.concurrency.split(",") if c]
    if a.max_batch_wait_ms == int(a.max_batch_wait_ms):
        a.max_batch_wait_ms = int(a.max_batch_wait_ms)
    unknown = set(a.servers) - set(SERVER_ORDER)
    if unknown:
        p.error(f"unknown servers {sorted(unknown)}; choose from {SERVER_ORDER}")
    return a


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0912
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_out = Path(args.json_out) if args.json_out else ROOT / "bench" / "results" / f"serving-{stamp}.json"
    results: dict[str, Any] = {
        "started": stamp,
        "args": {k: v for k, v in vars(args).items()},
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(),
        "loadavg": {"start": [round(x, 2) for x in os.getloadavg()]},
        "servers": [],
        "cold_start": {},
        "notes": [],
    }
    if results["loadavg"]["start"][0] > (os.cpu_count() or 1):
        print(
            f"WARNING: load average {results['loadavg']['start']} is above the core count: numbers will be noisy"
        )
    servers = list(args.servers)
    if any(s.startswith("modelyard") for s in servers):
        ok, why = modelyard_available(args.modelyard_bin)
        if not ok:
            note = f"modelyard serve-model is not available ({args.modelyard_bin}): {why}; modelyard not measured"
            results["notes"].append(note)
            print(f"WARNING: {note}", flush=True)
            servers = [s for s in servers if not s.startswith("modelyard")]
    tmp = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    try:
        if args.models_dir:
            models_dir = Path(args.models_dir)
        else:
            models_dir = tmp / "models"
            print("training models ...", flush=True)
            subprocess.run(
                [str(BENCH_VENV / "bin" / "python"), str(HERE / "train_models.py"), str(models_dir)],
                check=True,
            )
        models = load_models(models_dir, args.models)
        for model in models:
            print(f"\n== model {model.name} ==", flush=True)
            for name in servers:
                measure_server(name, model, args, tmp, results)
        rounds_model = next((m for m in models if m.name == args.rounds_model), None)
        if args.rounds > 0 and rounds_model is not None:
            print(f"\n== interleaved rounds ({rounds_model.name}, 1-row, c=8) ==", flush=True)
            interleaved_rounds(rounds_model, servers, args, tmp, results)
        if args.cold_runs > 0:
            cold = next((m for m in models if m.name == args.cold_model), None)
            if cold is not None:
                print(f"\n== cold start ({cold.name}, {args.cold_runs} launches per server) ==", flush=True)
                for name in servers:
                    if name == "modelyard-batch":
                        continue
                    cold_starts(name, cold, args, tmp, results)
                    s = results["cold_start"].get(name) or []
                    if s:
                        print(f"  {name:15} median {statistics.median(s):.2f}s  {s}", flush=True)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        results["loadavg"]["end"] = [round(x, 2) for x in os.getloadavg()]
        results["targets"] = targets(results, args)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(results, indent=2))
        print_report(results)
        print(f"\nresults: {json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
