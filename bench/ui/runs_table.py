"""The runs table at scale: its page and fragments from a real `modelyard server` over HTTP, and
MLflow 3.17's `runs/search` with the same filter and order on an mlflow server holding the same runs.

    PYTHONPATH=$PWD/src .venv/bin/python bench/ui/runs_table_data.py /tmp/uibench     # once, ~3 min
    PYTHONPATH=$PWD/src .venv/bin/python bench/ui/runs_table.py /tmp/uibench --repeat 20

The data dir holds one experiment of 100,000 runs (``runs_table_data.py``; ``--experiment`` picks
another, e.g. the one ``generate.py`` makes). modelyard is measured through its web UI as a browser
uses it: logged in with a session cookie, ``GET /experiments/<id>?<view>`` (the whole page: the
first 80 rows, the header, the column chooser) and the window's next rows
``/ui/fragments/runs-table/rows?...&after=<run>`` from a random run of the order (any place in it),
and the count of a filtered view. Each is timed ``--repeat`` times after ``--warmup`` calls, on one
keep-alive connection; p50 and p95 of the client's wall time.

MLflow gets the same runs copied into its own SQLite schema (made by its ``SqlAlchemyStore``, then
filled with ``INSERT ... SELECT`` from modelyard's database: runs, params, tags and latest metrics,
which is what its search reads; the per-step ``metrics`` table is left empty), once, in
``<data dir>/mlflow-table/``; its server's ``runs/search`` (100 runs, the page its UI asks for) is
timed with the same filter and order. MLflow cannot order by duration; that row has no MLflow column.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "tracking"))

from servers import Server, free_port, mlflow_server  # noqa: E402

from modelyard.domain.identity import Principal  # noqa: E402
from modelyard.services.identity import IdentityService  # noqa: E402
from modelyard.settings import Settings  # noqa: E402
from modelyard.storage.db import Database  # noqa: E402

COLS = "status,start_time,duration,param:p00,param:p01,param:p02,metric:m00,metric:m01,metric:m02"


@dataclass(frozen=True)
class View:
    """One view of the table: the page's query string, and the same search in MLflow's terms."""

    name: str
    params: dict[str, str]
    mlflow_filter: str = ""
    mlflow_order: str | None = ""  # None: MLflow cannot order so

    def query(self) -> dict[str, str]:
        return {"cols": COLS, **self.params}


VIEWS = [
    View("default (newest first)", {}, "", "attributes.start_time DESC"),
    View("sort metric m05 desc", {"sort": "metric:m05", "dir": "desc"}, "", "metrics.m05 DESC"),
    View("sort metric m01 asc (NaN)", {"sort": "metric:m01", "dir": "asc"}, "", "metrics.m01 ASC"),
    View("sort param p01 asc", {"sort": "param:p01", "dir": "asc"}, "", "params.p01 ASC"),
    View("sort tag team desc", {"sort": "tag:team", "dir": "desc"}, "", "tags.team DESC"),
    View("sort name asc", {"sort": "name", "dir": "asc"}, "", "attributes.run_name ASC"),
    View("sort duration desc", {"sort": "duration", "dir": "desc"}, "", None),
    View(
        "filter m03 > 0.5", {"filter": "metrics.m03 > 0.5"}, "metrics.m03 > 0.5", "attributes.start_time DESC"
    ),
    View(
        "filter m03 > 0.999",
        {"filter": "metrics.m03 > 0.999"},
        "metrics.m03 > 0.999",
        "attributes.start_time DESC",
    ),
    View(
        "filter p00 = 'tree', sort m05",
        {"filter": "params.p00 = 'tree'", "sort": "metric:m05", "dir": "desc"},
        "params.p00 = 'tree'",
        "metrics.m05 DESC",
    ),
    View(
        "filter status FAILED",
        {"filter": "attributes.status = 'FAILED'"},
        "attributes.status = 'FAILED'",
        "attributes.start_time DESC",
    ),
    View(
        "filter m03 > 0.5 and p00, sort p01",
        {"filter": "metrics.m03 > 0.5 and params.p00 = 'svm'", "sort": "param:p01", "dir": "asc"},
        "metrics.m03 > 0.5 and params.p00 = 'svm'",
        "params.p01 ASC",
    ),
]


@dataclass
class Timing:
    server: str
    what: str
    view: str
    p50_ms: float
    p95_ms: float
    kb: float
    check: str


def timed(
    client: httpx.Client, method: str, url: str, repeat: int, warmup: int, **kwargs: Any
) -> tuple[float, float, httpx.Response]:
    times = []
    answer = None
    for i in range(warmup + repeat):
        t0 = time.perf_counter()
        answer = client.request(method, url, **kwargs)
        elapsed = (time.perf_counter() - t0) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"{method} {url}: HTTP {answer.status_code} {answer.text[:300]}")
        if i >= warmup:
            times.append(elapsed)
    times.sort()
    assert answer is not None
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], answer


# ---- modelyard ---------------------------------------------------------------------------------------


def pick_experiment(db: Database, given: str | None) -> tuple[str, int]:
    with db.engine.connect() as conn:
        if given:
            found = conn.exec_driver_sql(
                "SELECT count(*) FROM runs WHERE experiment_id = ?", (int(given),)
            ).one()
            return given, int(found[0])
        row = conn.exec_driver_sql(
            "SELECT experiment_id, count(*) AS n FROM runs GROUP BY experiment_id ORDER BY n DESC LIMIT 1"
        ).one()
        return str(row[0]), int(row[1])


def admin_token(data_dir: Path, db: Database) -> str:
    """A platform admin's token: the generator's manifest's, else one made here (kept for next time)."""
    for name in ("ui-bench.json", "runs-table-bench.json"):
        saved = data_dir / name
        if saved.exists():
            return str(json.loads(saved.read_text())["token"])
    identity = IdentityService(db)
    if identity.has_users():
        _, token = identity.create_token(Principal.system(), username="admin", name="runs-table-bench")
    else:
        _, token = identity.bootstrap_admin()
    saved = data_dir / "runs-table-bench.json"
    saved.write_text(json.dumps({"token": token}))
    saved.chmod(0o600)
    return token


