"""The registry's and datasets' web pages at scale: 1,000 registered models x 10 versions (``--models``,
``--versions``), served by a real ``modelyard server`` over HTTP and read with a logged-in browser
session (the session cookie), as a browser asks for them.

The data is made once in ``<data dir>`` through the service layer (``RegistryService``,
``TrackingService``: every version audited as from the API): 10 runs with params, metrics, a dataset
input and model files (an MLmodel with a signature and an input example), and each model's versions
registered from them, with three tags per model, an alias and a Production version. A later run
finds the data (``registry-bench.json``) and measures again.

Each measure is ``--repeat`` GETs of one page on one keep-alive connection after ``--warmup`` GETs:
p50 and p95 of the wall time (request sent to the whole page read), and the page's size.

    .venv/bin/python bench/ui/registry.py /tmp/ui-registry            # makes the data (~2 min), measures
    .venv/bin/python bench/ui/registry.py /tmp/ui-registry --repeat 50

``measure(base_url, client, manifest, repeat, warmup)`` is what another bench script calls with a
client it logged in itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

MANIFEST = "registry-bench.json"
LIST_PAGE = 50  # models on a page of the list (api/ui/models.py)
PASSWORD = "bench-password-1"
MLMODEL = """flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.12.0
signature:
  inputs: '[{"type": "double", "name": "sepal length", "required": true}, {"type": "double", "name": "petal length", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
saved_input_example_info:
  artifact_path: input_example.json
  type: dataframe
  pandas_orient: split
