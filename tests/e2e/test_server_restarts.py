"""Prediction traffic through restarts of the API server, on real processes (issue 12 item 10), and
what a stopping server does with its replicas and gateway (issue 24 item 5).

One scenario, in order, because each step needs the processes of the one before: a deployment with two
replicas answers a client that loops requests on a kept-alive connection and on new connections,
while the server is killed with SIGKILL and started again 2 s later, then stopped with SIGTERM and
``--keep-replicas`` and started again, then started with other settings (its gateway is replaced);
not one request may fail, and the restarted servers adopt the same gateway. At the end, Ctrl-C
(SIGINT) without ``--keep-replicas`` drains and stops the replicas and the gateway and says so.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.api.gateway.relay import API_DOWN
from modelyard.client import Client
from tests.e2e.servers import (
    Load,
    ServerProcess,
    alive,
    cleanup,
    gateway_pids,
    processes_under,
    register,
    wait_for,
)
from tests.models.trained import Iris, iris  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def yard(tmp_path: Path, settings: Any) -> Iterator[ServerProcess]:
    env = {**os.environ, "MODELYARD_CONFIG": str(tmp_path / "config.json"), "MODELYARD_LOG_LEVEL": "warning"}
    for name in ("MODELYARD_STOP_REPLICAS_ON_EXIT", "MODELYARD_GATEWAY"):
        env.pop(name, None)
    (tmp_path / "data").mkdir()
    server = ServerProcess(tmp_path / "data", settings.database_url, env)
    try:
        yield server
    finally:
        cleanup(tmp_path, server)


def token_of(server: ServerProcess) -> str:
    config = json.loads((server.data_dir.parent / "config.json").read_text())
    return str(config["servers"][server.url]["token"])


def replica_pids(client: Client, name: str) -> set[int]:
    detail = client.deployments.get(name)["status"]["replicas_detail"]
    return {int(r["pid"]) for r in detail if r.get("pid")}


def test_predictions_survive_restarts_of_the_api_server(yard: ServerProcess, iris: Iris) -> None:  # noqa: F811
    from sklearn.linear_model import LogisticRegression

    server = yard
    server.start("--keep-replicas")
    token = token_of(server)
    auth = {"Authorization": f"Bearer {token}"}
    model = LogisticRegression(max_iter=300).fit(iris.array, iris.y)
    rows = iris.array[[0, 60, 120]]
    with Client(server.url, token) as client:
        assert register(client, model, "iris") == 1
        client.deployments.create("iris", model="models:/iris/1", replicas=2)
        assert client.deployments.wait("iris", timeout=120)["status"]["phase"] == "Deployed"
        replicas = replica_pids(client, "iris")
    assert len(replicas) == 2
    gateway = server.gateway()
    assert f"gateway: pid {gateway['pid']}, started" in server.output()
    expected = {"predictions": model.predict(rows).tolist()}
    predictions = f"{server.url}/deployment/iris/invocations"

    with Load(predictions, {"inputs": rows.tolist()}, expected) as load:
        # 1. kill -9 of the server, a new one 2 s later: the gateway and the replicas serve throughout
        server.kill()
        killed = time.monotonic()
        print(f"killed at {killed - load.began:.2f}s")
        assert alive(gateway["pid"]) and all(alive(pid) for pid in replicas)
        down = httpx.get(f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1", headers=auth)
        assert (down.status_code, down.headers["retry-after"]) == (503, "1")
        assert down.json() == {"error_code": "TEMPORARILY_UNAVAILABLE", "message": API_DOWN}
        time.sleep(2.0)
        server.start("--keep-replicas")
        assert load.answered_between(killed, time.monotonic()) > 0  # served while no server ran
        assert server.gateway()["pid"] == gateway["pid"]
        assert f"gateway: pid {gateway['pid']}, adopted" in server.output()
        with Client(server.url, token) as client:  # the API answers again, and adopts the replicas
            wait_for(lambda: client.deployments.get("iris")["status"]["phase"] == "Deployed", what="adoption")
            assert replica_pids(client, "iris") == replicas

        # 2. a graceful restart that keeps the replicas and the gateway
        assert server.stop(signal.SIGTERM) == 0
        stopped = time.monotonic()
        print(f"stopped with --keep-replicas at {stopped - load.began:.2f}s")
        assert (
            f"Shutting down the API; leaving 2 replica(s) of 1 deployment(s) and the gateway (pid "
            f"{gateway['pid']}, {server.url}) running: predictions go on, and the next `modelyard server` "
            "with this data dir adopts them." in server.output()
        )
        assert alive(gateway["pid"]) and all(alive(pid) for pid in replicas)
        server.start("--keep-replicas")
        assert load.answered_between(stopped, time.monotonic()) > 0
        assert f"gateway: pid {gateway['pid']}, adopted" in server.output()

        # 3. a server with other settings replaces the gateway: the new one takes the socket over
        assert server.stop(signal.SIGTERM) == 0
        print(f"replacing the gateway from {time.monotonic() - load.began:.2f}s")
        server.start(env={"MODELYARD_MAX_REQUEST_BYTES": str(32 * 1024 * 1024)})
        successor = server.gateway()
        assert successor["pid"] != gateway["pid"]
        assert f"gateway: pid {successor['pid']}, replaced" in server.output()
        wait_for(lambda: not alive(gateway["pid"]), what="the old gateway to drain and exit")
        replaced = time.monotonic()
        wait_for(lambda: load.answered_between(replaced, time.monotonic()) > 20, what="predictions")
        with Client(server.url, token) as client:
            wait_for(lambda: client.deployments.get("iris")["status"]["phase"] == "Deployed", what="adoption")
            assert replica_pids(client, "iris") == replicas
    assert load.failures == []
    assert len(load.successes) > 100
    assert list(gateway_pids(server.data_dir)) == [successor["pid"]]

    # 4. Ctrl-C without --keep-replicas: the replicas drain and stop, then the gateway
    assert server.stop(signal.SIGINT) == 0
    output = server.output()
    assert (
        "Shutting down: the API stops; 2 replica(s) of 1 deployment(s) drain and stop, then the gateway "
        "(`--keep-replicas` leaves them serving for the next server)." in output
    )
    names = sorted(line.split()[2] for line in output.splitlines() if line.startswith("  stopped replica"))
    assert len(names) == 2 and all(name.startswith("iris/main-") for name in names), output
    assert f"Stopping the gateway (pid {successor['pid']}): it finishes the requests in flight." in output
    assert output.rstrip().endswith("Stopped: the API, 2 replica(s) and the gateway.")
    assert not any(alive(pid) for pid in replicas | {successor["pid"]})
    assert not processes_under(server.data_dir)
    assert not (server.data_dir / "gateway" / str(server.port) / "state.json").exists()


def test_one_server_per_port_and_data_dir_and_inline_mode_frees_the_port(yard: ServerProcess) -> None:
    server = yard
    server.start()
    first = server.proc
    gateway = server.gateway()
    second = server.launch()
    assert second.wait(60) == 1
    assert (
        f"Another modelyard server (pid {first.pid if first else '?'}) uses port {server.port} with this "
        f"data dir ({server.data_dir}); stop it first, or use another --port or --data-dir."
        in server.output()
    )
    # a killed server leaves its gateway; an inline server on that port stops it and serves itself
    server.proc = first
    server.kill()
    assert alive(gateway["pid"])
    server.start("--gateway", "inline")
    assert f"Stopping the gateway process (pid {gateway['pid']}) on this port: --gateway inline." in (
        server.output()
    )
    assert not alive(gateway["pid"])
    assert list(gateway_pids(server.data_dir)) == []
    refused = httpx.post(f"{server.url}/deployment/nope/invocations", json={})
    assert refused.status_code == 401  # the inline gateway answers
    assert server.stop(signal.SIGTERM) == 0
    assert server.output().rstrip().endswith("Shutting down.\nStopped: the API.")