def cursors(db: Database, experiment_id: str, n: int, seed: int) -> list[str]:
    """Random runs of the experiment: the window's next rows are read after each (any place in the order)."""
    with db.engine.connect() as conn:
        ids = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT run_uuid FROM runs WHERE experiment_id = ?", (int(experiment_id),)
            )
        ]
    return random.Random(seed).sample(ids, min(n, len(ids)))


def login(client: httpx.Client, token: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'<meta name="csrf-token" content="([0-9a-f]*)">', page.text)
    assert csrf is not None, "the login page has no CSRF token"
    answer = client.post("/login", data={"token": token, "csrf_token": csrf.group(1), "next": "/"})
    if answer.status_code != 303:
        raise RuntimeError(f"login refused: HTTP {answer.status_code} {answer.text[:200]}")


def rows_in(html: str) -> int:
    return html.count("<tr data-run-id=")


def measure_modelyard(
    client: httpx.Client,
    eid: str,
    after: list[str],
    repeat: int,
    warmup: int,
    report: Callable[[Timing], None],
) -> None:
    for view in VIEWS:
        p50, p95, answer = timed(client, "GET", f"/experiments/{eid}", repeat, warmup, params=view.query())
        count = re.search(r"data-runs-count[^>]*>([^<]*)<", answer.text)
        report(Timing("modelyard", "page", view.name, p50, p95, len(answer.content) / 1024,
                          f"{rows_in(answer.text)} rows; {count.group(1) if count else ''}"))  # fmt: skip
        rows_url = re.search(r'data-rows-url="([^"]+)"', answer.text)
        assert rows_url is not None
        url = rows_url.group(1).replace("&amp;", "&")
        times = []
        shown = 0
        for i in range(warmup + repeat):
            t0 = time.perf_counter()
            got = client.get(f"{url}&after={after[i % len(after)]}")
            if got.status_code != 200:
                raise RuntimeError(f"rows: HTTP {got.status_code} {got.text[:200]}")
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000)
                shown += rows_in(got.text)
        times.sort()
        report(Timing("modelyard", "rows after a random run", view.name, statistics.median(times),
                          times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], len(got.content) / 1024,
                          f"{shown / repeat:.0f} rows on average"))  # fmt: skip
        if view.params.get("filter"):
            count_url = re.search(r'hx-get="(/ui/fragments/runs-table/count[^"]+)"', answer.text)
            if count_url:
                p50, p95, got = timed(client, "GET", count_url.group(1).replace("&amp;", "&"), repeat, warmup)
                text = re.sub(r"<[^>]+>", " ", got.text).split("Count exactly")[0]
                report(
                    Timing(
                        "modelyard",
                        "count",
                        view.name,
                        p50,
                        p95,
                        len(got.content) / 1024,
                        " ".join(text.split()),
                    )
                )


