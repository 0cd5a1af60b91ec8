"""Web UI benchmark: the data the UI's pages fetch, from a real `modelyard server` over HTTP, on the data
dir that bench/ui/generate.py made; and MLflow 3.17's server for the same data where it has an
equivalent (its UI's sampled chart call, `get-history-bulk-interval`, and `get-history`).

Each measure is a sequence of calls on one keep-alive connection, after warm-up calls: p50 and p95
of the client's wall time (request sent to answer parsed), and the answer's size. The mlflow server
gets the first `--mlflow-points` points of the long history (the same seeded values; default 100,000:
its log-batch takes seconds per 1,000 points here, so a million would take an hour) loaded once
through `runs/log-batch` into `<data dir>/mlflow/`, reused by later runs.

    .venv/bin/python bench/ui/bench.py /tmp/ui-bench                 # modelyard and mlflow
    .venv/bin/python bench/ui/bench.py /tmp/ui-bench --servers modelyard --repeat 50

Adding a measure (the runs table, the run page): write a function of a `Bench` that returns
`Result`s (`bench.time(...)` measures one request) and decorate it with `@measure("name")`; it then
runs with the others, is listed by `--measures`, and lands in the table and the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "tracking"))
sys.path.insert(0, str(ROOT / "bench" / "ui"))

from generate import MANIFEST, T0, loss  # noqa: E402
from servers import mlflow_server  # noqa: E402
from session import login, modelyard_server  # noqa: E402

API = "/api/2.0/mlflow"
UI = "/ui/data"


@dataclass
class Result:
    server: str
    name: str
    what: str
    calls: int
    p50_ms: float
    p95_ms: float
    bytes: int
    check: str = ""


@dataclass
class Bench:
    """What a measure needs: the servers' clients, the generated data's ids, the repeat counts."""

    manifest: dict[str, Any]
    repeat: int
    warmup: int
    modelyard: httpx.Client | None = None
    mlflow: httpx.Client | None = None
    mlflow_run: str | None = None
    mlflow_points: int = 0
    table_runs: list[str] = field(default_factory=list)

    def time(
        self,
        client: httpx.Client,
        server: str,
        name: str,
        what: str,
        path: str,
        params: Any = None,
        *,
        repeat: int | None = None,
        check: Callable[[Any], str] | None = None,
    ) -> Result:
        """GET ``path`` ``warmup`` times, then ``repeat`` times timed."""
        repeat = repeat or self.repeat
        body: Any = None
        size = 0
        times = []
        for i in range(self.warmup + repeat):
            t0 = time.perf_counter()
            r = client.get(path, params=params)
            body = r.json()
            elapsed = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"{server} {path}: HTTP {r.status_code} {r.text[:300]}")
            if i >= self.warmup:
                times.append(elapsed * 1000)
                size = len(r.content)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        result = Result(server, name, what, repeat, statistics.median(times), p95, size)
        result.check = check(body) if check else ""
        return result


MEASURES: dict[str, Callable[[Bench], list[Result]]] = {}


def measure(name: str) -> Callable[[Callable[[Bench], list[Result]]], Callable[[Bench], list[Result]]]:
    def register(fn: Callable[[Bench], list[Result]]) -> Callable[[Bench], list[Result]]:
        MEASURES[name] = fn
        return fn

    return register


def _series_check(body: Any) -> str:
    return f"{len(body['x'])} of {body['total']:,} points, {body['method']}"


@measure("chart")
def chart(b: Bench) -> list[Result]:
    """One metric's chart data: the 1,000,000-point history whole, zoomed, by time; the history logged
    one point per call; and the MLflow-compatible sampled call on the same history."""
    assert b.modelyard is not None
    m = b.manifest
    run, n = m["long_run"], m["long_points"]
    one = {"run_id": run, "key": "loss", "points": 2000}
    out = [
        b.time(b.modelyard, "modelyard", "chart_full", f"series, {n:,} points, budget 2000", f"{UI}/series",
               one, check=_series_check),
        b.time(b.modelyard, "modelyard", "chart_zoom_10pct", "series, a 10% zoom", f"{UI}/series",
               {**one, "min": n * 0.45, "max": n * 0.55 - 1}, check=_series_check),
        b.time(b.modelyard, "modelyard", "chart_zoom_detail", "series, a 1,000-step zoom", f"{UI}/series",
               {**one, "min": n // 2, "max": n // 2 + 999}, check=_series_check),
        b.time(b.modelyard, "modelyard", "chart_wall", "series, wall-clock x axis", f"{UI}/series",
               {**one, "x": "wall"}, check=_series_check),
        b.time(b.modelyard, "modelyard", "chart_single_points",
               f"series, {m['single_points']:,} points logged one per call", f"{UI}/series",
               {**one, "run_id": m["single_run"]}, check=_series_check),
        b.time(b.modelyard, "modelyard", "chart_100k", f"series, {m['medium_points']:,} points, budget 2000",
               f"{UI}/series", {**one, "run_id": m["medium_runs"][0]}, check=_series_check),
    ]  # fmt: skip
    for label, run_id, points in (("1m", run, n), ("100k", m["medium_runs"][0], m["medium_points"])):
        out.append(
            b.time(b.modelyard, "modelyard", f"bulk_interval_{label}",
                   f"MLflow API get-history-bulk-interval, {points:,} points, 320",
                   f"{API}/metrics/get-history-bulk-interval",
                   {"run_ids": run_id, "metric_key": "loss", "max_results": 320},
                   repeat=max(3, b.repeat // 5), check=lambda body: f"{len(body.get('metrics', []))} points")
        )  # fmt: skip
    return out
    return out


@measure("compare")
def compare(b: Bench) -> list[Result]:
    """The compare page's calls: the long histories overlaid, 200 runs x 3 metrics, their summaries."""
    assert b.modelyard is not None
    m = b.manifest
    long_runs = [m["long_run"], *m["medium_runs"]]
    many = [("run_id", r) for r in long_runs] + [("key", "loss"), ("points", "2000")]
    table = [("run_id", r) for r in b.table_runs[:200]]
    keys = [("key", k) for k in ("m00", "m01", "m02")]
    return [
        b.time(b.modelyard, "modelyard", "series_many_long", f"{len(long_runs)} long histories, one call",
               f"{UI}/series/many", many, check=lambda body: f"{sum(s['total'] for s in body['series']):,} points"),
        b.time(b.modelyard, "modelyard", "series_many_200x3", "200 runs x 3 metrics, one call",
               f"{UI}/series/many", table + keys, check=lambda body: f"{len(body['series'])} series"),
        b.time(b.modelyard, "modelyard", "summary_200x3", "latest/min/max, 200 runs x 3 metrics",
               f"{UI}/metric-summary", table + keys, check=lambda body: f"{len(body['metrics'])} rows"),
        b.time(b.modelyard, "modelyard", "summary_run", "latest/min/max, every metric of one run",
               f"{UI}/metric-summary", [table[0]], check=lambda body: f"{len(body['metrics'])} rows"),
    ]  # fmt: skip


