"""The workloads (WORKLOADS, with their targets) and the load they put on one server.

Owns the seeded data every workload writes, the timed part of each workload, the self-check of its
answer against what the seeded data says it must be (recorded in `checks` for the cross-server
comparison), the untimed warm-up, and bench_server, which starts one server and runs the selected
workloads against it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
from rest_api import Api, ApiError, log_batch_body, search_body
from servers import Server

BASE_TS = 1_700_000_000_000  # fixed timestamps keep the data identical across servers
FILTER = "metrics.m0 > 0.5 and params.p0 = 'v1'"
ORDER_BY = ["metrics.m0 DESC"]

# name, unit, higher-is-better, target ratio (modelyard vs mlflow, "x better"), mlflow baseline on 2 cores;
# the searches run once per scale of --search-runs, recorded as scaled(name, runs)
WORKLOADS: list[tuple[str, str, bool, float, str]] = [
    ("ingest", "points/s", True, 25.0, "~4,800/s"),
    ("runs_per_s", "runs/s", True, 10.0, "~20/s"),
    ("filtered_search", "ms p50", False, 10.0, "~480 ms"),
    ("page_1000", "ms p50", False, 10.0, "~1.3 s"),
    ("metric_history", "ms p50", False, 20.0, "~800 ms"),
]


SEARCHES = ("filtered_search", "page_1000")


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


def fill_search_experiment(
    api: Api, args: argparse.Namespace, exp: str, start: int, stop: int
) -> dict[str, Any]:
    """Runs start..stop-1 of the search experiment (a larger scale adds to the runs of the smaller)."""
    t0 = time.perf_counter()
    # the run-creation path minus runs/update (status does not matter to the searches)
    run_in_threads(args.threads, list(range(start, stop)), lambda i: create_full_run(api, exp, i, 3, False))
    elapsed = time.perf_counter() - t0
    return {
        "runs": stop,
        "added": stop - start,
        "seconds": round(elapsed, 2),
        "runs_per_s": round((stop - start) / elapsed, 1),
    }


def scaled(name: str, runs: int) -> str:
    """The name a search workload is recorded under at one scale: ``filtered_search@5000``."""
    return f"{name}@{runs}"


def base_name(name: str) -> str:
    return name.split("@", 1)[0]


def run_names(resp: dict[str, Any]) -> list[str]:
    return [r["info"].get("run_name", "") for r in resp.get("runs", [])]


def digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def expected_filtered(args: argparse.Namespace, runs: int) -> list[str]:
    """What the filtered search over ``runs`` runs must return, computed from the same seeded data."""
    rows = []
    for i in range(runs):
        metrics, params, _ = run_entities(random.Random(3 * 1_000_003 + i), i)
        m0 = metrics[0]["value"]
        if m0 > 0.5 and params[0]["value"] == "v1":
            rows.append((m0, f"run-{i:05d}"))
    rows.sort(key=lambda x: -x[0])
    return [name for _, name in rows[: args.max_results]]


def wl_filtered(
    api: Api, args: argparse.Namespace, exp: str, runs: int, checks: dict[str, Any]
) -> dict[str, Any]:
    body = search_body(exp, FILTER, ORDER_BY, args.max_results)
    ms, resp = latencies(lambda: api.search_runs(body), args.search_calls, args.warmup)
    data = resp.json()
    names = run_names(data)
    expected = expected_filtered(args, runs)
    checks[scaled("filtered_count", runs)] = len(names)
    checks[scaled("filtered_digest", runs)] = digest(names)
    out = {
        "value": lat_summary(ms)["p50_ms"],
        "unit": "ms p50",
        **lat_summary(ms),
        "runs_in_experiment": runs,
        "result_count": len(names),
        "response_bytes": len(resp.content),
    }
    if names != expected:
        out["error_check"] = f"got {len(names)} runs, expected {len(expected)} in m0-descending order"
    return out


def wl_page(
    api: Api, args: argparse.Namespace, exp: str, runs: int, checks: dict[str, Any]
) -> dict[str, Any]:
    body = search_body(exp, None, None, args.max_results)
    ms, resp = latencies(lambda: api.search_runs(body), args.search_calls, args.warmup)
    data = resp.json()
    page = data.get("runs", [])
    n = len(page)
    want = min(args.max_results, runs)
    checks[scaled("page_count", runs)] = n
    checks[scaled("page_has_next_token", runs)] = bool(data.get("next_page_token"))
    # the newest runs first (start_time descending): the names of the last `want` runs, in reverse
    checks[scaled("page_digest", runs)] = digest(run_names(data))
    in_order = run_names(data) == [f"run-{i:05d}" for i in range(runs - 1, runs - 1 - want, -1)]
    complete = all(
        len(r.get("data", {}).get("params", [])) == 5 and len(r.get("data", {}).get("metrics", [])) == 5
        for r in page
    )
    checks[scaled("page_runs_complete", runs)] = complete
    out = {
        "value": lat_summary(ms)["p50_ms"],
        "unit": "ms p50",
        **lat_summary(ms),
        "runs_in_experiment": runs,
        "result_count": n,
        "response_bytes": len(resp.content),
    }
    if n != want or not complete or not in_order:
        out["error_check"] = (
            f"got {n} runs (want {want}), newest first: {in_order}, every run with 5 params and 5 metrics: "
            f"{complete}"
        )
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


def search_scales(
    api: Api,
    args: argparse.Namespace,
    result: dict[str, Any],
    attempt: Callable[[str, Callable[[], dict[str, Any]]], None],
) -> None:
    """The searches at each scale of ``--search-runs``, smallest first: the experiment is filled up to
    a scale, searched, then filled on to the next scale (the first runs stay the same)."""
    exp = api.create_experiment("bench-search")
    filled = 0
    for runs in args.search_runs:
        print(f"   filling the search experiment to {runs} runs ...", end=" ", flush=True)
        try:
            fill = fill_search_experiment(api, args, exp, filled, runs)
        except (ApiError, httpx.HTTPError, KeyError, ValueError) as e:
            result["errors"][scaled("search_fill", runs)] = f"{type(e).__name__}: {e}"
            print(f"FAILED: {str(e)[:300]}", flush=True)
            return
        filled = runs
        result.setdefault("search_fill", {})[str(runs)] = fill
        print(f"{fill['seconds']} s ({fill['runs_per_s']} runs/s with {args.threads} threads)", flush=True)
        attempt(scaled("filtered_search", runs), partial(wl_filtered, api, args, exp, runs, result["checks"]))
        attempt(scaled("page_1000", runs), partial(wl_page, api, args, exp, runs, result["checks"]))


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
        if base_name(name) not in args.workloads:
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
        if set(SEARCHES) & set(args.workloads):
            search_scales(api, args, result, attempt)
        attempt("metric_history", lambda: wl_history(api, args, checks))
    finally:
        api.close()
        result["loadavg_after"] = list(os.getloadavg())
    return result
