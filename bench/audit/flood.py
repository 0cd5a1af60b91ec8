"""Anonymous audit flood: what a stream of made-up HTTP Basic credentials costs the audit trail and a
legitimate client.

Starts a real ``modelyard server`` (this checkout, fresh data dir in a temp dir, on a free loopback
port), then:

1. baseline: one legitimate client logs ``runs/log-batch`` (10 metrics) at a steady rate for
   ``--baseline`` seconds, alone;
2. flood: the same legitimate client for ``--duration`` seconds while a second process sends requests
   with HTTP Basic credentials of a new made-up username each, over ``--connections`` keep-alive
   connections, as fast as the server answers them.

It then stops the server (SIGTERM: a clean shutdown writes what it was still counting) and prints the
refused requests, the audit rows they produced (``outcome = unauthenticated``, read from its SQLite
file) and the refusals those rows account for (their ``count``), and the p50/p99 latency of the legitimate
log-batch alone and during the flood, with the ratio. Nothing of modelyard is imported here: HTTP,
and the stopped server's SQLite file. The machine's other load shows in the load average printed with the results.

    .venv/bin/python bench/audit/flood.py                  # 60 s flood
    .venv/bin/python bench/audit/flood.py --duration 10    # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from server import modelyard_server

API = "/api/2.0/mlflow"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of flood (default 60)")
    p.add_argument("--baseline", type=float, default=15.0, help="seconds of the legitimate client alone")
    p.add_argument("--connections", type=int, default=16, help="concurrent flood connections")
    p.add_argument("--rate", type=float, default=20.0, help="legitimate log-batch calls per second")
    p.add_argument(
        "--flood-rate",
        type=float,
        default=0.0,
        help="flood requests per second in all (default 0: as fast as the server answers); a fixed rate "
        "offers two servers the same load",
    )
    p.add_argument("--metrics", type=int, default=10, help="metrics per legitimate log-batch")
    p.add_argument("--python", default=sys.executable, help="python that runs `-m modelyard server`")
    p.add_argument(
        "--src",
        type=Path,
        default=None,
        help="the src/ directory of another checkout to run the server from (e.g. the commit before, to "
        "compare in the same conditions); default this checkout's",
    )
    p.add_argument("--json-out", default=None, help="write the results here as JSON too")
    p.add_argument("--keep-temp", action="store_true", help="keep the server's data dir")
    return p.parse_args(argv)


# -- the flood (its own process, so its CPU use does not sit in the legitimate client's GIL) --------


async def _flood(url: str, seconds: float, connections: int, rate: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    start = time.monotonic()
    stop = start + seconds
    per_worker = rate / connections if rate > 0 else 0.0
    # Connections the flood leaves idle are dropped by the client after 2 s, before uvicorn's 5 s
    # keep-alive timeout closes them: with both at 5 s, a request sent on a connection as the server
    # closes it fails with a ReadError that says nothing about the server.
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0
    )

    async def one(client: httpx.AsyncClient, worker: int) -> None:
        n = 0
        while time.monotonic() < stop:
            n += 1
            user = f"nobody-{worker}-{n}-{random.randrange(1 << 30)}"
            auth = base64.b64encode(f"{user}:guess-{n}".encode()).decode()
            try:
                r = await client.get(
                    f"{API}/experiments/search",
                    params={"max_results": "1"},
                    headers={"Authorization": f"Basic {auth}"},
                )
                key = str(r.status_code)
            except httpx.TransportError as exc:
                key = type(exc).__name__
            counts[key] = counts.get(key, 0) + 1
            if per_worker:  # a fixed offered load, the same for every server compared
                await asyncio.sleep(max(0.0, start + n / per_worker - time.monotonic()))

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(one(client, i) for i in range(connections)))
    return counts


def flood_process(url: str, seconds: float, connections: int, rate: float, out: Any) -> None:
    out.put(asyncio.run(_flood(url, seconds, connections, rate)))


# -- the legitimate client ---------------------------------------------------------------------------


def legit(client: httpx.Client, run_id: str, seconds: float, rate: float, metrics: int) -> list[float]:
    """Log-batch calls at a steady rate; each call's latency in ms."""
    latencies: list[float] = []
    step = 0
    start = time.monotonic()
    while (now := time.monotonic()) < start + seconds:
        step += 1
        body = {
            "run_id": run_id,
            "metrics": [
                {"key": f"m{k}", "value": random.random(), "timestamp": int(time.time() * 1000), "step": step}
                for k in range(metrics)
            ],
        }
        t0 = time.perf_counter()
        r = client.post(f"{API}/runs/log-batch", json=body)
        latencies.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"legitimate log-batch failed: {r.status_code} {r.text[:300]}")
        next_at = start + step / rate
        if next_at > now:
            time.sleep(max(0.0, next_at - time.monotonic()))
    return latencies


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def audit_refusals(database: Path) -> tuple[int, int]:
    """(audit events with outcome 'unauthenticated', refusals they account for), read from the stopped
    server's SQLite file: a clean shutdown has written everything the server was still counting."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT changes FROM audit_events WHERE outcome = 'unauthenticated'").fetchall()
    return len(rows), sum(int(json.loads(changes).get("count", 1)) for (changes,) in rows)


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="audit-flood-"))
    try:
        with modelyard_server(tmp, args.python, args.src) as running:
            url, token = running.url, running.token
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                r = client.post(f"{API}/experiments/create", json={"name": "flood-bench"})
                r.raise_for_status()
                eid = r.json()["experiment_id"]
                r = client.post(f"{API}/runs/create", json={"experiment_id": eid, "run_name": "legit"})
                r.raise_for_status()
                run_id = r.json()["run"]["info"]["run_id"]
                legit(client, run_id, 2.0, args.rate, args.metrics)  # warm-up
                alone = legit(client, run_id, args.baseline, args.rate, args.metrics)
                queue: Any = multiprocessing.get_context("spawn").Queue()
                flooder = multiprocessing.get_context("spawn").Process(
                    target=flood_process, args=(url, args.duration, args.connections, args.flood_rate, queue)
                )
                flooder.start()
                during = legit(client, run_id, args.duration, args.rate, args.metrics)
                counts = queue.get(timeout=args.duration + 120)
                flooder.join()
                load = os.getloadavg()
            running.stop()
            rows, accounted = audit_refusals(running.database)
        refused = counts.get("401", 0)
        result = {
            "duration_s": args.duration,
            "flood_requests": sum(counts.values()),
            "flood_answers": counts,
            "flood_refused_per_s": refused / args.duration,
            "audit_rows_unauthenticated": rows,
            "refusals_accounted_by_rows": accounted,
            "legit_calls_alone": len(alone),
            "legit_calls_during": len(during),
            "legit_p50_ms_alone": percentile(alone, 50),
            "legit_p99_ms_alone": percentile(alone, 99),
            "legit_p50_ms_during": percentile(during, 50),
            "legit_p99_ms_during": percentile(during, 99),
            "legit_mean_ms_during": statistics.fmean(during) if during else float("nan"),
            "loadavg": load,
        }
        print(f"flood: {result['flood_requests']} requests in {args.duration:.0f} s ({counts})")
        print(
            f"audit rows for refusals: {result['audit_rows_unauthenticated']} "
            f"(accounting for {accounted} refusals; {refused} refused during the flood)"
        )
        p99_ratio = result["legit_p99_ms_during"] / result["legit_p99_ms_alone"]
        print(
            f"legitimate log-batch ({args.metrics} metrics at {args.rate:g}/s): "
            f"alone p50 {result['legit_p50_ms_alone']:.1f} ms p99 {result['legit_p99_ms_alone']:.1f} ms; "
            f"during the flood p50 {result['legit_p50_ms_during']:.1f} ms "
            f"p99 {result['legit_p99_ms_during']:.1f} ms ({p99_ratio:.2f}x)"
        )
        print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result, indent=2))
    finally:
        if args.keep_temp:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
