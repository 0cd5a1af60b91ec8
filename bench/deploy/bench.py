"""Deployment benchmark: time from deploy to the first prediction, and the gateway's cost in throughput.

1. Starts a real ``modelyard server`` (temporary data dir, SQLite, authentication on; the first
   admin token is read from the config file the server writes) with its deployment controller.
2. Trains two models in this process — the serving benchmark's GradientBoostingClassifier (100 trees,
   20 features, seeded) and an iris LogisticRegression — saves them with modelyard's model format and
   registers each as version 1 over the MLflow REST API.
3. For each: ``POST /deployment/api/`` (what ``modelyard deploy create`` sends), then polls the
   prediction endpoint through the gateway until the first 200; prints the seconds in between
   (target: at most 3 s).
4. Throughput of 1-row JSON ``/invocations`` requests on the GBC deployment, through the gateway
   (``/deployment/gbc/invocations``) and directly to its replica, with wrk (2 threads, ``--connections``
   connections), ``--rounds`` interleaved rounds, alternating which goes first; prints the medians and
   their ratio (target: the gateway keeps at least 85%), with the machine's load average.
5. Recovery under load (``recovery.py``): scale 1 -> 2, ``kill -9`` of one of 2 replicas, and an update
   of 2 replicas to another version, each with ``--rate`` predictions a second through the gateway;
   prints where the time went and the failed requests (targets: back to full capacity within 3 s of a
   kill, an update done within 8 s, no failed request).

    .venv/bin/python bench/deploy/bench.py                      # about two minutes
    .venv/bin/python bench/deploy/bench.py --rounds 5 --seconds 10
    .venv/bin/python bench/deploy/bench.py --only recovery --rate 200
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import recovery

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int, work: Path) -> float:
    """CPU seconds of the server: its API process and its gateway process (whose pid is in the
    gateway's state file under the data dir)."""
    states = list((work / "data" / "gateway").glob("*/state.json"))
    gateway = [json.loads(states[0].read_text())["pid"]] if states else []
    return sum(cpu_seconds(p) for p in [pid, *gateway])


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def server(work: Path) -> Iterator[tuple[str, dict[str, str], int]]:
    """A ``modelyard server`` on a free port; yields its URL, the admin's auth header and its pid."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = work / "user-config.json"
    argv = [PYTHON, "-m", "modelyard", "server", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--data-dir", str(work / "data")]
    log = (work / "server.log").open("wb")
    env = {**os.environ, "MODELYARD_CONFIG": str(config)}
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{(work / 'server.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200 and config.exists():
                    break
            time.sleep(0.05)
        token = json.loads(config.read_text())["servers"][url]["token"]
        yield url, {"Authorization": f"Bearer {token}"}, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the server stops its replicas
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def train(work: Path) -> dict[str, tuple[Path, bytes]]:
    """Model name -> (model dir, a 1-row /invocations body)."""
    from sklearn.datasets import load_iris, make_classification
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from modelyard.models import save_model

    x, y = make_classification(n_samples=2000, n_features=20, n_informative=10, n_redundant=4, random_state=0)
    gbc = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(x, y)
    save_model(gbc, work / "gbc", input_example=x[:1])
    features, labels = load_iris(return_X_y=True, as_frame=True)
    iris = LogisticRegression(max_iter=300).fit(features, labels)
    save_model(iris, work / "iris", input_example=features.head(2))
    return {
        "gbc": (work / "gbc", json.dumps({"inputs": [x[7].tolist()]}).encode()),
        "iris": (
            work / "iris",
            json.dumps({"dataframe_records": features.head(1).to_dict("records")}).encode(),
        ),
    }


def check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def register(api: httpx.Client, name: str, path: Path) -> None:
    check(api.post("/api/2.0/mlflow/registered-models/create", json={"name": name}), "register model")
    body = {"name": name, "source": str(path)}
    check(api.post("/api/2.0/mlflow/model-versions/create", json=body), "create version")


def deploy_and_time(api: httpx.Client, name: str, body: bytes, timeout: float = 60.0) -> tuple[float, float]:
    """(seconds the create call took, seconds from the create call to the first 200 prediction)."""
    url = f"/deployment/{name}/invocations"
    started = time.perf_counter()
    check(
        api.post("/deployment/api/", json={"name": name, "predictors": [{"model": f"models:/{name}/1"}]}),
        "create",
    )
    created = time.perf_counter() - started
    last = ""
    while time.perf_counter() - started < timeout:
        response = api.post(url, content=body, headers={"content-type": "application/json"})
        if response.status_code == 200:
            return created, time.perf_counter() - started
        last = f"{response.status_code} {response.text[:200]}"
        time.sleep(0.01)
    raise RuntimeError(f"{name}: no 200 within {timeout} s; last answer {last}")


def replica(api: httpx.Client, name: str) -> tuple[str, int]:
    """The URL and pid of the deployment's first ready replica."""
    view = check(api.get(f"/deployment/api/{name}"), "show")["result"]
    ready = [r for r in view["status"]["replicas_detail"] if r.get("state") == "ready"]
    if not ready:
        raise RuntimeError(f"{name}: no ready replica in {view['status']}")
    return str(ready[0]["url"]), int(ready[0]["pid"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def remove(api: httpx.Client, names: list[str]) -> None:
    """Delete the deployments and make sure their replicas are gone: the server leaves running replicas
    behind when it stops (a restarted server adopts them), so the bench must not just stop it."""
    pids: list[int] = []
    for name in names:
        with contextlib.suppress(Exception):
            view = check(api.get(f"/deployment/api/{name}"), "show")["result"]
            pids += [int(r["pid"]) for r in view["status"]["replicas_detail"] if r.get("pid")]
        with contextlib.suppress(Exception):
            api.delete(f"/deployment/api/{name}")
    deadline = time.monotonic() + 40
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wrk(url: str, body: bytes, *, seconds: int, connections: int, work: Path) -> float:
    (work / "body.json").write_bytes(body)
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{work / "body.json"}", "rb"); wrk.body = f:read("*a"); f:close()\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("NON2XX %d ERRORS %d\\n", summary.errors.status,\n'
        "    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\n"
        "end\n"
    )
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"NON2XX (\d+) ERRORS (\d+)", out)
    if errors is None or int(errors[1]) or int(errors[2]):
        raise RuntimeError(f"failed requests during the run on {url}:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate is not None, out
    return float(rate[1])


def measure(
    api: httpx.Client, url: str, server_pid: int, models: dict[str, tuple[Path, bytes]], args: Any, work: Path
) -> dict[str, list[float]]:
    """Deploy each model (timed), then the throughput rounds on the GBC one."""
    for name, (path, _) in models.items():
        register(api, name, path)
    for name, (_, body) in models.items():
        created, first = deploy_and_time(api, name, body)
        print(f"{name}: create call {created:.2f} s, deploy -> first 200 through the gateway {first:.2f} s")
    body = models["gbc"][1]
    replica_url, replica_pid = replica(api, "gbc")
    targets = {"direct": f"{replica_url}/invocations", "gateway": f"{url}/deployment/gbc/invocations"}
    rates: dict[str, list[float]] = {"direct": [], "gateway": []}
    wrk(targets["gateway"], body, seconds=1, connections=args.connections, work=work)  # warm-up
    for r in range(args.rounds):
        order = ["direct", "gateway"] if r % 2 == 0 else ["gateway", "direct"]
        for kind in order:
            before = server_cpu(server_pid, work), cpu_seconds(replica_pid)
            rate = wrk(targets[kind], body, seconds=args.seconds, connections=args.connections, work=work)
            n = rate * args.seconds
            after = server_cpu(server_pid, work), cpu_seconds(replica_pid)
            server_us, replica_us = (1e6 * (b - a) / n for a, b in zip(before, after, strict=True))
            rates[kind].append(rate)
            print(
                f"  round {r + 1} {kind:8s} {rate:6.0f} req/s   CPU per request: server "
                f"{server_us:4.0f} us, replica {replica_us:4.0f} us   (load {load()})"
            )
    return rates


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--rate", type=float, default=200.0, help="recovery: predictions a second under load")
    p.add_argument("--only", choices=("deploy", "recovery"), help="run only one part (default: both)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (server log)")
    args = p.parse_args()
    if args.only != "recovery" and shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-deploy-"))
    try:
        print(f"load average before: {load()}  ({os.cpu_count()} CPUs)")
        models = train(work) if args.only != "recovery" else {}
        rates: dict[str, list[float]] = {}
        with (
            server(work) as (url, headers, server_pid),
            httpx.Client(base_url=url, headers=headers, timeout=30) as api,
        ):
            try:
                if models:
                    rates = measure(api, url, server_pid, models, args, work)
                if args.only != "deploy":
                    recovery.run(api, url, headers, work, args.rate)
            finally:
                remove(api, [*models, recovery.NAME])
        if rates:
            direct, gateway = statistics.median(rates["direct"]), statistics.median(rates["gateway"])
            print(
                f"gbc 1-row /invocations, wrk -t2 -c{args.connections}, {args.rounds} x {args.seconds} s: "
                f"direct {direct:.0f} req/s, gateway {gateway:.0f} req/s, ratio {gateway / direct:.3f} "
                f"(cost {100 * (1 - gateway / direct):.1f}%)"
            )
        print(f"load average after: {load()}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
