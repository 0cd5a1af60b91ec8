"""The run page's timings (issue 14: a run page in under 200 ms with 20 params x 50 metrics), from a
real `modelyard server` over HTTP, logged in through the login form (the UI's pages take the session
cookie, not a token), on the data dir bench/ui/generate.py made.

Measured, each as p50/p95 of `--repeat` calls after `--warmup` on one keep-alive connection (the
client's wall time: request sent, whole page received):

* the page of one of the 100,000 runs of the generated experiment (20 params, 50 metrics of one
  point, 2 tags), overview tab, and its charts tab;
* the page of a run with 20 params x 50 metrics of 1,000 points each (50,000 points), 3 child runs,
  a dataset and 5 artifact files, which this script adds once to its own experiment
  ("run-page-bench", so the generated experiment keeps its 100,000 runs): overview, charts and
  artifacts tabs, and a CSV preview;
* the overview of the run with the 1,000,000-point history (its metrics table reads the whole
  history for min and max), and that history's first chart data as the page asks for it.

    .venv/bin/python bench/ui/generate.py /tmp/ui-bench       # once (see bench/README.md)
    .venv/bin/python bench/ui/run_page.py /tmp/ui-bench
    .venv/bin/python bench/ui/run_page.py /tmp/ui-bench --repeat 100 --json-out /tmp/run-page.json

``measure(client, manifest, repeat, warmup)`` is the function bench.py can call with a logged-in
client; it returns a list of result dicts (server, name, what, calls, p50_ms, p95_ms, bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "tracking"))

from session import login, modelyard_server  # noqa: E402

from modelyard.domain.identity import Principal  # noqa: E402
from modelyard.domain.tracking import Dataset, DatasetInput, Metric  # noqa: E402
from modelyard.services import build_services  # noqa: E402
from modelyard.settings import Settings  # noqa: E402

MANIFEST = "ui-bench.json"  # written by bench/ui/generate.py
OWN = "run-page-bench.json"  # what this script added to the data dir
T0 = 1_700_000_000_000
API = "/api/2.0/mlflow"


def add_rich_run(data_dir: Path) -> dict[str, Any]:
    """A run as a real training run leaves it, in an experiment of its own (once per data dir)."""
    own = data_dir / OWN
    if own.exists():
        return dict(json.loads(own.read_text()))
    svc = build_services(Settings(data_dir=data_dir, controller=False).resolved())
    actor = Principal.system()
    try:
        eid = svc.experiments.create_experiment(actor, name="run-page-bench")
        run = svc.tracking.create_run(actor, experiment_id=eid, run_name="rich-run", start_time=T0)
        rid = run.run_id
        svc.tracking.log_batch(actor, rid, params={f"p{j:02d}": str(j * 7) for j in range(20)})
        svc.tracking.log_batch(actor, rid, tags={"team": "bench", "mlflow.note.content": "a benchmark run"})
        for first in range(0, 1000, 20):  # 50 metrics x 20 steps = 1,000 points per batch
            batch = [
                Metric(f"m{j:02d}", 1.0 / (s + 1) + j, T0 + s * 1000, s)
                for s in range(first, first + 20)
                for j in range(50)
            ]
            svc.tracking.log_batch(actor, rid, metrics=batch)
        for i in range(3):
            svc.tracking.create_run(
                actor, experiment_id=eid, run_name=f"child-{i}", tags={"mlflow.parentRunId": rid}
            )
        dataset = Dataset(name="customers", digest="d1", source_type="s3", source="s3://bench/customers")
        svc.tracking.log_inputs(
            actor, rid, datasets=[DatasetInput(dataset, {"mlflow.data.context": "training"})]
        )
        store, base = svc.artifact_service.run_artifact_root(run)
        rows = "id,score\n" + "".join(f"{i},{i / 1000}\n" for i in range(20_000))
        files = {
            "eval/scores.csv": rows.encode(),
            "eval/summary.json": json.dumps({"auc": 0.91, "folds": list(range(50))}).encode(),
            "logs/train.log": b"epoch loss\n" * 5000,
            "model/MLmodel": b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n",
            "README.md": b"# Rich run\n\nA *benchmark* run.\n",
        }
        for path, data in files.items():
            with store.writer(f"{base}/{path}") as f:
                f.write(data)
    finally:
        svc.close()
    saved = {"rich_experiment_id": eid, "rich_run": rid}
    own.write_text(json.dumps(saved))
    return saved


def table_run(client: httpx.Client, token: str, experiment_id: str) -> str:
    """One of the generated experiment's 100,000 runs (20 params, 50 metrics)."""
    body = {
        "experiment_ids": [experiment_id],
        "max_results": 1,
        "filter": "attributes.run_name = 'run-050000'",
    }
    r = client.post(f"{API}/runs/search", json=body, headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    runs = r.json().get("runs") or []
    if not runs:
        raise RuntimeError(
            f"run-050000 is not in the generated experiment (was it made with --runs < 50,001?): {r.text[:300]}"
        )
    return str(runs[0]["info"]["run_id"])


def timed(client: httpx.Client, name: str, what: str, path: str, repeat: int, warmup: int) -> dict[str, Any]:
    times: list[float] = []
    size = 0
    for i in range(warmup + repeat):
        t0 = time.perf_counter()
        r = client.get(path)
        body = r.content
        elapsed = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {r.status_code} {r.text[:300]}")
        if i >= warmup:
            times.append(elapsed)
            size = len(body)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        "server": "modelyard",
        "name": name,
        "what": what,
        "calls": repeat,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(p95, 1),
        "bytes": size,
    }