"""


@dataclass
class Result:
    name: str
    url: str
    calls: int
    p50_ms: float
    p95_ms: float
    bytes: int


# ---- the data -------------------------------------------------------------------------------------
def generate(data_dir: Path, models: int, versions: int) -> dict[str, Any]:
    """Fill ``data_dir`` (once) and return the manifest: what the measures ask for."""
    manifest_path = data_dir / MANIFEST
    if manifest_path.exists():
        print(f"data found in {data_dir} ({manifest_path.name}); measuring it")
        return dict(json.loads(manifest_path.read_text()))
    from modelyard.domain.identity import Principal
    from modelyard.domain.tracking import Dataset, DatasetInput, Metric
    from modelyard.services import build_services
    from modelyard.services.container import bootstrap_admin
    from modelyard.settings import Settings

    settings = Settings(data_dir=data_dir, controller=False).resolved()
    svc = build_services(settings)
    created = bootstrap_admin(settings)
    assert created is not None, f"{data_dir} has users already but no {MANIFEST}: use an empty dir"
    username, _ = created
    svc.identity.set_password(Principal.system(), username, PASSWORD)
    actor = Principal.system()
    t0 = time.perf_counter()
    eid = svc.experiments.create_experiment(actor, name="registry-bench")
    runs = []
    for i in range(10):
        run = svc.tracking.create_run(actor, experiment_id=eid, run_name=f"train-{i}")
        svc.tracking.log_batch(
            actor,
            run.run_id,
            metrics=[Metric(f"metric_{k}", k / 10 + i, 0, 0) for k in range(20)],
            params={f"param_{k}": str(k * i) for k in range(20)},
        )
        schema = json.dumps({"mlflow_colspec": [{"type": "double", "name": f"c{k}"} for k in range(8)]})
        dataset = Dataset(
            "bench-train", f"digest{i % 3}", "local", "/data/train.csv", schema, '{"num_rows": 150}'
        )
        svc.tracking.log_inputs(
            actor, run.run_id, datasets=[DatasetInput(dataset, {"mlflow.data.context": "training"})]
        )
        store, base = svc.artifact_service.store_and_path(run.artifact_uri)
        files = {
            "MLmodel": MLMODEL,
            "input_example.json": '{"columns": ["sepal length", "petal length"], "data": [[5.1, 1.4]]}',
        }
        for name, text in files.items():
            with store.writer(f"{base}/model/{name}".lstrip("/")) as f:
                f.write(text.encode())
        runs.append(run.run_id)
    for m in range(models):
        name = f"model-{m:04d}"
        tags = {"team": f"t{m % 7}", "task": "classification", "owner": f"user{m % 13}"}
        svc.registry.create_registered_model(actor, name=name, tags=tags, description=f"Model {m}")
        for v in range(versions):
            run_id = runs[(m + v) % len(runs)]
            svc.registry.create_model_version(actor, name=name, source=f"runs:/{run_id}/model", run_id=run_id)
        svc.registry.transition_stage(actor, name, versions - 1, "Production")
        svc.registry.set_alias(actor, name, "champion", versions)
        if (m + 1) % 100 == 0:
            rate = (m + 1) * versions / (time.perf_counter() - t0)
            print(f"  {m + 1} models, {(m + 1) * versions} versions ({rate:.0f} versions/s)", flush=True)
    svc.close()
    middle = f"model-{models // 2:04d}"
    manifest = {"username": username, "models": models, "versions": versions, "model": middle}
    manifest_path.write_text(json.dumps(manifest))
    print(f"made {models} models x {versions} versions in {time.perf_counter() - t0:.0f} s")
    return manifest


# ---- the server -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(data_dir: Path) -> Iterator[str]:
    """``modelyard server`` on the data dir, in its own process group; yields its URL once it answers."""
    port = _free_port()
    exe = Path(sys.executable).with_name("modelyard")
    argv = [str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    env = {**os.environ, "MODELYARD_CONFIG": str(data_dir / "bench-user-config.json")}
    log = (data_dir / "bench-server.log").open("wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}; see {log.name}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within 60 s; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def logged_in(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    page = client.get("/login")
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]*)">', page.text)
    assert token is not None
    answer = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1), "next": "/"}
    )
    assert answer.status_code in (200, 303) and "modelyard_session" in client.cookies, answer.text[:500]
    return client


# ---- the measures ---------------------------------------------------------------------------------
def _time(client: httpx.Client, name: str, url: str, repeat: int, warmup: int) -> Result:
    for _ in range(warmup):
        client.get(url).raise_for_status()
    times: list[float] = []
    size = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        answer = client.get(url)
        size = len(answer.content)
        times.append((time.perf_counter() - t0) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:300]}")
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return Result(name, url, repeat, round(statistics.median(times), 1), round(p95, 1), size)


def measure(client: httpx.Client, manifest: dict[str, Any], repeat: int, warmup: int) -> list[Result]:
    model = quote(manifest["model"], safe="")
    later = min(10, (manifest["models"] - 1) // LIST_PAGE)  # the 11th page, or the last one
    pages = [
        ("models list, first page", "/models"),
        ("models list, by last modified", "/models?sort=-updated"),
        (
            f"models list, page {later + 1}",
            f"/models?page={_page_token(client, later)}" if later else "/models",
        ),
        ("models list, name contains", "/models?q=model-05"),
        ("models list, tag filter", "/models?filter=" + quote("tags.team = 't3'")),
        ("models list fragment (search box)", "/ui/fragments/models?q=model-00"),
        ("model page", f"/models/{model}"),
        ("version page", f"/models/{model}/versions/{manifest['versions']}"),
        ("datasets list", "/datasets"),
        ("dataset page", "/datasets/bench-train"),
    ]
    return [_time(client, name, url, repeat, warmup) for name, url in pages]


def _page_token(client: httpx.Client, pages: int) -> str:
    """The token of the list's page ``pages + 1`` (by following the next-page links)."""
    url = "/models"
    for _ in range(pages):
        found = re.search(r'href="/models\?page=([^"&]+)" rel="next"', client.get(url).text)
        assert found is not None, "fewer pages than expected"
        url = f"/models?page={found.group(1)}"
    return url.split("=", 1)[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", type=Path)
    p.add_argument("--models", type=int, default=1000)
    p.add_argument("--versions", type=int, default=10)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    manifest = generate(args.data_dir.resolve(), args.models, args.versions)
    load_before = os.getloadavg()[0]
    with server(args.data_dir.resolve()) as url:
        client = logged_in(url, manifest["username"], PASSWORD)
        try:
            results = measure(client, manifest, args.repeat, args.warmup)
        finally:
            client.close()
    load = (round(load_before, 1), round(os.getloadavg()[0], 1))
    print(f"\n{manifest['models']} models x {manifest['versions']} versions; {args.repeat} calls each")
    print(f"load average (1 min) before and after: {load[0]}, {load[1]} on {os.cpu_count()} cores")
    print(f"{'page':38} {'p50 ms':>8} {'p95 ms':>8} {'KB':>7}")
    for r in results:
        print(f"{r.name:38} {r.p50_ms:8.1f} {r.p95_ms:8.1f} {r.bytes / 1024:7.1f}")
    out = args.data_dir / "registry-bench-results.json"
    summary = {"manifest": manifest, "load_average": load, "results": [asdict(r) for r in results]}
    out.write_text(json.dumps(summary, indent=2))
    print(f"\n(also in {out})")


if __name__ == "__main__":
    main()
