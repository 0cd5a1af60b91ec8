"""The gateway as ``modelyard server`` runs it: its own app (``GatewayProcess``) on a loopback port in
front of the real API app on a unix socket, both real uvicorn servers. API calls pass through with
their bodies streamed both ways, the client's address, and the surface's 503 while the API is down;
``/metrics`` carries both processes' series; deployment changes reach the gateway at once."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from modelyard.api.app import create_app
from modelyard.api.gateway.process import GatewayProcess, build
from modelyard.api.gateway.relay import API_DOWN, ApiAddress
from modelyard.api.gateway.runfiles import Notifier, RunFiles, read_json, write_json
from modelyard.api.gateway.supervisor import bind_api
from modelyard.controller.backends.local import processes
from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.settings import Settings
from tests.conftest import auth_header
from tests.gateway.conftest import MAX_BODY, Deploy

ROW = {"inputs": [[5.1, 3.5, 1.4, 0.2]]}


class Served:
    """An ASGI app served by uvicorn in a thread on a socket of ours."""

    def __init__(self, app: Any, sock: socket.socket, **config: Any) -> None:
        self.sock = sock
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", **config))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


@dataclass
class Split:
    url: str
    files: RunFiles
    gateway: GatewayProcess
    api: Served

    def restart_api(self, app: FastAPI, path: Path) -> Served:
        """The API again, on another socket: what a restarted server publishes."""
        self.api = serve_api(app, path, self.files)
        notifier = Notifier(self.files)
        notifier.send(b"api")
        notifier.close()
        return self.api


def serve_api(app: FastAPI, path: Path, files: RunFiles) -> Served:
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    me = os.getpid()
    write_json(files.api, ApiAddress("unix", str(path), me, processes.identity(me)).to_json())
    return Served(app, sock, forwarded_allow_ips="*", timeout_keep_alive=75)


@pytest.fixture
def api_app(settings: Settings, services: Services) -> FastAPI:
    app = create_app(settings, services, gateway=Notifier(RunFiles.of(settings)))

    @app.get("/_test/client")
    async def client_address(request: Request) -> dict[str, Any]:
        host = request.client.host if request.client else None
        return {"host": host, "scheme": request.url.scheme, "base": str(request.base_url)}

    return app


@pytest.fixture
def split(settings: Settings, api_app: FastAPI, admin_token: str) -> Iterator[Split]:
    files = RunFiles.of(settings)
    files.make()
    api = serve_api(api_app, files.api_socket, files)
    app, db = build(settings, files, "test-fingerprint")
    app.listener = socket.socket()
    app.listener.bind(("127.0.0.1", 0))
    # trusts no proxy: a client's own X-Forwarded-For must not reach the API
    gateway = Served(app, app.listener, forwarded_allow_ips="")
    app.server = gateway.server
    url = f"http://127.0.0.1:{app.listener.getsockname()[1]}"
    found = Split(url, files, app, api)
    deadline = time.monotonic() + 10
    while (read_json(files.state) or {}).get("pid") != os.getpid():
        assert time.monotonic() < deadline, "the gateway did not write its state file"
        time.sleep(0.01)
    yield found
    gateway.stop()
    found.api.stop()
    db.dispose()


def test_api_calls_pass_through_with_the_clients_address(split: Split, admin_token: str) -> None:
    with httpx.Client(base_url=split.url, headers=auth_header(admin_token), timeout=30) as http:
        created = http.post("/api/2.0/mlflow/experiments/create", json={"name": "relayed"})
        assert created.status_code == 200, created.text
        experiment_id = created.json()["experiment_id"]
        run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}).json()
        run_id = run["run"]["info"]["run_id"]
        metrics = [
            {"key": "loss", "value": i / 10, "timestamp": 1_700_000_000_000, "step": i} for i in range(50)
        ]
        logged = http.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
        assert (logged.status_code, logged.json()) == (200, {})
        history = http.get(
            "/api/2.0/mlflow/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
        )
        assert [m["step"] for m in history.json()["metrics"]] == list(range(50))
        listed = http.get(
            "/experiment/api/",
            params={"form_data": '{"filters": [{"col": "name", "opr": "eq", "value": "relayed"}]}'},
        )
        assert [e["name"] for e in listed.json()["result"]["data"]] == ["relayed"]
        # the API sees the client as the gateway saw it, whatever X-Forwarded-For the client made up
        seen = http.get("/_test/client", headers={"x-forwarded-for": "6.6.6.6", "x-forwarded-proto": "https"})
        assert seen.json() == {"host": "127.0.0.1", "scheme": "http", "base": f"{split.url}/"}
        # an HTTP/1.0 client sends no Host: the API still learns the address it was called on
        with socket.create_connection(("127.0.0.1", int(split.url.rpartition(":")[2]))) as raw:
            raw.sendall(
                b"GET /_test/client HTTP/1.0\r\nAuthorization: Bearer " + admin_token.encode() + b"\r\n\r\n"
            )
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["base"] == f"{split.url}/"
        # the API's own refusals come back as they are
        anonymous = httpx.get(f"{split.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        assert anonymous.status_code == 401
        assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
        assert anonymous.headers["www-authenticate"] == 'Basic realm="modelyard", Bearer'


def test_large_bodies_stream_both_ways(split: Split, admin_token: str, services: Services) -> None:
    run = services.tracking.create_run(
        Principal.system(), experiment_id="0", user_id="u", start_time=1, tags={}, run_name=None
    )
    base = f"/api/2.0/mlflow-artifacts/artifacts/0/{run.run_id}/artifacts"
    blob = os.urandom(5 * 1024 * 1024 + 7)  # beyond MAX_BODY: artifact uploads are not limited

    def pieces() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for i in range(0, len(blob), 300_000):
            yield blob[i : i + 300_000]

    with httpx.Client(base_url=split.url, headers=auth_header(admin_token), timeout=60) as http:
        assert http.put(f"{base}/chunked.bin", content=pieces()).json() == {}
        assert http.put(f"{base}/sized.bin", content=blob).json() == {}
        for name in ("chunked.bin", "sized.bin"):
            with http.stream("GET", f"{base}/{name}") as download:
                assert download.status_code == 200
                got = b"".join(download.iter_bytes())
            assert got == blob
        too_big = http.post("/api/2.0/mlflow/runs/log-batch", content=b"x" * (MAX_BODY + 1))
        assert too_big.status_code == 413  # the API's limit, answered through the gateway
        head = http.head("/health")
        assert (head.status_code, head.content) == (405, b"")


def test_while_the_api_is_down_its_paths_answer_503_and_predictions_go_on(
    split: Split, api_app: FastAPI, admin_token: str, deploy: Deploy, replicas: list[str], tmp_path: Path
) -> None:
    deploy("iris", main=replicas[:1])
    with httpx.Client(base_url=split.url, headers=auth_header(admin_token), timeout=30) as http:
        assert http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).status_code == 200
        split.api.stop()
        mlflow = http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        assert (mlflow.status_code, mlflow.headers["retry-after"]) == (503, "1")
        assert mlflow.json() == {"error_code": "TEMPORARILY_UNAVAILABLE", "message": API_DOWN}
        resource = http.get("/deployment/api/")
        assert resource.status_code == 503
        assert resource.json() == {
            "status": 503,
            "message": API_DOWN,
            "error_code": "TEMPORARILY_UNAVAILABLE",
            "result": {},
        }
        prediction = http.post("/deployment/iris/invocations", json=ROW)
        assert prediction.status_code == 200, prediction.text
        split.restart_api(api_app, tmp_path / "api2.sock")
        assert http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).status_code == 200


def test_metrics_carry_the_gateways_series_too(
    split: Split, admin_token: str, deploy: Deploy, replicas: list[str], make_user: Any
) -> None:
    deploy("iris", main=replicas[:1])
    for _ in range(3):
        assert httpx.post(f"{split.url}/deployment/iris/invocations", json=ROW).status_code == 200
    text = httpx.get(f"{split.url}/metrics", headers=auth_header(admin_token)).text
    assert 'modelyard_gateway_requests_total{deployment="iris",predictor="main",code="200"} 3' in text
    assert 'modelyard_deployment_replicas_ready{deployment="iris"} 1' in text
    assert text.count("# TYPE modelyard_gateway_requests_total counter") == 1
    member = make_user("mona", group="team")
    refused = httpx.get(f"{split.url}/metrics", headers=member.headers)
    assert refused.status_code == 403
    assert "modelyard_gateway" not in refused.text


def test_token_changes_reach_the_gateway_at_once(
    split: Split, admin_token: str, deploy: Deploy, echoes: list[str], services: Services, admin: Principal
) -> None:
    """A client token made through the API works on the very next request, and a revoked one stops:
    the API tells the gateway process (the route cache alone would take up to half a second)."""
    deploy("secret", access="private", main=echoes[:1])
    with httpx.Client(base_url=split.url, timeout=30) as http:
        assert http.get("/deployment/secret/x").status_code == 401  # the route is cached now
        made = http.post(
            "/deployment/api/secret/tokens", json={"name": "app"}, headers=auth_header(admin_token)
        )
        assert made.status_code == 201, made.text
        token = made.json()["result"]["token"]
        assert http.get("/deployment/secret/x", headers=auth_header(token)).status_code == 200
        token_id = made.json()["result"]["id"]
        revoked = http.delete(f"/deployment/api/secret/tokens/{token_id}", headers=auth_header(admin_token))
        assert revoked.status_code == 200
        assert http.get("/deployment/secret/x", headers=auth_header(token)).status_code == 404


def test_a_data_dir_too_deep_for_a_unix_socket_puts_the_api_on_a_loopback_port(
    split: Split, api_app: FastAPI, admin_token: str, tmp_path: Path
) -> None:
    deep = RunFiles(tmp_path / ("d" * 120) / "gateway" / "5050")
    sock, address = bind_api(deep)
    assert address.kind == "tcp" and address.target.startswith("127.0.0.1:")
    assert (address.pid, address.ident) == (os.getpid(), processes.identity(os.getpid()))
    split.api.stop()
    write_json(split.files.api, address.to_json())
    split.api = Served(api_app, sock, timeout_keep_alive=75)
    with httpx.Client(base_url=split.url, headers=auth_header(admin_token), timeout=30) as http:
        assert http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).status_code == 200
        seen = http.get("/_test/client")
        assert seen.json()["host"] == "127.0.0.1"
        # an address whose process is gone is never connected to: its port may be someone else's now
        write_json(split.files.api, {**address.to_json(), "ident": "not-this-process"})
        split.gateway.relay.close()  # no pooled connection to the live API either
        gone = http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        assert (gone.status_code, gone.json()["message"]) == (503, API_DOWN)
