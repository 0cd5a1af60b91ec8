"""A/B timing of hot MLflow routes between two checkouts of modelyard: is a change free on the hot path?

Starts two `modelyard server`s, each from its own source tree (PYTHONPATH), each with a fresh SQLite
store, and times the same requests against both, interleaved (A then B, then B then A, ...), so that the
machine's load affects both alike. Prints, per route, each server's median and p90 latency and the ratio
B/A of the medians (above 1: B is slower). Nothing is imported from modelyard.

    bench/tracking/ab_route.py --a-src /tmp/before/src --b-src src --rounds 400
    bench/tracking/ab_route.py --a-src /tmp/before/src --b-src src --routes log-batch,get-history

Routes: log-batch (1,000 metrics, as the client's batches send them), log-metric, get-history (a
10,000-point history, one page), search (runs/search of 200 runs), create-update (runs/create then
runs/update FINISHED).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rest_api import API, JSON_HEADERS
from servers import Server, free_port

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ("log-batch", "log-metric", "get-history", "search", "create-update")


def _server(name: str, src: Path, tmp: Path) -> Server:
    port = free_port()
    workdir = tmp / name
    workdir.mkdir()
    argv = [sys.executable, "-m", "modelyard", "server", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--data-dir", str(workdir)]
    token_file = workdir / "user-config.json"
    env = {"MODELYARD_CONFIG": str(token_file), "PYTHONPATH": str(src)}
    return Server(name, argv, port, workdir, env=env, token_file=token_file)


class Target:
    """One server with a run to log to and a run with a long history, and the bodies sent to it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client = httpx.Client(
            base_url=server.url, headers={**server.headers, **JSON_HEADERS}, timeout=60
        )
        self.run_id = self.create_run()
        self.history_run = self.create_run()
        self.step = 0
        for start in range(0, 10_000, 1000):
            self.post("runs/log-batch", {"run_id": self.history_run, "metrics": _points(start, 1000)})
        self.experiment = self.post("experiments/create", {"name": "search"})["experiment_id"]
        for i in range(200):
            run = self.post("runs/create", {"experiment_id": self.experiment, "run_name": f"r{i}"})
            self.post("runs/log-batch", {"run_id": run["run"]["info"]["run_id"], "metrics": _points(0, 1)})

    def post(self, route: str, body: dict[str, Any]) -> Any:
        r = self.client.post(f"{API}/{route}", content=json.dumps(body))
        if r.status_code != 200:
            raise RuntimeError(f"{self.server.name} {route}: {r.status_code} {r.text[:300]}")
        return dict(r.json())

    def create_run(self) -> str:
        return str(self.post("runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"])

    def request(self, route: str) -> Callable[[], httpx.Response]:
        """The next request of ``route``, its body serialised before the clock starts."""
        if route == "log-batch":
            body = json.dumps({"run_id": self.run_id, "metrics": _points(self.step, 1000)})
            self.step += 1000
            return lambda: self.client.post(f"{API}/runs/log-batch", content=body)
        if route == "log-metric":
            point = _points(self.step, 1)[0]
            self.step += 1
            body = json.dumps({"run_id": self.run_id, **point})
            return lambda: self.client.post(f"{API}/runs/log-metric", content=body)
        if route == "get-history":
            params = {"run_id": self.history_run, "metric_key": "m0"}
            return lambda: self.client.get(f"{API}/metrics/get-history", params=params)
        if route == "search":
            body = json.dumps({"experiment_ids": [self.experiment], "max_results": 1000})
            return lambda: self.client.post(f"{API}/runs/search", content=body)
        if route == "create-update":
            create = json.dumps({"experiment_id": "0", "run_name": "x"})

            def both() -> httpx.Response:
                r = self.client.post(f"{API}/runs/create", content=create)
                run_id = r.json()["run"]["info"]["run_id"]
                done = json.dumps({"run_id": run_id, "status": "FINISHED", "end_time": 2})
                return self.client.post(f"{API}/runs/update", content=done)

            return both
        raise ValueError(route)


def _points(start: int, n: int) -> list[dict[str, Any]]:
    return [
        {"key": "m0", "value": float(i) / 7, "timestamp": 1_700_000_000_000 + i, "step": i}
        for i in range(start, start + n)
    ]


def _timed(call: Callable[[], httpx.Response]) -> float:
    t0 = time.perf_counter()
    r = call()
    elapsed = time.perf_counter() - t0
    if r.status_code != 200:
        raise RuntimeError(f"{r.status_code} {r.text[:300]}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a-src", type=Path, required=True, help="source tree of server A (the baseline)")
    p.add_argument(
        "--b-src", type=Path, default=ROOT / "src", help="source tree of server B (default: ./src)"
    )
    p.add_argument("--routes", default="log-batch", help=f"comma list of {', '.join(ROUTES)}")
    p.add_argument("--rounds", type=int, default=300, help="timed requests per route and server")
    p.add_argument("--warmup", type=int, default=20, help="untimed requests per route and server first")
    a = p.parse_args()
    routes = [r for r in a.routes.split(",") if r]
    if unknown := [r for r in routes if r not in ROUTES]:
        p.error(f"unknown routes {unknown}")
    with tempfile.TemporaryDirectory(prefix="ab-route-") as tmp:
        servers = [_server("A", a.a_src.resolve(), Path(tmp)), _server("B", a.b_src.resolve(), Path(tmp))]
        try:
            for server in servers:
                server.start(ready_timeout=120)
            targets = [Target(s) for s in servers]
            print(f"A: {a.a_src}  B: {a.b_src}  rounds: {a.rounds}  load: {os.getloadavg()[0]:.1f}")
            print(
                f"{'route':<14} {'A p50 ms':>9} {'B p50 ms':>9} {'A p90 ms':>9} {'B p90 ms':>9} {'B/A p50':>8}"
            )
            for route in routes:
                times: list[list[float]] = [[], []]
                for i in range(a.warmup + a.rounds):
                    order = (0, 1) if i % 2 == 0 else (1, 0)
                    calls = {k: targets[k].request(route) for k in order}
                    for k in order:
                        elapsed = _timed(calls[k])
                        if i >= a.warmup:
                            times[k].append(elapsed * 1000)
                p50 = [statistics.median(t) for t in times]
                p90 = [statistics.quantiles(t, n=10)[-1] for t in times]
                print(
                    f"{route:<14} {p50[0]:9.2f} {p50[1]:9.2f} {p90[0]:9.2f} {p90[1]:9.2f} {p50[1] / p50[0]:8.3f}"
                )
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
