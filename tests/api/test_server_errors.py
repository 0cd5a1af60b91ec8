"""An unexpected exception (issue 12, item 7): a 500 in the surface's error shape, and the keep-alive
connection it came on keeps serving. The fault is real: a metric chunk damaged in the database (its
steps no longer a whole number of int64s), as a failing disk or a hand edit would leave it."""

from __future__ import annotations

import socket

import httpx
import orjson
from sqlalchemy import update

from modelyard.services import Services
from modelyard.storage.orm import MetricChunkRow
from tests.conftest import LiveServer, auth_header

API = "/api/2.0/mlflow"


def _damaged_run(live_server: LiveServer, services: Services, token: str) -> str:
    with httpx.Client(base_url=live_server.url, headers=auth_header(token)) as client:
        run_id = client.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"][
            "run_id"
        ]
        point = {"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
        assert client.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": [point]}).is_success
    with services.db.write() as s:
        s.execute(
            update(MetricChunkRow).where(MetricChunkRow.run_uuid == run_id).values(steps=b"\x01\x02\x03")
        )
    return str(run_id)


def _exchange(
    sock: socket.socket, reader: socket.SocketIO, path: str, token: str
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on an open connection; the status, headers and body of its answer."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    status_line = reader.readline()
    assert status_line, "the server closed the connection"
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers["content-length"]))
    return status, headers, body


def test_a_500_leaves_the_keep_alive_connection_usable(
    live_server: LiveServer, services: Services, admin_token: str
) -> None:
    run_id = _damaged_run(live_server, services, admin_token)
    broken = f"{API}/metrics/get-history?run_id={run_id}&metric_key=loss"
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        status, headers, body = _exchange(sock, reader, broken, admin_token)
        assert status == 500
        assert orjson.loads(body) == {
            "error_code": "INTERNAL_ERROR",
            "message": "Internal error; the server log has the details.",
        }
        assert headers.get("connection") != "close"
        # the same connection answers the next requests, the resource API's error shape included
        status, _, body = _exchange(sock, reader, f"{API}/runs/get?run_id={run_id}", admin_token)
        assert status == 200 and orjson.loads(body)["run"]["info"]["run_id"] == run_id
        status, _, body = _exchange(sock, reader, broken, admin_token)
        assert status == 500
        status, _, body = _exchange(sock, reader, "/experiment/api/0", admin_token)
        assert status == 200 and orjson.loads(body)["result"]["name"] == "Default"
