"""The compare page at scale (issue 14 item 5), timed against a real `modelyard server` over HTTP.

The data: 200 runs in one experiment ("ui-bench-compare"), each with 20 params, 50 metrics (three of
them, "loss", "accuracy" and "grad_norm", with 1,000 steps; the others one point) and two tags, logged
through the service layer in-process before the server starts, once per data dir (the run ids are kept
in ``<data dir>/ui-compare.json``). The data dir may be bench/ui/generate.py's (its admin token is
reused) or a new one.

What is timed (p50 and p95 of the client's wall time, request sent to answer read, on one keep-alive
connection after warm-up calls), as the page's browser asks for it:

* ``page``: ``GET /compare?runs=<200 ids>``: the diff table (200 columns, 77 rows), the choosers and
  the page's data for the scatter and the parallel coordinates;
* ``series_3``: ``GET /ui/data/series/many``, the 200 runs x 3 metrics in one call, with the point
  budget the page asks for a chart 1,240 px wide (2,480; shared, 833 per series: downsampled);
* ``series_1``: the same for the one metric the page draws by default;
* ``series_zoom``: the 3 metrics over a 10% zoom (steps 450-549: every point, not downsampled).

And the page's weight: its JavaScript files, each and in all, gzipped at level 6 (what a compressing
proxy sends), and its HTML, raw and gzipped.

    .venv/bin/python bench/ui/compare.py /tmp/ui-bench                # adds the runs on the first call
    .venv/bin/python bench/ui/compare.py /tmp/ui-compare --repeat 20 --json-out compare.json

``measure(client, manifest, repeat=..., warmup=...)`` takes a logged-in client and returns the rows, for
bench/ui/bench.py to call.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "tracking"))

from session import login, modelyard_server  # noqa: E402

from modelyard.domain.tracking import Metric  # noqa: E402
from modelyard.services import build_services  # noqa: E402
from modelyard.services.container import bootstrap_admin  # noqa: E402
from modelyard.settings import Settings  # noqa: E402

MANIFEST = "ui-compare.json"
GENERATOR_MANIFEST = "ui-bench.json"  # bench/ui/generate.py's: its admin token is reused
EXPERIMENT = "ui-bench-compare"
RUNS, PARAMS, METRICS, STEPS = 200, 20, 50, 1000
HISTORIES = ("loss", "accuracy", "grad_norm")
CHART_POINTS = 2480  # what compare-lines.js asks for a chart 1,240 px wide: twice its width
T0 = 1_700_000_000_000
RUN_COLUMN = b'<th scope="col" class="run-col"'


def add_runs(data_dir: Path) -> dict[str, Any]:
    """The benchmark's runs in ``data_dir`` (created on the first call); the manifest."""
    path = data_dir / MANIFEST
    if path.exists():
        manifest: dict[str, Any] = json.loads(path.read_text())
        print(f"{data_dir} already holds the compare benchmark's {len(manifest['run_ids'])} runs")
        return manifest
    settings = Settings(data_dir=data_dir, controller=False).resolved()
    svc = build_services(settings)  # creates the dir and the database (migrated)
    try:
        created = bootstrap_admin(settings)
        if created is not None:
            token = created[1]
        elif (data_dir / GENERATOR_MANIFEST).exists():
            token = json.loads((data_dir / GENERATOR_MANIFEST).read_text())["token"]
        else:
            sys.exit(
                f"{data_dir} has users but neither {MANIFEST} nor {GENERATOR_MANIFEST}: use another dir."
            )
        admin = svc.identity.authenticate_token(token)
        experiment = svc.experiments.create_experiment(admin, name=EXPERIMENT)
        rng = random.Random("ui-compare")
        run_ids = []
        t0 = time.perf_counter()
        for i in range(RUNS):
            run = svc.tracking.create_run(
                admin, experiment_id=experiment, run_name=f"cmp-{i:03d}", start_time=T0
            )
            params = {f"p{k:02d}": str(round(rng.uniform(0, 10), 3)) for k in range(PARAMS - 2)}
            params |= {"lr": str(10 ** -rng.randint(1, 5)), "optimizer": rng.choice(["adam", "sgd", "adamw"])}
            singles = [Metric(f"m{k:02d}", rng.random(), T0, 0) for k in range(METRICS - len(HISTORIES))]
            tags = {"team": "bench", "seed": str(i)}
            svc.tracking.log_batch(admin, run.run_id, params=params, metrics=singles, tags=tags)
            for key in HISTORIES:
                scale = rng.uniform(0.5, 2)
                points = [
                    Metric(key, scale / (1 + s / 100) + rng.gauss(0, 0.01), T0 + 1000 * s, s)
                    for s in range(STEPS)
                ]
                svc.tracking.log_batch(admin, run.run_id, metrics=points)
            run_ids.append(run.run_id)
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{RUNS} runs ({time.perf_counter() - t0:.0f} s)", flush=True)
    finally:
        svc.close()
    manifest = {"token": token, "experiment_id": experiment, "run_ids": run_ids}
    path.write_text(json.dumps(manifest))
    return manifest


