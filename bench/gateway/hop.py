"""What running the gateway in its own process costs: one more loopback hop for every API call.

``modelyard server`` runs the inference gateway in a process of its own (``--gateway process``, the
default) that holds the public port, serves predictions and relays every other request to the API
process over a unix socket; ``--gateway inline`` is the old layout (gateway and API in one process).
This starts one server of each kind (temporary data dirs, SQLite, authentication on, one iris
LogisticRegression deployment each) and measures them one at a time, in ``--rounds`` interleaved
rounds (alternating which goes first):

1. ``runs/log-batch`` latency: ``--calls`` sequential calls of 10 metrics on one kept-alive httpx
   connection (median and p99, ms);
2. ``runs/log-batch`` throughput: wrk (2 threads, ``--connections``), every request new steps, for
   ``--seconds``; req/s, and CPU per request of the server's processes (API + gateway) and of the
   gateway alone (``gw``: what the relay costs);
3. 1-row ``/invocations`` throughput through the gateway, the same way (the replica's CPU apart);
4. 1-row ``/invocations`` latency, sequential, like 1.

Prints the medians of the rounds and the ratio process/inline for each, and the load average.

    .venv/bin/python bench/gateway/hop.py                      # about 2 minutes
    .venv/bin/python bench/gateway/hop.py --rounds 5 --seconds 10
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
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PYTHON = sys.executable
KINDS = ("process", "inline")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Server:
    kind: str
    url: str
    token: str
    pids: list[int]  # the API process, and the gateway's when it has one
    replica_pid: int = 0
    run_id: str = ""
    results: dict[str, list[float]] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def cpu(self) -> list[float]:
        """CPU seconds so far of the API process and of the gateway process (0 when inline)."""
        return [cpu_seconds(pid) for pid in self.pids] + [0.0] * (2 - len(self.pids))

    def add(self, name: str, value: float) -> None:
        self.results.setdefault(name, []).append(value)


@contextlib.contextmanager
def started(kind: str, work: Path) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = work / kind
    home.mkdir()
    config = home / "user-config.json"
    argv = [PYTHON, "-m", "modelyard", "server", "--port", str(port), "--data-dir", str(home / "data")]
    argv += ["--gateway", kind]
    env = {**os.environ, "MODELYARD_CONFIG": str(config)}
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    state = home / "data" / "gateway" / str(port) / "state.json"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{(home / 'server.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200 and config.exists():
                    break
            time.sleep(0.05)
        token = json.loads(config.read_text())["servers"][url]["token"]
        pids = [proc.pid] + ([json.loads(state.read_text())["pid"]] if kind == "process" else [])
        yield Server(kind, url, token, pids)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # it drains and stops its replica and gateway
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def prepare(server: Server, model_dir: Path, row: bytes) -> None:
    """A run to log to, and the iris model deployed with one replica."""
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as api:
        run = api.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()
        server.run_id = run["run"]["info"]["run_id"]
        api.post("/api/2.0/mlflow/registered-models/create", json={"name": "iris"}).raise_for_status()
        body = {"name": "iris", "source": str(model_dir)}
        api.post("/api/2.0/mlflow/model-versions/create", json=body).raise_for_status()
        spec = {"name": "iris", "predictors": [{"model": "models:/iris/1"}]}
        api.post("/deployment/api/", json=spec).raise_for_status()
        deadline = time.monotonic() + 120
        while api.post("/deployment/iris/invocations", content=row, headers=JSON).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.kind}: the deployment did not answer")
            time.sleep(0.1)
        detail = api.get("/deployment/api/iris").json()["result"]["status"]["replicas_detail"]
        server.replica_pid = int(detail[0]["pid"])


JSON = {"content-type": "application/json"}


def batch(run_id: str, step: int) -> bytes:
    metrics = [
        {"key": f"m{k}", "value": step / 7, "timestamp": 1_700_000_000_000 + step, "step": step}
        for k in range(10)
    ]
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()


def latency(server: Server, path: str, bodies: list[bytes]) -> tuple[float, float]:
    """(median, p99) in ms of sequential calls on one kept-alive connection, after one warm-up."""
    times: list[float] = []
    with httpx.Client(base_url=server.url, headers={**server.headers, **JSON}, timeout=30) as http:
        http.post(path, content=bodies[0]).raise_for_status()
        for body in bodies[1:]:
            began = time.perf_counter()
            response = http.post(path, content=body)
            times.append(time.perf_counter() - began)
            response.raise_for_status()
    times.sort()
    return 1000 * statistics.median(times), 1000 * times[int(0.99 * (len(times) - 1))]


def wrk(server: Server, path: str, lua_request: str, *, seconds: int, connections: int, work: Path) -> float:
    script = work / f"{server.kind}.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {server.token}"\n'
        "local counter = 0\n"
        "setup = function(thread) thread:set('tid', counter); counter = counter + 1 end\n"
        "local n = 0\n"
        f"{lua_request}\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("NON2XX %d ERRORS %d\\n", summary.errors.status,\n'
        "    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\n"
        "end\n"
    )
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), f"{server.url}{path}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"NON2XX (\d+) ERRORS (\d+)", out)
    if errors is None or int(errors[1]) or int(errors[2]):
        raise RuntimeError(f"failed requests during the run on {server.kind} {path}:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate is not None, out
    return float(rate[1])


def log_batch_lua(run_id: str, offset: int) -> str:
    """Each request logs 10 metrics at a step no other request used."""
    return (
        "request = function()\n"
        "  n = n + 1\n"
        f"  local step = {offset} + tid * 100000000 + n\n"
        "  local parts = {}\n"
        "  for k = 0, 9 do parts[#parts + 1] = string.format("
        '\'{"key":"m%d","value":%d,"timestamp":%d,"step":%d}\', k, step, 1700000000000 + step, step) end\n'
        f'  return wrk.format(nil, nil, nil, \'{{"run_id":"{run_id}","metrics":[\' .. table.concat(parts, ",") .. "]}}")\n'
        "end"
    )


def predict_lua(row: bytes) -> str:
    body = row.decode().replace("\\", "\\\\").replace("'", "\\'")
    return f"request = function() return wrk.format(nil, nil, nil, '{body}') end"


def round_of(server: Server, args: argparse.Namespace, row: bytes, work: Path, r: int) -> None:
    offset = (r + 1) * 10_000_000
    bodies = [batch(server.run_id, offset + i) for i in range(args.calls + 1)]
    p50, p99 = latency(server, "/api/2.0/mlflow/runs/log-batch", bodies)
    server.add("log-batch p50 ms", p50)
    server.add("log-batch p99 ms", p99)
    for name, path, lua in (
        ("log-batch", "/api/2.0/mlflow/runs/log-batch", log_batch_lua(server.run_id, offset + 5_000_000)),
        ("predict", "/deployment/iris/invocations", predict_lua(row)),
    ):
        before = server.cpu()
        rate = wrk(server, path, lua, seconds=args.seconds, connections=args.connections, work=work)
        api, gateway = (
            1e6 * (b - a) / (rate * args.seconds) for a, b in zip(before, server.cpu(), strict=True)
        )
        server.add(f"{name} req/s", rate)
        server.add(f"{name} CPU us/req", api + gateway)
        server.add(f"{name} gw CPU us/req", gateway)
    p50, p99 = latency(server, "/deployment/iris/invocations", [row] * (args.calls + 1))
    server.add("predict p50 ms", p50)
    server.add("predict p99 ms", p99)
    print(
        f"  round {r + 1} {server.kind:7s} log-batch {server.results['log-batch req/s'][-1]:6.0f} req/s "
        f"p50 {server.results['log-batch p50 ms'][-1]:.2f} ms | predict "
        f"{server.results['predict req/s'][-1]:6.0f} req/s p50 {server.results['predict p50 ms'][-1]:.2f} ms"
        f"   (load {load()})"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--calls", type=int, default=300, help="sequential calls per latency measurement")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (server logs)")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from modelyard.models import save_model

    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-gateway-"))
    try:
        print(f"load average before: {load()}  ({os.cpu_count()} CPUs)")
        features, labels = load_iris(return_X_y=True, as_frame=True)
        save_model(
            LogisticRegression(max_iter=300).fit(features, labels),
            work / "iris",
            input_example=features.head(2),
        )
        row = json.dumps({"dataframe_records": features.head(1).to_dict("records")}).encode()
        with started("process", work) as process, started("inline", work) as inline:
            servers = {"process": process, "inline": inline}
            for server in servers.values():
                prepare(server, work / "iris", row)
            for r in range(args.rounds):
                for kind in KINDS if r % 2 == 0 else KINDS[::-1]:
                    round_of(servers[kind], args, row, work, r)
        print(
            f"\nmedians of {args.rounds} rounds (wrk -t2 -c{args.connections}, {args.seconds} s; "
            f"{args.calls} sequential calls):"
        )
        print(f"{'':22s} {'process':>10s} {'inline':>10s} {'process/inline':>15s}")
        for name in process.results:
            a, b = statistics.median(process.results[name]), statistics.median(inline.results[name])
            ratio = f"{a / b:15.3f}" if b else f"{'-':>15s}"
            print(f"{name:22s} {a:10.2f} {b:10.2f} {ratio}")
        print(f"load average after: {load()}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
