"""The gateway's own errors speak the protocol of the route (issue 24 item 8): Seldon's status object
under /api/v1.0/ and /api/v0.1/ (and the wrapper's /predict), V2's {"error"} under /v2/, MLflow's
{"error_code", "message"} under /invocations and /ping — for 401, 404, 413, 502, 503 and 504, with the
exact bodies."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.conftest import auth_header
from tests.gateway.conftest import MAX_BODY, Deploy, gateway_of

SELDON = ("/api/v1.0/predictions", "/api/v0.1/predictions", "/predict")
V2 = ("/v2/models/m/infer",)
MLFLOW = ("/invocations", "/ping")


def expected(path: str, status: int, code: str, message: str) -> dict[str, Any]:
    if path.startswith("/v2"):
        return {"error": message}
    if path.startswith(("/api/v", "/predict")):
        return {"status": {"code": status, "info": message, "reason": code, "status": "FAILURE"}}
    return {"error_code": code, "message": message}


def call(client: TestClient, name: str, path: str, **kwargs: Any) -> Any:
    if path == "/ping":
        return client.get(f"/deployment/{name}{path}", headers=kwargs.get("headers"))
    return client.post(f"/deployment/{name}{path}", **kwargs)


@pytest.fixture
def black_hole() -> Iterator[str]:
    """Accepts connections (the kernel does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def nonsense() -> Iterator[str]:
    """Answers every request with bytes that are not HTTP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"SPDY/9 nonsense\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.mark.parametrize("path", SELDON + V2 + MLFLOW)
def test_refusals_in_the_shape_of_the_protocol(
    path: str,
    app: FastAPI,
    anonymous_http: TestClient,
    deploy: Deploy,
    echoes: list[str],
    dead_url: str,
    black_hole: str,
    nonsense: str,
    services: Services,
    admin: Principal,
) -> None:
    deploy("private", access="private", main=echoes[:1])
    deploy("stopped", main=echoes[:1])
    services.deployments.stop(admin, "stopped")
    deploy("dead", main=[dead_url])
    deploy("slow", main=[black_hole])
    deploy("broken", main=[nonsense])
    deploy("open", main=echoes[:1])
    gateway_of(app).upstream.timeout_s = 0.3

    anonymous = call(anonymous_http, "private", path, json={})
    assert anonymous.status_code == 401
    assert anonymous.json() == expected(
        path,
        401,
        "UNAUTHENTICATED",
        "Deployment 'private' was not found, or it is private: send one of its client tokens as "
        "'Authorization: Bearer <token>' (`modelyard deploy tokens private create` makes one), or the "
        "token of a user with a role in its group.",
    )
    missing = call(anonymous_http, "nosuch", path, json={}, headers=auth_header("myd_x"))
    assert missing.status_code == 404
    assert missing.json() == expected(
        path,
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Deployment 'nosuch' was not found, or these credentials give no access to it: a private "
        "deployment takes one of its client tokens (`modelyard deploy tokens nosuch create` makes one) "
        "or the credentials of a user with a role in its group; `modelyard deploy list` shows the "
        "deployments you can see.",
    )
    stopped = call(anonymous_http, "stopped", path, json={})
    assert stopped.status_code == 503
    assert stopped.json() == expected(
        path, 503, "TEMPORARILY_UNAVAILABLE", "Deployment 'stopped' is stopped; start it to serve again."
    )
    dead = call(anonymous_http, "dead", path, json={})
    assert (dead.status_code, dead.headers["retry-after"]) == (503, "1")
    assert dead.json() == expected(
        path,
        503,
        "TEMPORARILY_UNAVAILABLE",
        "Deployment 'dead': no replica accepted the connection; try again shortly.",
    )
    slow = call(anonymous_http, "slow", path, json={})
    assert slow.status_code == 504
    assert slow.json() == expected(
        path, 504, "DEADLINE_EXCEEDED", "Deployment 'slow': the replica did not answer within 0.3 s."
    )
    broken = call(anonymous_http, "broken", path, json={})
    assert broken.status_code == 502
    assert broken.json() == expected(
        path,
        502,
        "TEMPORARILY_UNAVAILABLE",
        "Deployment 'broken': bad answer from a replica: malformed status line b'SPDY/9 nonsense'.",
    )
    if path != "/ping":
        large = call(anonymous_http, "open", path, content=b"x" * (MAX_BODY + 1))
        assert large.status_code == 413
        assert large.json() == expected(
            path,
            413,
            "REQUEST_LIMIT_EXCEEDED",
            f"Request body exceeds the limit of {MAX_BODY} bytes (MODELYARD_MAX_REQUEST_BYTES).",
        )