# ---- mlflow ------------------------------------------------------------------------------------------


def mlflow_store(mlflow_dir: Path, source: Path, experiment_id: str) -> Path:
    """MLflow's SQLite store with the experiment's runs, made once."""
    db_path = mlflow_dir / "mlflow.db"
    done = mlflow_dir / "loaded.json"
    if done.exists() and json.loads(done.read_text()).get("experiment_id") == experiment_id:
        return db_path
    mlflow_dir.mkdir(parents=True, exist_ok=True)
    db_path.unlink(missing_ok=True)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    t0 = time.perf_counter()
    store = SqlAlchemyStore(f"sqlite:///{db_path}", str(mlflow_dir / "art"))  # its schema, by its migrations
    store.engine.dispose()
    conn = sqlite3.connect(db_path)
    conn.execute("ATTACH DATABASE ? AS src", (str(source),))
    eid = int(experiment_id)
    statements = [
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) "
        "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time FROM src.experiments WHERE experiment_id = ?",
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, "
        "deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
        "SELECT run_uuid, name, 'LOCAL', '', '', user_id, status, start_time, end_time, deleted_time, '', lifecycle_stage, "
        "artifact_uri, experiment_id FROM src.runs WHERE experiment_id = ?",
        "INSERT INTO params (key, value, run_uuid) SELECT p.key, p.value, p.run_uuid FROM src.params p "
        "JOIN src.runs r ON r.run_uuid = p.run_uuid WHERE r.experiment_id = ?",
        "INSERT INTO tags (key, value, run_uuid) SELECT t.key, t.value, t.run_uuid FROM src.tags t "
        "JOIN src.runs r ON r.run_uuid = t.run_uuid WHERE r.experiment_id = ?",
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
        "SELECT m.key, m.value, m.timestamp, m.step, m.is_nan, m.run_uuid FROM src.latest_metrics m "
        "JOIN src.runs r ON r.run_uuid = m.run_uuid WHERE r.experiment_id = ?",
    ]
    with conn:
        for sql in statements:
            conn.execute(sql, (eid,))
    conn.execute("DETACH DATABASE src")
    conn.close()
    done.write_text(json.dumps({"experiment_id": experiment_id, "seconds": round(time.perf_counter() - t0)}))
    print(f"mlflow store filled in {time.perf_counter() - t0:.0f} s ({db_path})")
    return db_path


