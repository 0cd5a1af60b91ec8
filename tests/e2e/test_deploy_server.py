"""Deployments end to end on real processes: a `modelyard server` process (controller, gateway), its
replicas (`modelyard serve-model` processes), the Python client and the CLI, as a user runs them.

One scenario, in order, because each step needs the previous one's processes: deploy a registered
model, predict through the gateway with the three protocols, scale, update to a new version while a
client keeps sending requests (none may fail), kill -9 the server and start a new one (the replicas
are adopted and keep serving), stop (503 with a clear message), start, and delete (no process left).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelyard.client import Client
from modelyard.models import log_model
from modelyard.serving.output import STAMP, unstamped
from tests.models.trained import Iris, iris  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def processes_under(root: Path) -> set[int]:
    """Processes whose command line names a path under ``root`` (the replicas of this test's server)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(root).encode() in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


class Server:
    """`modelyard server` in its own process, on a data dir that outlives it (so a new one can adopt)."""

    def __init__(self, data_dir: Path, database_url: str, env: dict[str, str]) -> None:
        self.data_dir, self.database_url, self.env = data_dir, database_url, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "modelyard.cli.entry", "server", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir), "--backend-store-uri", self.database_url]
        with (self.data_dir / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.data_dir / "server.log").read_text()[-3000:])
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@dataclass
class Platform:
    server: Server
    client: Client
    token: str
    pids: set[int] = field(default_factory=set)  # every replica seen: killed at the end, whatever happens

    def replica_pids(self, name: str) -> list[int]:
        detail = self.client.deployments.get(name)["status"]["replicas_detail"]
        pids = [int(r["pid"]) for r in detail if r.get("pid")]
        self.pids.update(pids)
        return pids

    def replica_names(self, name: str) -> list[str]:
        return [r["name"] for r in self.client.deployments.get(name)["status"]["replicas_detail"]]


@pytest.fixture
def platform(tmp_path: Path, settings: Any) -> Iterator[Platform]:
    env = {**os.environ, "MODELYARD_CONFIG": str(tmp_path / "config.json"), "MODELYARD_LOG_LEVEL": "info"}
    env["MODELYARD_STOP_REPLICAS_ON_EXIT"] = "true"
    server = Server(tmp_path / "data", settings.database_url, env)
    server.data_dir.mkdir()
    server.start()
    token = json.loads((tmp_path / "config.json").read_text())["servers"][server.url]["token"]
    with Client(server.url, token) as client:
        found = Platform(server, client, token)
        try:
            yield found
        finally:
            try:
                server.terminate()  # with stop-replicas-on-exit, the server drains its replicas
            except subprocess.TimeoutExpired:
                server.kill()
            for pid in found.pids | processes_under(tmp_path):  # whatever a failed test left behind
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def register(client: Client, model: Any, name: str) -> int:
    with client.start_run(experiment_name="deploy-e2e") as run:
        log_model(model, "model", run=run)
    return int(client.registry.register_from_run(run.run_id, name)["version"])