@measure("columns")
def columns(b: Bench) -> list[Result]:
    """The runs table's column chooser and autocomplete: the keys of the 100,000 runs' experiment."""
    assert b.modelyard is not None
    m = b.manifest
    return [
        b.time(b.modelyard, "modelyard", "columns", f"keys of {m['runs']:,} runs", f"{UI}/columns",
               {"experiment_id": m["experiment_id"]},
               check=lambda body: f"{len(body['params'])} params, {len(body['metrics'])} metrics, "
               f"{len(body['tags'])} tags"),
        b.time(b.modelyard, "modelyard", "filter_check", "a filter with a mistake", f"{UI}/filter-check",
               {"filter": "metrics.m00 > 0.5 and params.p00 = 7"},
               check=lambda body: f"error at {body['error']['start']}"),
    ]  # fmt: skip


@measure("mlflow_chart")
def mlflow_chart(b: Bench) -> list[Result]:
    """MLflow's server on the same history: its UI's sampled chart call, and the whole history."""
    if b.mlflow is None:
        return []
    n = b.mlflow_points
    sampled = {"run_ids": b.mlflow_run, "metric_key": "loss"}
    return [
        b.time(b.mlflow, "mlflow", "bulk_interval_320", f"get-history-bulk-interval, {n:,} points, 320",
               f"{API}/metrics/get-history-bulk-interval", {**sampled, "max_results": 320},
               check=lambda body: f"{len(body.get('metrics', []))} points"),
        b.time(b.mlflow, "mlflow", "get_history_full", f"get-history, all {n:,} points",
               f"{API}/metrics/get-history", {"run_id": b.mlflow_run, "metric_key": "loss"},
               repeat=max(3, b.repeat // 10), check=lambda body: f"{len(body.get('metrics', [])):,} points"),
    ]  # fmt: skip


# ---- servers and data ------------------------------------------------------------------------------


def load_mlflow(b: Bench, client: httpx.Client, state: Path, points: int) -> None:
    """The long history's first ``points`` points (the generator's values) into mlflow, once."""
    if state.exists():
        saved = json.loads(state.read_text())
        if saved["points"] == points:
            b.mlflow_run, b.mlflow_points = saved["run_id"], points
            print(f"mlflow already holds {points:,} points (run {b.mlflow_run})")
            return
        sys.exit(f"{state} holds {saved['points']:,} points, not {points:,}: delete {state.parent} first.")
    eid = client.post(f"{API}/experiments/create", json={"name": "ui-bench"}).json()["experiment_id"]
    run = client.post(f"{API}/runs/create", json={"experiment_id": eid, "start_time": T0}).json()["run"]
    run_id = run["info"]["run_id"]
    rng = random.Random("history-long")  # the generator's seed for this history
    n = b.manifest["long_points"]
    t0 = last = time.perf_counter()
    for first in range(0, points, 1000):
        metrics = [
            {"key": "loss", "value": loss(rng, s, n), "timestamp": T0 + 10 * s, "step": s}
            for s in range(first, min(first + 1000, points))
        ]
        for attempt in range(3):  # a worker of mlflow's may die under load; its batch is sent again
            try:
                r = client.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
                time.sleep(5)
        r.raise_for_status()
        if time.perf_counter() - last > 10:
            last = time.perf_counter()
            done = first + len(metrics)
            print(f"  mlflow: {done:,}/{points:,} points ({done / (last - t0):,.0f}/s)", flush=True)
    print(f"  mlflow: {points:,} points loaded in {time.perf_counter() - t0:,.0f} s")
    state.write_text(json.dumps({"run_id": run_id, "points": points}))
    b.mlflow_run, b.mlflow_points = run_id, points


def table_run_ids(client: httpx.Client, experiment_id: str) -> list[str]:
    body = {
        "experiment_ids": [experiment_id],
        "max_results": 200,
        "filter": "attributes.run_name LIKE 'run-%'",
    }
    r = client.post(f"{API}/runs/search", json=body)
    r.raise_for_status()
    return [run["info"]["run_id"] for run in r.json()["runs"]]


def print_table(results: list[Result]) -> None:
    print(f"\n{'server':<10} {'measure':<22} {'p50 ms':>9} {'p95 ms':>9} {'KB':>8}  what / check")
    for r in results:
        print(f"{r.server:<10} {r.name:<22} {r.p50_ms:>9.1f} {r.p95_ms:>9.1f} {r.bytes / 1024:>8.1f}  "
              f"{r.what} / {r.check}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", type=Path)
    p.add_argument("--servers", default="modelyard,mlflow")
    p.add_argument("--measures", default=",".join(MEASURES), help=f"comma list of {', '.join(MEASURES)}")
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument(
        "--mlflow-points",
        type=int,
        default=100_000,
        help="points of the long history loaded into mlflow (its log-batch takes seconds per 1,000 here)",
    )
    p.add_argument("--mlflow-bin", default=str(Path(sys.executable).parent / "mlflow"))
    p.add_argument("--mlflow-workers", type=int, default=None)
    p.add_argument("--json-out", type=Path, default=None)
    args = p.parse_args()
    manifest = json.loads((args.data_dir / MANIFEST).read_text())
    servers, wanted = set(args.servers.split(",")), args.measures.split(",")
    load_before = os.getloadavg()
    b = Bench(manifest, args.repeat, args.warmup)
    results: list[Result] = []
    logs = args.data_dir / "bench-logs"
    logs.mkdir(exist_ok=True)

    if "modelyard" in servers:
        server = modelyard_server(args.data_dir, manifest["token"], logs)
        print(f"modelyard server ready in {server.start(120):.1f} s")
        try:
            with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as c:
                login(c, manifest["token"])  # /ui/data takes the session cookie, not the header
                b.modelyard = c
                b.table_runs = table_run_ids(c, manifest["experiment_id"])
                for name in wanted:
                    if not name.startswith("mlflow"):
                        results.extend(MEASURES[name](b))
        finally:
            server.stop()
            b.modelyard = None
    if "mlflow" in servers and any(name.startswith("mlflow") for name in wanted):
        mlflow_dir = args.data_dir / "mlflow"
        mlflow_dir.mkdir(exist_ok=True)
        ns = argparse.Namespace(mlflow_bin=args.mlflow_bin, mlflow_workers=args.mlflow_workers)
        server = mlflow_server(mlflow_dir, ns)
        print(f"mlflow server ready in {server.start(180):.1f} s")
        try:
            with httpx.Client(base_url=server.url, timeout=600) as c:
                load_mlflow(b, c, mlflow_dir / "loaded.json", args.mlflow_points)
                b.mlflow = c
                for name in wanted:
                    if name.startswith("mlflow"):
                        results.extend(MEASURES[name](b))
        finally:
            server.stop()
    print_table(results)
    print(
        f"\nload average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)"
    )
    out = args.json_out or ROOT / "bench" / "results" / f"ui-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "manifest": {k: v for k, v in manifest.items() if k != "token"},
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_before": load_before,
                    "load_after": os.getloadavg(),
                },
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
