"""Where the hot MLflow routes spend their time, in-process: the real app (middleware, auth, routes,
services, SQLite), driven as ASGI calls on one event loop, without uvicorn, the gateway process or an
HTTP client, so what is left is modelyard's own share of each request.

    PYTHONPATH=src .venv/bin/python bench/tracking/profile_routes.py --runs 1000
    PYTHONPATH=src .venv/bin/python bench/tracking/profile_routes.py --profile search --top 30

Routes (the benchmark's bodies, `bench/tracking/workloads.py`): `create-run` (runs/create +
runs/log-batch with 5 params, 5 metrics and 3 tags + runs/update, one "call" per run), `search`
(`metrics.m0 > 0.5 and params.p0 = 'v1'` ordered by `metrics.m0 DESC`), `page` (1,000 runs, no
filter), `history` (a 10,000-point metric). Prints each route's median and p90 per call and its median CPU time. With
`--profile ROUTE`, the route's calls run under cProfile (the service call runs on the event loop's
thread instead of a worker thread, so the profile sees it) and the top functions are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from rest_api import log_batch_body, search_body
from workloads import BASE_TS, FILTER, ORDER_BY, run_entities

from modelyard.api.app import create_app
from modelyard.cli.server import tune_gc
from modelyard.services import build_services
from modelyard.settings import Settings

API = "/api/2.0/mlflow"


class Asgi:
    """One ASGI request at a time against the app; returns (status, body)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.headers = [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ]

    async def call(self, method: str, path: str, body: bytes = b"", query: str = "") -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    async def post(self, route: str, body: bytes) -> dict[str, Any]:
        status, out = await self.call("POST", API + route, body)
        if status != 200:
            raise RuntimeError(f"{route}: HTTP {status}: {out[:300]!r}")
        return orjson.loads(out)  # type: ignore[no-any-return]


def create_body(exp: str, name: str, start: int) -> bytes:
    return orjson.dumps(
        {
            "experiment_id": exp,
            "user_id": "bench",
            "run_name": name,
            "start_time": start,
            "tags": [
                {"key": "mlflow.user", "value": "bench"},
                {"key": "mlflow.source.name", "value": "bench/tracking/bench.py"},
                {"key": "mlflow.source.type", "value": "LOCAL"},
            ],
        }
    )


async def full_run(api: Asgi, exp: str, i: int, seed: int, finish: bool) -> str:
    metrics, params, tags = run_entities(random.Random(seed * 1_000_003 + i), i)
    rid = str(
        (await api.post("/runs/create", create_body(exp, f"run-{i:05d}", BASE_TS + i)))["run"]["info"][
            "run_id"
        ]
    )
    await api.post("/runs/log-batch", log_batch_body(rid, metrics, params, tags))
    if finish:
        body = {"run_id": rid, "run_uuid": rid, "status": "FINISHED", "end_time": BASE_TS + i + 1000}
        await api.post("/runs/update", orjson.dumps(body))
    return rid


async def timed(
    fn: Callable[[], Awaitable[Any]], calls: int, profile: cProfile.Profile | None
) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each call (CPU: the whole process, worker threads included; on a
    busy machine the steadier number)."""
    await fn()  # warm-up
    wall, cpu = [], []
    for _ in range(calls):
        if profile is not None:
            profile.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        await fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if profile is not None:
            profile.disable()
    return wall, cpu


async def main_async(args: argparse.Namespace) -> None:
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="profile-routes-")), controller=False
    ).resolved()
    svc = build_services(settings)
    _, token = svc.identity.bootstrap_admin()
    app = create_app(settings, svc)
    tune_gc()  # as `modelyard server` does
    if args.profile:
        import modelyard.api.mlflow.runs as runs_module

        async def inline(fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
            return fn(*a, **kw)

        runs_module.run_in_threadpool = inline  # type: ignore[assignment]
    api = Asgi(app, token)
    async with app.router.lifespan_context(app):
        exp = str((await api.post("/experiments/create", b'{"name": "search"}'))["experiment_id"])
        t0 = time.perf_counter()
        for i in range(args.runs):
            await full_run(api, exp, i, 3, False)
        print(f"filled {args.runs} runs in {time.perf_counter() - t0:.1f} s", flush=True)
        hist_exp = str((await api.post("/experiments/create", b'{"name": "history"}'))["experiment_id"])
        hist_run = await full_run(api, hist_exp, 0, 5, False)
        rng = random.Random(5)
        points = [
            {"key": "loss", "value": rng.random(), "timestamp": BASE_TS + s, "step": s} for s in range(10_000)
        ]
        for off in range(0, len(points), 1000):
            await api.post("/runs/log-batch", log_batch_body(hist_run, points[off : off + 1000]))
        runs_exp = str((await api.post("/experiments/create", b'{"name": "runs"}'))["experiment_id"])
        counter = iter(range(10**9))
        search = search_body(exp, FILTER, ORDER_BY, 1000)
        page = search_body(exp, None, None, 1000)
        query = f"run_id={hist_run}&run_uuid={hist_run}&metric_key=loss"

        async def history() -> None:
            status, _ = await api.call("GET", API + "/metrics/get-history", query=query)
            assert status == 200

        routes: dict[str, Callable[[], Awaitable[Any]]] = {
            "create-run": lambda: full_run(api, runs_exp, next(counter), 2, True),
            "search": lambda: api.post("/runs/search", search),
            "page": lambda: api.post("/runs/search", page),
            "history": history,
        }
        for name in args.routes:
            # CPU time of this thread, not wall time: on a busy machine a wall-clock profile blames whatever
            # ran when the thread was preempted
            profile = cProfile.Profile(time.thread_time) if name == args.profile else None
            calls = args.calls * (10 if name == "create-run" else 1)
            wall, cpu = await timed(routes[name], calls, profile)
            p90 = sorted(wall)[min(len(wall) - 1, int(0.9 * len(wall)))]
            print(
                f"{name:<11} median {statistics.median(wall):8.2f} ms   p90 {p90:8.2f} ms   "
                f"CPU median {statistics.median(cpu):8.2f} ms   ({calls} calls)"
            )
            if profile is not None:
                if args.dump:
                    profile.dump_stats(args.dump)
                stats = pstats.Stats(profile)
                stats.sort_stats(args.sort).print_stats(args.top)
    svc.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=1000, help="runs in the searched experiment")
    p.add_argument("--calls", type=int, default=20, help="timed calls per route (create-run: 10x)")
    p.add_argument("--routes", default="create-run,search,page,history")
    p.add_argument("--profile", default=None, help="one route to run under cProfile")
    p.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime)")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--dump", default=None, help="also write the profile to this file (pstats format)")
    args = p.parse_args()
    args.routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    os.environ.setdefault("MODELYARD_LOG_LEVEL", "warning")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
