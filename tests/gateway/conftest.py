"""Real upstreams for the gateway: ``modelyard serve-model`` processes on an iris model trained here,
and small echo servers (uvicorn on loopback) that answer with what they received; deployments whose
replica status points at them (the controller is off in tests, so nothing else changes it)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from modelyard.api.gateway.proxy import Gateway
from modelyard.domain.deployments import Phase, Replica, ReplicaState
from modelyard.domain.identity import Principal
from modelyard.models import save_model
from modelyard.services import Services
from modelyard.settings import Settings
from tests.models.trained import Iris, iris, sk_model  # noqa: F401 (fixtures)

READY = re.compile(r"serving model '[^']+' \([^)]+\) on (?P<url>http://\S+): ready")
MAX_BODY = 256 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small body limit, so the 413 test sends little."""
    return settings.model_copy(update={"max_request_bytes": MAX_BODY})


@pytest.fixture(scope="session")
def iris_dir(tmp_path_factory: pytest.TempPathFactory, iris: Iris, sk_model: Any) -> Path:  # noqa: F811
    path = tmp_path_factory.mktemp("gateway") / "iris"
    save_model(sk_model, path, input_example=iris.X.head(2))
    return path


def _serve_model(model_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "modelyard.cli.serve_model", "--model-uri", str(model_dir)),
            *("--port", "0", "--model-name", "iris", "--model-version", "1"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    match = READY.search(line)
    if match is None:
        process.kill()
        raise RuntimeError(f"serve-model did not start: {line}{process.communicate(timeout=10)[1]}")
    return process, match["url"]


@pytest.fixture(scope="session")
def replicas(iris_dir: Path) -> Iterator[list[str]]:
    """Two serve-model processes on the iris model; their base URLs."""
    started: list[tuple[subprocess.Popen[str], str]] = []
    try:
        for _ in range(2):
            started.append(_serve_model(iris_dir))
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.kill()
            process.communicate(timeout=10)


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with what it got; ``?status=N`` sets the status, ``/chunked`` streams the answer."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    query = scope["query_string"].decode()
    seen = {
        "server": scope["server"][1],
        "method": scope["method"],
        "path": scope["raw_path"].decode(),
        "query": query,
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "body": body.decode("latin-1"),
    }
    payload = orjson.dumps(seen)
    status = int(query.partition("status=")[2][:3] or 200)
    headers = [(b"content-type", b"application/json"), (b"x-echo", b"yes")]
    if scope["path"] == "/chunked":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for i in range(0, len(payload), 7):
            await send({"type": "http.response.body", "body": payload[i : i + 7], "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers.append((b"content-length", b"%d" % len(payload)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class _Echo:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(_echo, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "echo server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="session")
def echoes() -> Iterator[list[str]]:
    """Two echo servers; their base URLs."""
    servers = [_Echo(), _Echo()]
    yield [s.url for s in servers]
    for server in servers:
        server.stop()


@pytest.fixture
def dead_url() -> str:
    """A loopback address where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


Deploy = Callable[..., dict[str, Any]]


@pytest.fixture
def deploy(services: Services, admin: Principal, iris_dir: Path) -> Deploy:
    """Create a deployment in group 'team' whose predictors' ready replicas are the given URLs:
    ``deploy("d", main=[url, ...])`` or ``deploy("d", a=([url], 70), b=([url], 30))``."""
    if "team" not in {g.name for g in services.identity.list_groups(admin)}:
        services.identity.create_group(admin, name="team")
    services.registry.create_registered_model(admin, name="m", group="team")
    services.registry.create_model_version(admin, name="m", source=str(iris_dir))

    def make(
        name: str,
        *,
        access: str = "public",
        phase: Phase = Phase.DEPLOYED,
        message: str = "",
        **predictors: list[str] | tuple[list[str], int],
    ) -> dict[str, Any]:
        shaped = {
            p: (urls, 100) if isinstance(urls, list) else urls
            for p, urls in (predictors or {"main": []}).items()
        }
        spec = {
            "endpoint": {"access": access},
            "predictors": [
                {"name": p, "model": "models:/m/1", "traffic": share} for p, (_, share) in shaped.items()
            ],
        }
        view = services.deployments.create(admin, name, spec, group="team")
        replicas = [
            Replica(f"{p}-{i}", p, "t", ReplicaState.READY, url=url)
            for p, (urls, _) in shaped.items()
            for i, url in enumerate(urls)
        ]
        services.deployments.report_status(view["id"], 1, phase, message, replicas)
        return view

    return make


def gateway_of(app: FastAPI) -> Gateway:
    """The app's Gateway instance (built with the middleware stack on the first request)."""
    layer: Any = app.middleware_stack
    while not isinstance(layer, Gateway):
        layer = layer.app
    return layer