def measure(client: httpx.Client, manifest: dict[str, Any], repeat: int, warmup: int) -> list[dict[str, Any]]:
    """The run page's measures; ``client`` is logged in, ``manifest`` holds ``table_run``,
    ``rich_run`` and ``long_run``."""
    table, rich, long = manifest["table_run"], manifest["rich_run"], manifest["long_run"]
    points = manifest.get("long_points", 0)
    pages = [
        ("run_table_overview", "a run of the 100k: 20 params x 50 metrics, overview", f"/runs/{table}"),
        ("run_table_charts", "the same run, charts tab (50 chart placeholders)", f"/runs/{table}?tab=charts"),
        ("run_rich_overview", "20 params x 50 metrics x 1,000 points, children, dataset", f"/runs/{rich}"),
        ("run_rich_charts", "the same run, charts tab", f"/runs/{rich}?tab=charts"),
        ("run_rich_artifacts", "the same run, artifacts tab (root listing)", f"/runs/{rich}?tab=artifacts"),
        (
            "run_rich_csv",
            "the same run, a 20,000-row CSV preview",
            f"/runs/{rich}?tab=artifacts&path=eval/scores.csv",
        ),
        ("run_long_overview", f"the run with a {points:,}-point history, overview", f"/runs/{long}"),
        (
            "run_long_chart_data",
            "its chart's data as the page asks (a 586 px chart: 1172 points)",
            f"/ui/data/series?run_id={long}&key=loss&x=step&points=1172",
        ),
    ]
    return [timed(client, name, what, path, repeat, warmup) for name, what, path in pages]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", type=Path)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json-out", type=Path, default=None)
    args = p.parse_args()
    if not (args.data_dir / MANIFEST).exists():
        sys.exit(f"{args.data_dir / MANIFEST} is missing: make the data first with bench/ui/generate.py.")
    manifest = json.loads((args.data_dir / MANIFEST).read_text())
    manifest.update(add_rich_run(args.data_dir))
    logs = args.data_dir / "bench-logs"
    logs.mkdir(exist_ok=True)
    server = modelyard_server(args.data_dir, manifest["token"], logs)
    print(f"modelyard server ready in {server.start(120):.1f} s")
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            manifest["table_run"] = table_run(client, manifest["token"], manifest["experiment_id"])
            login(client, manifest["token"])
            results = measure(client, manifest, args.repeat, args.warmup)
    finally:
        server.stop()
    print(f"\n{'measure':<22} {'p50 ms':>8} {'p95 ms':>8} {'KB':>7}  what")
    for r in results:
        print(
            f"{r['name']:<22} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['bytes'] / 1024:>7.1f}  {r['what']}"
        )
    out = args.json_out or ROOT / "bench" / "results" / f"ui-run-page-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "load": os.getloadavg()}
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