def measure_mlflow(
    start: Callable[[], Server],
    eid: str,
    repeat: int,
    warmup: int,
    limit: float,
    report: Callable[[Timing], None],
) -> None:
    """Each view's search, ``repeat`` times; one that takes longer than ``limit`` seconds is recorded
    as such, once, and the server restarted (its worker would still be busy with it)."""
    server = start()
    try:
        for view in VIEWS:
            if view.mlflow_order is None:
                continue
            body = {
                "experiment_ids": [eid],
                "filter": view.mlflow_filter,
                "max_results": 100,
                "order_by": [view.mlflow_order],
            }
            try:
                with httpx.Client(base_url=server.url, timeout=limit) as client:
                    p50, p95, answer = timed(
                        client, "POST", "/ajax-api/2.0/mlflow/runs/search", repeat, warmup, json=body
                    )
            except httpx.TimeoutException:
                report(
                    Timing(
                        "mlflow", "runs/search (100)", view.name, math.inf, math.inf, 0, f"over {limit:.0f} s"
                    )
                )
                server.stop()
                server = start()
                continue
            runs = answer.json().get("runs", [])
            report(
                Timing(
                    "mlflow",
                    "runs/search (100)",
                    view.name,
                    p50,
                    p95,
                    len(answer.content) / 1024,
                    f"{len(runs)} runs",
                )
            )
    finally:
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", type=Path)
    p.add_argument(
        "--experiment", default=None, help="the experiment id (default: the one with the most runs)"
    )
    p.add_argument("--servers", default="modelyard,mlflow")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--mlflow-repeat", type=int, default=5, help="its searches take seconds to minutes here")
    p.add_argument("--mlflow-warmup", type=int, default=1)
    p.add_argument(
        "--mlflow-limit", type=float, default=300, help="seconds a search may take before it is cut"
    )
    p.add_argument("--mlflow-bin", default=str(Path(sys.executable).parent / "mlflow"))
    p.add_argument("--mlflow-workers", type=int, default=None)
    p.add_argument("--json-out", type=Path, default=None)
    args = p.parse_args()
    settings = Settings(data_dir=args.data_dir).resolved()
    db = Database(settings.database_url)
    eid, size = pick_experiment(db, args.experiment)
    token = admin_token(args.data_dir, db)
    after = cursors(db, eid, args.warmup + args.repeat, args.seed)
    db.dispose()
    print(f"experiment {eid}: {size:,} runs")
    servers = set(args.servers.split(","))
    results: list[Timing] = []
    out = args.json_out or ROOT / "bench" / "results" / f"runs-table-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def report(timing: Timing) -> None:
        """Print a result as it comes, and keep the JSON up to date (a long run can be stopped)."""
        if not results:
            print(f"\n{'server':<10} {'what':<24} {'view':<36} {'p50 ms':>8} {'p95 ms':>8} {'KB':>7}  check")
        results.append(timing)
        t = timing
        print(
            f"{t.server:<10} {t.what:<24} {t.view:<36} {t.p50_ms:>8.1f} {t.p95_ms:>8.1f} {t.kb:>7.1f}  {t.check}",
            flush=True,
        )
        out.write_text(
            json.dumps({"experiment": eid, "runs": size, "results": [r.__dict__ for r in results]}, indent=2)
        )

    logs = args.data_dir / "bench-logs"
    logs.mkdir(exist_ok=True)
    if "modelyard" in servers:
        port = free_port()
        argv = [sys.executable, "-m", "modelyard", "server", "--host", "127.0.0.1", "--port", str(port),
                "--data-dir", str(args.data_dir)]  # fmt: skip
        env = {"PYTHONPATH": str(ROOT / "src"), "MODELYARD_CONFIG": str(logs / "user-config.json")}
        server = Server("modelyard", argv, port, logs, env=env)
        server.headers = {"Authorization": f"Bearer {token}"}
        print(f"modelyard server ready in {server.start(180):.1f} s")
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                login(client, token)
                measure_modelyard(client, eid, after, args.repeat, args.warmup, report)
        finally:
            server.stop()
    if "mlflow" in servers:
        mlflow_dir = args.data_dir / "mlflow-table"
        mlflow_store(mlflow_dir, Path(settings.database_url.removeprefix("sqlite:///")), eid)
        ns = argparse.Namespace(mlflow_bin=args.mlflow_bin, mlflow_workers=args.mlflow_workers)

        def start() -> Server:
            server = mlflow_server(mlflow_dir, ns)
            print(f"mlflow server ready in {server.start(300):.1f} s")
            return server

        measure_mlflow(start, eid, args.mlflow_repeat, args.mlflow_warmup, args.mlflow_limit, report)
    print(f"\n{out}")


if __name__ == "__main__":
    main()