def test_deployment_lifecycle_on_real_processes(platform: Platform, iris: Iris) -> None:  # noqa: F811
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    server, client = platform.server, platform.client
    v1_model = LogisticRegression(max_iter=300).fit(iris.array, iris.y)
    v2_model = DecisionTreeClassifier(max_depth=1, random_state=0).fit(iris.array, iris.y)
    assert register(client, v1_model, "iris") == 1
    assert register(client, v2_model, "iris") == 2
    rows = iris.array[[0, 60, 120]]
    base = f"{server.url}/deployment/iris-prod"

    # deploy, and time it to the first prediction through the gateway
    began = time.monotonic()
    client.deployments.create("iris-prod", model="models:/iris/1")
    deployed = client.deployments.wait("iris-prod", timeout=90)
    assert deployed["status"]["phase"] == "Deployed"
    assert deployed["status"]["endpoint"] == "/deployment/iris-prod"
    answer = httpx.post(f"{base}/invocations", json={"inputs": rows.tolist()}, timeout=10)
    print(f"deploy to first prediction: {time.monotonic() - began:.2f} s")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": v1_model.predict(rows).tolist()}

    # the three protocols through the gateway
    seldon = httpx.post(f"{base}/api/v1.0/predictions", json={"data": {"ndarray": rows.tolist()}}, timeout=10)
    assert seldon.status_code == 200, seldon.text
    assert np.ravel(seldon.json()["data"]["ndarray"]).tolist() == v1_model.predict(rows).tolist()
    v2_body = {
        "inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": rows.ravel().tolist()}]
    }
    v2 = httpx.post(f"{base}/v2/models/iris-prod/infer", json=v2_body, timeout=10)
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == v1_model.predict(rows).tolist()

    # scale 1 -> 3 -> 1
    client.deployments.scale("iris-prod", 3)
    scaled = client.deployments.wait("iris-prod", timeout=90)
    assert (scaled["status"]["replicas"], scaled["status"]["available_replicas"]) == (3, 3)
    assert len(set(platform.replica_pids("iris-prod"))) == 3
    client.deployments.scale("iris-prod", 1)
    down = client.deployments.wait("iris-prod", timeout=90)
    assert (down["status"]["replicas"], down["status"]["available_replicas"]) == (1, 1)

    # update to version 2 while a client sends requests: none fails, and v2 answers afterwards
    failures: list[str] = []
    answered = [0]
    done = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=10) as http:
            while not done.is_set():
                r = http.post(f"{base}/invocations", json={"inputs": rows.tolist()})
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                answered[0] += 1

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        client.deployments.update("iris-prod", {"predictors": [{"name": "main", "model": "models:/iris/2"}]})
        updated = client.deployments.wait("iris-prod", timeout=90)
        time.sleep(1.0)
    finally:
        done.set()
        sender.join()
    assert failures == []
    assert answered[0] > 10
    assert updated["models"]["main"]["version"] == "2"
    answer = httpx.post(f"{base}/invocations", json={"inputs": rows.tolist()}, timeout=10)
    assert answer.json() == {"predictions": v2_model.predict(rows).tolist()}

    # kill -9 the server: the replica keeps running; a new server adopts it and serves at once
    before = platform.replica_pids("iris-prod")
    server.kill()
    assert all(alive(pid) for pid in before)
    server.start()
    answer = httpx.post(f"{base}/invocations", json={"inputs": rows.tolist()}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": v2_model.predict(rows).tolist()}
    time.sleep(2.0)  # a few controller ticks
    adopted = client.deployments.wait("iris-prod", timeout=60)
    assert adopted["status"]["phase"] == "Deployed"
    assert platform.replica_pids("iris-prod") == before

    # stop: 503 with a message that says what to do; start serves again
    client.deployments.stop("iris-prod")
    stopped = client.deployments.wait("iris-prod", timeout=60, until=frozenset({"Stopped"}))
    assert stopped["status"]["replicas"] == 0
    assert not any(alive(pid) for pid in before)
    refused = httpx.post(f"{base}/invocations", json={"inputs": rows.tolist()}, timeout=10)
    assert refused.status_code == 503
    assert "stopped" in refused.text and "start" in refused.text
    client.deployments.start("iris-prod")
    client.deployments.wait("iris-prod", timeout=90)
    answer = httpx.post(f"{base}/invocations", json={"inputs": rows.tolist()}, timeout=10)
    assert answer.json() == {"predictions": v2_model.predict(rows).tolist()}

    # the CLI sees the same deployment
    cli_env = {**os.environ, "COLUMNS": "200", "MODELYARD_URL": server.url, "MODELYARD_TOKEN": platform.token}
    shown = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.entry", "deploy", "list"],
        check=False,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "iris-prod" in shown.stdout and "Deployed" in shown.stdout

    # logs a person can use: a request the replica refuses is in its log, with the reason
    bad = httpx.post(f"{base}/invocations", json={"inputs": [[1.0, 2.0]]}, timeout=10)
    assert bad.status_code == 400, bad.text
    reason = bad.json()["message"]

    def logs(*flags: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "modelyard.cli.entry", "logs", "iris-prod", *flags],
            check=False,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    [current] = platform.replica_names("iris-prod")
    lines = logs("--tail", "1000")
    assert lines and all(line.startswith(f"[{current}] ") for line in lines), lines
    assert all(STAMP.match(line.split("] ", 1)[1]) for line in lines), lines
    texts = [unstamped(line.split("] ", 1)[1]) for line in lines]
    assert f"WARNING modelyard.serving: POST /invocations -> 400: {reason}" in texts
    assert any(t.startswith("[modelyard controller] ready: answered its readiness probe") for t in texts)
    # --all adds the replicas that are gone: scaled down, replaced by the update, stopped
    gone = {line.split("] ", 1)[0][1:] for line in logs("--all", "--tail", "1000")} - {current}
    assert len(gone) >= 4, gone
    # and the server's own log says what the controller did
    told = (server.data_dir / "server.log").read_text()
    assert "INFO modelyard.controller: deployment 'iris-prod' (generation 1): starting 1 replica(s)" in told
    assert "deployment 'iris-prod' (generation 1): Deploying -> Deployed: Deployed: 1 of 1" in told
    assert f"INFO modelyard.controller: replica iris-prod/{current}: started (pid " in told
    assert "(replaced: the spec changed (generation 4)): sent SIGTERM" in told

    # delete: every replica process is gone
    last = platform.replica_pids("iris-prod")
    client.deployments.delete("iris-prod")
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in last) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in last)
    # gone: answered like any name that does not exist (401 without credentials, 404 with them)
    assert httpx.post(f"{base}/invocations", json={"inputs": rows.tolist()}, timeout=10).status_code == 401
    gone = httpx.post(f"{base}/invocations", json={}, headers={"Authorization": f"Bearer {platform.token}"})
    assert gone.status_code == 404
