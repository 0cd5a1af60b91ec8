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
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
API = "/api/2.0/mlflow"
JSON_HEADERS = {"Content-Type": "application/json"}
BASE_TS = 1_700_000_000_000  # fixed timestamps keep the data identical across servers
FILTER = "metrics.m0 > 0.5 and params.p0 = 'v1'"
ORDER_BY = ["metrics.m0 DESC"]

# name, unit, higher-is-better, target ratio (modelyard vs mlflow, "x better"), mlflow baseline on 2 cores
WORKLOADS: list[tuple[str, str, bool, float, str]] = [
    ("ingest", "points/s", True, 25.0, "~4,800/s"),
    ("runs_per_s", "runs/s", True, 10.0, "~20/s"),
    ("filtered_search", "ms p50", False, 10.0, "~480 ms"),
    ("page_1000", "ms p50", False, 10.0, "~1.3 s"),
    ("metric_history", "ms p50", False, 20.0, "~800 ms"),
]


# --------------------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerError(RuntimeError):
    pass


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # where the server saves its first admin token (modelyard; authentication is on by default)
    token_file: Path | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float) -> float:
        """Start the server in its own process group; return seconds until it answered."""
        self.log_path = self.workdir / f"{self.name}.log"
        log = self.log_path.open("wb")
        env = {**os.environ, **self.env}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killpg reaches uvicorn/gunicorn workers too
        )
        log.close()
        deadline = t0 + ready_timeout
        last = "no answer yet"
        with httpx.Client(base_url=self.url, timeout=5.0) as c:
            while time.perf_counter() < deadline:
                if self.token_file is not None and not self.headers and self.token_file.exists():
                    saved = json.loads(self.token_file.read_text())
                    self.headers = {"Authorization": f"Bearer {saved['servers'][self.url]['token']}"}
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    raise ServerError(
                        f"{self.name} exited with {code} before it was ready:\n{self.log_tail()}"
                    )
                try:
                    r = c.get(
                        f"{API}/experiments/get-by-name",
                        params={"experiment_name": "Default"},
                        headers=self.headers,
                    )
                    if r.status_code == 200 and r.json().get("experiment", {}).get("name") == "Default":
                        return time.perf_counter() - t0
                    last = f"HTTP {r.status_code}: {r.text[:200]}"
                except (httpx.TransportError, ValueError) as e:
                    last = repr(e)
                time.sleep(0.25)
        raise ServerError(
            f"{self.name} not ready after {ready_timeout:.0f}s (last: {last}):\n{self.log_tail()}"
        )

    def log_tail(self, n: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join("    | " + line for line in lines[-n:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            if proc is not None:
                self._killpg(proc, signal.SIGKILL)  # stray workers of a dead parent
            return
        self._killpg(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._killpg(proc, signal.SIGKILL)
            proc.wait(timeout=10)
        self._killpg(proc, signal.SIGKILL)  # anything left in the group

    @staticmethod
    def _killpg(proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def mlflow_server(tmp: Path, args: argparse.Namespace) -> Server:
    exe = Path(args.mlflow_bin) if args.mlflow_bin else Path(sys.executable).parent / "mlflow"
    port = free_port()
    argv = [
        str(exe),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{tmp / 'mlflow.db'}",
        "--artifacts-destination",
        str(tmp / "art"),
        # the default host check allows localhost and private IPs; name the loopback explicitly
        "--allowed-hosts",
        f"127.0.0.1:{port},localhost:{port},127.0.0.1,localhost",
    ]
    if args.mlflow_workers:
        argv += ["--workers", str(args.mlflow_workers)]
    return Server("mlflow", argv, port, tmp)


def modelyard_server(tmp: Path, args: argparse.Namespace) -> Server:
    exe = Path(args.modelyard_bin)
    port = free_port()
    argv = [str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp)]
    token_file = tmp / "user-config.json"
    env = {"MODELYARD_CONFIG": str(token_file)}
    if args.modelyard_log_level:
        env["MODELYARD_LOG_LEVEL"] = args.modelyard_log_level
    return Server("modelyard", argv, port, tmp, env=env, token_file=token_file)


# ---------------------------------------------------------------------------------------------- client


class ApiError(RuntimeError):
    pass


class Api:
    """A thin MLflow REST client: one httpx.Client per thread (connection reuse, no shared state)."""

    def __init__(self, base_url: str, timeout: float, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.headers = {"User-Agent": "bench", **(headers or {})}
        self.timeout = timeout
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        c = getattr(self._local, "client", None)
        if c is None:
            c = httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=self.headers)
            self._local.client = c
            with self._lock:
                self._clients.append(c)
        return c

    def close(self) -> None:
        for c in self._clients:
            c.close()

    @staticmethod
    def _check(r: httpx.Response) -> httpx.Response:
        if r.status_code != 200:
            raise ApiError(f"{r.request.method} {r.request.url.path} -> HTTP {r.status_code}: {r.text[:300]}")
        return r

    def post_raw(self, path: str, body: bytes) -> httpx.Response:
        return self._check(self.client.post(API + path, content=body, headers=JSON_HEADERS))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post_raw(path, dumps(body)).json()  # type: ignore[no-any-return]

    def get_raw(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return self._check(self.client.get(API + path, params=params))

    # the calls, with bodies as mlflow.store.tracking.rest_store builds them
    def create_experiment(self, name: str) -> str:
        return str(self.post("/experiments/create", {"name": name})["experiment_id"])

    def create_run(self, experiment_id: str, run_name: str, start_time: int) -> str:
        body = {
            "experiment_id": experiment_id,
            "user_id": "bench",
            "run_name": run_name,
            "start_time": start_time,
            "tags": [
                {"key": "mlflow.user", "value": "bench"},
                {"key": "mlflow.source.name", "value": "bench/tracking/bench.py"},
                {"key": "mlflow.source.type", "value": "LOCAL"},
            ],
        }
        return str(self.post("/runs/create", body)["run"]["info"]["run_id"])

    def finish_run(self, run_id: str, end_time: int) -> None:
        self.post(
            "/runs/update", {"run_uuid": run_id, "status": "FINISHED", "end_time": end_time, "run_id": run_id}
        )

    def search_runs(self, body: bytes) -> httpx.Response:
        return self.post_raw("/runs/search", body)

    def metric_history(self, run_id: str, key: str) -> httpx.Response:
        return self.get_raw("/metrics/get-history", {"run_uuid": run_id, "metric_key": key, "run_id": run_id})


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def log_batch_body(
    run_id: str,
    metrics: list[dict[str, Any]],
    params: list[dict[str, str]] | None = None,
    tags: list[dict[str, str]] | None = None,
) -> bytes:
    body: dict[str, Any] = {"run_id": run_id, "metrics": metrics}
    if params:
        body["params"] = params
    if tags:
        body["tags"] = tags
    return dumps(body)


def search_body(
    experiment_id: str, filter_string: str | None, order_by: list[str] | None, max_results: int
) -> bytes:
    body: dict[str, Any] = {"experiment_ids": [experiment_id], "run_view_type": "ACTIVE_ONLY"}
    if filter_string:
        body["filter"] = filter_string
    body["max_results"] = max_results
    if order_by:
        body["order_by"] = order_by
    return dumps(body)


def run_in_threads(n_threads: int, items: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    if n_threads <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        return list(pool.map(fn, items))


def latencies(fn: Callable[[], Any], calls: int, warmup: int) -> tuple[list[float], Any]:
    """Call fn warmup+calls times sequentially; return the timed latencies (ms) and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out, result


def lat_summary(ms: list[float]) -> dict[str, Any]:
    s = sorted(ms)
    return {
        "p50_ms": round(statistics.median(s), 2),
        "p90_ms": round(s[min(len(s) - 1, int(0.9 * len(s)))], 2),
        "min_ms": round(s[0], 2),
        "max_ms": round(s[-1], 2),
        "mean_ms": round(statistics.fmean(s), 2),
        "calls": len(s),
    }


# ------------------------------------------------------------------------------------------- workloads


def run_entities(
    rng: random.Random, i: int
) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[dict[str, str]]]:
    """The 5 params, 5 metrics and 3 tags of the i-th run (p0 cycles v0..v3, m0..m4 uniform in [0,1))."""
    params = [{"key": "p0", "value": f"v{i % 4}"}] + [
        {"key": f"p{j}", "value": f"value-{j}-{i % 10}"} for j in range(1, 5)
    ]
    metrics = [{"key": f"m{j}", "value": rng.random(), "timestamp": BASE_TS + i, "step": 0} for j in range(5)]
    tags = [{"key": f"t{j}", "value": f"tag-{j}-{i % 7}"} for j in range(3)]
    return metrics, params, tags


def wl_ingest(api: Api, args: argparse.Namespace, checks: dict[str, Any]) -> dict[str, Any]:
    exp = api.create_experiment("bench-ingest")
    run_ids = [api.create_run(exp, f"ingest-{i:03d}", BASE_TS + i) for i in range(args.ingest_runs)]
    keys = [f"train/k{j}" for j in range(args.ingest_keys)]
    steps_per_key = args.points_per_run // len(keys)
    points_per_run = steps_per_key * len(keys)
    rng = random.Random(1)
    # Bodies are serialised before the clock starts, so the client's JSON encoding is not measured.
    bodies: list[bytes] = []
    for rid in run_ids:
        points = [
            {"key": k, "value": rng.random(), "timestamp": BASE_TS + step, "step": step}
            for step in range(steps_per_key)
            for k in keys
        ]
        for off in range(0, len(points), args.batch_size):
            bodies.append(log_batch_body(rid, points[off : off + args.batch_size]))
    # interleave runs so concurrent clients write to different runs, as parallel trainings would
    per_run = len(bodies) // len(run_ids)
    order = [bodies[r * per_run + b] for b in range(per_run) for r in range(len(run_ids))]
    t0 = time.perf_counter()
    run_in_threads(args.threads, order, lambda b: api.post_raw("/runs/log-batch", b))
    elapsed = time.perf_counter() - t0
    total = points_per_run * len(run_ids)
    # correctness: every key of the first and last run holds exactly steps_per_key points
    counts = {}
    for rid, tag in ((run_ids[0], "first"), (run_ids[-1], "last")):
        for k in keys:
            counts[f"{tag}:{k}"] = len(api.metric_history(rid, k).json().get("metrics", []))
    checks["ingest_history_counts"] = counts
    bad = {k: v for k, v in counts.items() if v != steps_per_key}
    return {
        "value": round(total / elapsed, 1),
        "unit": "points/s",
        "points": total,
        "runs": len(run_ids),
        "keys": len(keys),
        "batch_size": args.batch_size,
        "batches": len(order),
        "threads": args.threads,
        "seconds": round(elapsed, 3),
        **({"error_check": f"history counts != {steps_per_key}: {bad}"} if bad else {}),
    }


def create_full_run(api: Api, exp: str, i: int, rng_seed: int, finish: bool) -> str:
    metrics, params, tags = run_entities(random.Random(rng_seed * 1_000_003 + i), i)
    rid = api.create_run(exp, f"run-{i:05d}", BASE_TS + i)
    api.post_raw("/runs/log-batch", log_batch_body(rid, metrics, params, tags))
    if finish:
        api.finish_run(rid, BASE_TS + i + 1000)
    return rid


def wl_runs(api: Api, args: argparse.Namespace, checks: dict[str, Any]) -> dict[str, Any]:
    exp = api.create_experiment("bench-runs")
    t0 = time.perf_counter()
    run_in_threads(
        args.runs_threads, list(range(args.create_runs)), lambda i: create_full_run(api, exp, i, 2, True)
    )
    elapsed = time.perf_counter() - t0
    r = api.search_runs(search_body(exp, "attributes.status = 'FINISHED'", None, args.create_runs)).json()
    n = len(r.get("runs", []))
    checks["runs_finished_count"] = n
    return {
        "value": round(args.create_runs / elapsed, 2),
        "unit": "runs/s",
        "runs": args.create_runs,
        "threads": args.runs_threads,
        "calls_per_run": 3,
        "seconds": round(elapsed, 3),
        **(
            {"error_check": f"{n} FINISHED runs found, expected {args.create_runs}"}
            if n != args.create_runs
            else {}
        ),
    }


def fill_search_experiment(api: Api, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    exp = api.create_experiment("bench-search")
    t0 = time.perf_counter()
    # the run-creation path minus runs/update (status does not matter to the searches)
    run_in_threads(
        args.threads, list(range(args.search_runs)), lambda i: create_full_run(api, exp, i, 3, False)
    )
    elapsed = time.perf_counter() - t0
    return exp, {
        "runs": args.search_runs,
        "seconds": round(elapsed, 2),
        "runs_per_s": round(args.search_runs / elapsed, 1),
    }


def run_names(resp: dict[str, Any]) -> list[str]:
    return [r["info"].get("run_name", "") for r in resp.get("runs", [])]


def digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def expected_filtered(args: argparse.Namespace) -> list[str]:
    """What the filtered search must return, computed from the same seeded data."""
    rows = []
    for i in range(args.search_runs):
        metrics, params, _ = run_entities(random.Random(3 * 1_000_003 + i), i)
        m0 = metrics[0]["value"]
        if m0 > 0.5 and params[0]["value"] == "v1":
            rows.append((m0, f"run-{i:05d}"))
    rows.sort(key=lambda x: -x[0])
    return [name for _, name in rows[: args.max_results]]


def wl_filtered(api: Api, args: argparse.Namespace, exp: str, checks: dict[str, Any]) -> dict[str, Any]:
    body = search_body(exp, FILTER, ORDER_BY, args.max_results)
    ms, resp = latencies(lambda: api.search_runs(body), args.search_calls, args.warmup)
    data = resp.json()
    names = run_names(data)
    expected = expected_filtered(args)
    checks["filtered_count"] = len(names)
    checks["filtered_digest"] = digest(names)
    out = {
        "value": lat_summary(ms)["p50_ms"],
        "unit": "ms p50",
        **lat_summary(ms),
        "runs_in_experiment": args.search_runs,
        "result_count": len(names),
        "response_bytes": len(resp.content),
    }
    if names != expected:
        out["error_check"] = f"got {len(names)} runs, expected {len(expected)} in m0-descending order"
    return out


def wl_page(api: Api, args: argparse.Namespace, exp: str, checks: dict[str, Any]) -> dict[str, Any]:
    body = search_body(exp, None, None, args.max_results)
    ms, resp = latencies(lambda: api.search_runs(body), args.search_calls, args.warmup)
    data = resp.json()
    n = len(data.get("runs", []))
    want = min(args.max_results, args.search_runs)
    checks["page_count"] = n
    checks["page_has_next_token"] = bool(data.get("next_page_token"))
    runs = data.get("runs", [])
    complete = all(
        len(r.get("data", {}).get("params", [])) == 5 and len(r.get("data", {}).get("metrics", [])) == 5
        for r in runs
    )
    checks["page_runs_complete"] = complete
    out = {
        "value": lat_summary(ms)["p50_ms"],
        "unit": "ms p50",
        **lat_summary(ms),
        "result_count": n,
        "response_bytes": len(resp.content),
    }
    if n != want or not complete:
        out["error_check"] = f"got {n} runs (want {want}), every run with 5 params and 5 metrics: {complete}"
    return out


def wl_history(api: Api, args: argparse.Namespace, checks: dict[str, Any]) -> dict[str, Any]:
    exp = api.create_experiment("bench-history")
    rid = api.create_run(exp, "history", BASE_TS)
    rng = random.Random(5)
    points = [
        {"key": "loss", "value": rng.random(), "timestamp": BASE_TS + s, "step": s}
        for s in range(args.history_points)
    ]
    for off in range(0, len(points), args.batch_size):
        api.post_raw("/runs/log-batch", log_batch_body(rid, points[off : off + args.batch_size]))
    ms, resp = latencies(lambda: api.metric_history(rid, "loss"), args.history_calls, args.warmup)
    got = resp.json().get("metrics", [])
    checks["history_count"] = len(got)
    steps_ok = sorted(m.get("step", 0) for m in got) == list(range(args.history_points))
    out = {
        "value": lat_summary(ms)["p50_ms"],
        "unit": "ms p50",
        **lat_summary(ms),
        "points": len(got),
        "response_bytes": len(resp.content),
    }
    if len(got) != args.history_points or not steps_ok:
        out["error_check"] = (
            f"{len(got)} points returned, want {args.history_points} (steps intact: {steps_ok})"
        )
    return out


def warm_up(api: Api, args: argparse.Namespace) -> None:
    """Untimed traffic through every endpoint the workloads use (lazy imports, caches, connections)."""
    exp = api.create_experiment("bench-warmup")
    run_in_threads(
        args.threads, list(range(2 * args.threads)), lambda i: create_full_run(api, exp, i, 9, True)
    )
    rid = api.create_run(exp, "warmup-batch", BASE_TS)
    points = [{"key": "w", "value": 0.5, "timestamp": BASE_TS + s, "step": s} for s in range(args.batch_size)]
    api.post_raw("/runs/log-batch", log_batch_body(rid, points))
    api.metric_history(rid, "w")
    api.search_runs(search_body(exp, FILTER, ORDER_BY, args.max_results))


def bench_server(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "url": server.url,
        "argv": server.argv,
        "workloads": {},
        "checks": {},
        "errors": {},
    }
    print(
        f"\n== {server.name}: starting ({' '.join(server.argv[1:3])} ... on port {server.port})", flush=True
    )
    result["startup_s"] = round(server.start(args.ready_timeout), 2)
    load = os.getloadavg()
    print(f"   ready in {result['startup_s']} s (load average {load[0]:.1f}, {load[1]:.1f})", flush=True)
    api = Api(server.url, args.request_timeout, server.headers)
    checks = result["checks"]
    result["loadavg_before"] = list(os.getloadavg())
    if args.warmup:
        try:
            warm_up(api, args)
        except (ApiError, httpx.HTTPError, KeyError, ValueError) as e:
            print(f"   warm-up failed (continuing): {str(e)[:300]}", flush=True)

    def attempt(name: str, fn: Callable[[], dict[str, Any]]) -> None:
        if name not in args.workloads:
            return
        print(f"   {name} ...", end=" ", flush=True)
        try:
            r = fn()
        except (ApiError, httpx.HTTPError, KeyError, ValueError) as e:
            result["errors"][name] = f"{type(e).__name__}: {e}"
            print(f"FAILED: {str(e)[:300]}", flush=True)
            return
        result["workloads"][name] = r
        print(
            f"{r['value']:,} {r['unit']}"
            + (f"  CHECK FAILED: {r['error_check']}" if "error_check" in r else ""),
            flush=True,
        )

    try:
        attempt("ingest", lambda: wl_ingest(api, args, checks))
        attempt("runs_per_s", lambda: wl_runs(api, args, checks))
        exp = None
        if {"filtered_search", "page_1000"} & set(args.workloads):
            print(f"   filling {args.search_runs} runs for the searches ...", end=" ", flush=True)
            try:
                exp, fill = fill_search_experiment(api, args)
                result["search_fill"] = fill
                print(
                    f"{fill['seconds']} s ({fill['runs_per_s']} runs/s with {args.threads} threads)",
                    flush=True,
                )
            except (ApiError, httpx.HTTPError, KeyError, ValueError) as e:
                result["errors"]["search_fill"] = f"{type(e).__name__}: {e}"
                print(f"FAILED: {str(e)[:300]}", flush=True)
        if exp is not None:
            attempt("filtered_search", lambda: wl_filtered(api, args, exp, checks))
            attempt("page_1000", lambda: wl_page(api, args, exp, checks))
        attempt("metric_history", lambda: wl_history(api, args, checks))
    finally:
        api.close()
        result["loadavg_after"] = list(os.getloadavg())
    return result


# ------------------------------------------------------------------------------------------------ report


def ratio(name: str, results: dict[str, Any]) -> float | None:
    """How many times better modelyard is than mlflow (throughput ratio, or latency speedup)."""
    try:
        my = results["modelyard"]["workloads"][name]["value"]
        ml = results["mlflow"]["workloads"][name]["value"]
    except KeyError:
        return None
    higher = next(w[2] for w in WORKLOADS if w[0] == name)
    if not my or not ml:
        return None
    return my / ml if higher else ml / my


def fmt_value(res: dict[str, Any] | None, name: str) -> str:
    if res is None:
        return "-"
    if name in res.get("errors", {}):
        return "ERROR"
    w = res["workloads"].get(name)
    if w is None:
        return "-"
    v = w["value"]
    return f"{v:,.0f}" if v >= 100 else f"{v:,.2f}"


CHECKS_OF = {
    "ingest": ["ingest_history_counts"],
    "runs_per_s": ["runs_finished_count"],
    "filtered_search": ["filtered_count", "filtered_digest"],
    "page_1000": ["page_count", "page_has_next_token", "page_runs_complete"],
    "metric_history": ["history_count"],
}


def collect_warnings(results: dict[str, Any]) -> dict[str, list[str]]:
    """Per workload (or "startup"/"search_fill"): failed self-checks, errors and cross-server mismatches."""
    out: dict[str, list[str]] = {}
    for server, res in results.items():
        for name, w in res["workloads"].items():
            if "error_check" in w:
                out.setdefault(name, []).append(f"{server} {name}: {w['error_check']}")
        for name, err in res.get("errors", {}).items():
            out.setdefault(name, []).append(f"{server} {name} failed: {err[:300]}")
    ml, my = results.get("mlflow"), results.get("modelyard")
    if ml is not None and my is not None:
        for name, keys in CHECKS_OF.items():
            for key in keys:
                a, b = ml["checks"].get(key), my["checks"].get(key)
                if a is not None and b is not None and a != b:
                    out.setdefault(name, []).append(f"mismatch {key}: mlflow={a} modelyard={b}")
    return out


def report(results: dict[str, Any], args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    ratios: dict[str, Any] = {}
    warnings = collect_warnings(results)
    ml, my = results.get("mlflow"), results.get("modelyard")
    header = (
        f"{'workload':<17} {'unit':<9} {'mlflow':>10} {'modelyard':>10} {'my/ml':>8} {'target':>8}  "
        f"{'met':<4} {'check':<6} mlflow baseline"
    )
    print("\n" + header)
    print("-" * len(header))
    for name, unit, higher, target, baseline in WORKLOADS:
        if name not in args.workloads:
            continue
        r = ratio(name, results)
        rs, met = ("-", "") if r is None else (f"{r:,.1f}x", "yes" if r >= target else "no")
        tgt = f">={target:g}x" + ("" if higher else "*")
        measured = any(name in res["workloads"] for res in results.values())
        check = "WARN" if warnings.get(name) else ("ok" if measured else "-")
        print(
            f"{name:<17} {unit:<9} {fmt_value(ml, name):>10} {fmt_value(my, name):>10} {rs:>8} {tgt:>8}  "
            f"{met:<4} {check:<6} {baseline}"
        )
        if r is not None:
            ratios[name] = {"x_better": round(r, 2), "target": target, "met": r >= target}
    print("  * latency rows: my/ml is the speedup, mlflow p50 / modelyard p50 (higher = modelyard faster)")
    flat = [w for ws in warnings.values() for w in ws]
    for w in flat:
        print(f"WARNING  {w}")
    if not flat:
        both = "across servers and " if ml is not None and my is not None else ""
        print(f"checks: all results equal {both}to the expected answers")
    return flat, ratios


# -------------------------------------------------------------------------------------------------- main


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
        type=int,
        default=None,
        help="runs in the search experiment (default 5000, quick 1000)",
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
    a.search_runs = a.search_runs or (1000 if quick else 5000)
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    factories = {"mlflow": mlflow_server, "modelyard": modelyard_server}
    results: dict[str, Any] = {}
    failed_start: list[str] = []
    started = time.time()
    print(
        f"tracking bench: servers={','.join(args.servers)} quick={args.quick} threads={args.threads} "
        f"ingest={args.ingest_runs}x{args.points_per_run} runs={args.create_runs} search_runs={args.search_runs} "
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