def timed(
    client: httpx.Client, name: str, what: str, url: str, params: Any, repeat: int, warmup: int
) -> dict[str, Any]:
    times, size, body = [], 0, b""
    for i in range(warmup + repeat):
        t0 = time.perf_counter()
        r = client.get(url, params=params)
        body = r.content
        elapsed = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {r.status_code} {r.text[:300]}")
        if i >= warmup:
            times.append(elapsed)
            size = len(body)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    row = {"name": name, "what": what, "calls": repeat, "p50_ms": statistics.median(times), "p95_ms": p95}
    row |= {"bytes": size, "gzip_bytes": len(gzip.compress(body, 6))}
    if url.endswith("/series/many"):
        series = json.loads(body)["series"]
        drawn, total = sum(len(s["x"]) for s in series), sum(s["total"] for s in series)
        row["check"] = f"{len(series)} series, {drawn:,} of {total:,} points drawn"
    else:
        row["check"] = f"{body.count(RUN_COLUMN)} run columns"
    return row


def js_weight(client: httpx.Client, page: str) -> dict[str, Any]:
    """The page's scripts, gzipped at level 6: each file and the total."""
    files = {}
    for src in re.findall(r'<script src="([^"]+)"', page):
        body = client.get(src).content
        files[src.split("?")[0].rsplit("/", 1)[-1]] = {
            "bytes": len(body),
            "gzip_bytes": len(gzip.compress(body, 6)),
        }
    total = sum(f["gzip_bytes"] for f in files.values())
    return {"files": files, "gzip_total": total, "raw_total": sum(f["bytes"] for f in files.values())}


def measure(
    client: httpx.Client, manifest: dict[str, Any], *, repeat: int = 20, warmup: int = 3
) -> list[dict[str, Any]]:
    ids = manifest["run_ids"]
    runs = [("run_id", r) for r in ids]
    three = runs + [("key", k) for k in HISTORIES] + [("x", "step"), ("points", str(CHART_POINTS))]
    one = [*runs, ("key", HISTORIES[0]), ("x", "step"), ("points", str(CHART_POINTS))]
    zoom = [*three, ("min", "450"), ("max", "549")]
    page = {"runs": ",".join(ids)}
    return [
        timed(client, "page", f"/compare, {len(ids)} runs", "/compare", page, repeat, warmup),
        timed(client, "series_3", f"{len(ids)} runs x 3 metrics x {STEPS:,} steps, one call", "/ui/data/series/many", three, repeat, warmup),
        timed(client, "series_1", f"{len(ids)} runs x 1 metric", "/ui/data/series/many", one, repeat, warmup),
        timed(client, "series_zoom", "3 metrics, steps 450-549", "/ui/data/series/many", zoom, repeat, warmup),
    ]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", type=Path)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json-out", type=Path, default=None)
    args = p.parse_args()
    manifest = add_runs(args.data_dir)
    logs = args.data_dir / "bench-logs"
    logs.mkdir(exist_ok=True)
    server = modelyard_server(args.data_dir, manifest["token"], logs)
    print(f"modelyard server ready in {server.start(120):.1f} s")
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            login(client, manifest["token"])
            rows = measure(client, manifest, repeat=args.repeat, warmup=args.warmup)
            weight = js_weight(
                client, client.get("/compare", params={"runs": ",".join(manifest["run_ids"])}).text
            )
    finally:
        server.stop()
    print(f"\n{'measure':<12} {'p50 ms':>8} {'p95 ms':>8} {'KB':>8} {'gzip KB':>8}  what / check")
    for r in rows:
        print(f"{r['name']:<12} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['bytes'] / 1024:>8.1f} "
              f"{r['gzip_bytes'] / 1024:>8.1f}  {r['what']} / {r['check']}")  # fmt: skip
    print(
        f"\nJavaScript of the page: {weight['gzip_total'] / 1024:.1f} KB gzipped ({weight['raw_total'] / 1024:.1f} KB raw)"
    )
    for name, f in weight["files"].items():
        print(f"  {name:<24} {f['gzip_bytes'] / 1024:>6.1f} KB gzipped  {f['bytes'] / 1024:>6.1f} KB")
    if args.json_out:
        args.json_out.write_text(json.dumps({"measures": rows, "javascript": weight}, indent=2))


if __name__ == "__main__":
    main()
