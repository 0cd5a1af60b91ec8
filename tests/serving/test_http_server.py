"""modelyard's own HTTP/1.1 server (``serving/http_server.py``), over real sockets on loopback:
the same answers as the ASGI app, keep-alive, pipelining in order, chunked bodies, 100-continue,
the body limit answered before the body is read, malformed requests, HEAD, HTTP/1.0, the idle
timeout and the graceful stop."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.serving.dataplane import DataPlane
from modelyard.serving.http_server import HttpServer
from modelyard.serving.rest import ServingApp
from modelyard.serving.runtime import ModelRuntime, RuntimeOptions
from modelyard.serving.server import bind
from tests.serving import test_runtime_kit as kit
from tests.serving.test_runtime_kit import serving

iris_dir = kit.iris_dir
sleeper_dir = kit.sleeper_dir  # fixtures shared by the serving tests

LIMIT = 4096
SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]


class Running:
    def __init__(self, http: HttpServer, port: int, thread: threading.Thread) -> None:
        self.http, self.port, self.thread = http, port, thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock


def start(model_dir: Path, *, keepalive: float = 5.0, options: RuntimeOptions | None = None) -> Running:
    runtime = ModelRuntime(model_dir, name="iris", options=options)
    runtime.load()
    http = HttpServer(ServingApp(DataPlane(runtime), max_body_bytes=LIMIT), keepalive_seconds=keepalive)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=lambda: asyncio.run(http.serve(sock)), daemon=True)
    thread.start()
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    return Running(http, port, thread)


@pytest.fixture
def server(iris_dir: Path) -> Iterator[Running]:
    running = start(iris_dir, keepalive=0.5)
    yield running
    running.http.stop()
    running.thread.join(timeout=10)


def post(path: str, document: object, *, extra: str = "", version: str = "1.1") -> bytes:
    body = json.dumps(document).encode()
    head = (
        f"POST {path} HTTP/{version}\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def read_answer(
    sock: socket.socket, buffer: bytearray, *, head: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """One answer from ``sock``; ``buffer`` keeps what arrived past it (pipelined answers)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {bytes(buffer)!r}")
        buffer += chunk
    header, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *lines = header.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = 0 if head else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    buffer[:] = rest[length:]
    return int(status_line.split()[1]), headers, rest[:length]


def closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_answers_the_same_bytes_as_the_asgi_app(server: Running, iris_dir: Path) -> None:
    requests = [
        ("/invocations", {"inputs": [SETOSA, VIRGINICA]}),
        ("/api/v1.0/predictions", {"data": {"ndarray": [SETOSA]}, "meta": {"puid": "p-1"}}),
        (
            "/v2/models/iris/infer",
            {"id": "r-1", "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": SETOSA}]},
        ),
        ("/invocations", {"inputs": [[1.0]]}),  # wrong shape: the error body too
    ]
    with serving(iris_dir, name="iris") as (client, _):
        expected = [(r.status_code, r.content) for r in (client.post(p, json=d) for p, d in requests)]
    with httpx.Client(base_url=server.url) as http:
        actual = [(r.status_code, r.content) for r in (http.post(p, json=d) for p, d in requests)]
    assert actual == expected
    assert [status for status, _ in actual] == [200, 200, 200, 400]
    assert json.loads(actual[0][1]) == {"predictions": [0, 2]}


def test_keep_alive_answers_in_order_and_pipelined_requests_too(server: Running) -> None:
    with server.connect() as sock:
        buffer = bytearray()
        sock.sendall(post("/invocations", {"inputs": [SETOSA]}))
        status, headers, body = read_answer(sock, buffer)
        assert (status, json.loads(body)) == (200, {"predictions": [0]})
        assert headers["content-type"] == "application/json"
        assert headers["content-length"] == str(len(body))
        assert headers["date"].endswith("GMT") and "connection" not in headers
        # three requests in one write: three answers, in the order asked
        order = [VIRGINICA, SETOSA, VIRGINICA]
        sock.sendall(b"".join(post("/invocations", {"inputs": [row]}) for row in order))
        answers = [read_answer(sock, buffer) for _ in order]
        assert [json.loads(body)["predictions"] for _, _, body in answers] == [[2], [0], [2]]


def test_a_chunked_body_is_read_whole(server: Running) -> None:
    body = json.dumps({"inputs": [VIRGINICA]}).encode()
    halves = [body[:10], body[10:]]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in halves) + b"0\r\n\r\n"
    with server.connect() as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + chunked
        )
        status, _, answer = read_answer(sock, bytearray())
    assert (status, json.loads(answer)) == (200, {"predictions": [2]})


def test_a_body_over_the_limit_is_refused_before_it_is_sent(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /v2/models/iris/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 1000000\r\n\r\n"  # and no body: the answer must not wait for it
        )
        status, headers, body = read_answer(sock, bytearray())
        assert status == 413
        assert headers["connection"] == "close"
        assert json.loads(body) == {
            "error": "the request body (1000000 bytes) is larger than this server's limit of "
            f"{LIMIT} bytes (--max-body-bytes)"
        }
        assert closed(sock)


def test_a_refusal_behind_a_pipelined_request_comes_after_its_answer(server: Running) -> None:
    with server.connect() as sock:
        buffer = bytearray()
        sock.sendall(
            post("/invocations", {"inputs": [SETOSA]})
            + b"POST /invocations HTTP/1.1\r\nhost: x\r\ncontent-length: 99999\r\n\r\n"
        )
        first, second = read_answer(sock, buffer), read_answer(sock, buffer)
        assert (first[0], json.loads(first[2]), "connection" in first[1]) == (
            200,
            {"predictions": [0]},
            False,
        )
        assert (second[0], second[1]["connection"]) == (413, "close")
        assert closed(sock)


def test_a_chunked_body_growing_past_the_limit_is_refused(server: Running) -> None:
    part = b"x" * 3000
    with server.connect() as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + (b"%x\r\n%s\r\n" % (len(part), part)) * 2
        )
        status, _, body = read_answer(sock, bytearray())
        assert status == 413
        assert json.loads(body)["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert "(6000 bytes)" in json.loads(body)["message"]
        assert closed(sock)


def test_expect_100_continue_gets_a_continue_then_the_answer(server: Running) -> None:
    body = json.dumps({"inputs": [SETOSA]}).encode()
    with server.connect() as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"expect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(body)
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        status, _, answer = read_answer(sock, bytearray())
    assert (status, json.loads(answer)) == (200, {"predictions": [0]})


def test_a_malformed_request_is_a_400_and_the_connection_closes(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\ncontent-length: banana\r\n\r\n")
        status, headers, body = read_answer(sock, bytearray())
        assert status == 400
        assert body.startswith(b"malformed HTTP request: ")
        assert headers["connection"] == "close"
        assert closed(sock)
    with httpx.Client(base_url=server.url) as http:  # and the server goes on
        assert http.get("/v2/health/live").json() == {"live": True}


def test_head_query_strings_and_escaped_paths(server: Running) -> None:
    with server.connect() as sock:
        buffer = bytearray()
        sock.sendall(b"HEAD /v2/health/ready HTTP/1.1\r\nhost: x\r\n\r\n")
        status, headers, body = read_answer(sock, buffer, head=True)
        assert (status, headers["content-length"], body) == (200, str(len(b'{"ready":true}')), b"")
        sock.sendall(b"GET /v2/health/live?verbose=1 HTTP/1.1\r\nhost: x\r\n\r\n")
        assert read_answer(sock, buffer)[2] == b'{"live":true}'
        sock.sendall(b"GET /v2/models/%69ris/ready HTTP/1.1\r\nhost: x\r\n\r\n")
        status, _, body = read_answer(sock, buffer)
        assert (status, json.loads(body)) == (200, {"name": "iris", "ready": True})
        sock.sendall(b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n")
        status, _, body = read_answer(sock, buffer)
        assert status == 404 and "no endpoint /nowhere" in json.loads(body)["message"]


def test_http_1_0_closes_after_the_answer_unless_asked_to_keep_alive(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(post("/invocations", {"inputs": [SETOSA]}, version="1.0"))
        status, headers, _ = read_answer(sock, bytearray())
        assert (status, headers["connection"]) == (200, "close")
        assert closed(sock)
    with server.connect() as sock:
        sock.sendall(
            post("/invocations", {"inputs": [SETOSA]}, version="1.0", extra="connection: keep-alive\r\n")
        )
        assert read_answer(sock, bytearray())[0] == 200
        sock.sendall(
            post("/invocations", {"inputs": [VIRGINICA]}, version="1.0", extra="connection: keep-alive\r\n")
        )
        assert json.loads(read_answer(sock, bytearray())[2]) == {"predictions": [2]}


def test_an_idle_keep_alive_connection_is_closed(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(post("/invocations", {"inputs": [SETOSA]}))
        assert read_answer(sock, bytearray())[0] == 200
        assert closed(sock)  # after keepalive_seconds (0.5 s here) with nothing sent
    assert server.http.connections == set()


def test_stop_finishes_in_flight_requests_and_refuses_new_connections(sleeper_dir: Path) -> None:
    running = start(sleeper_dir, options=RuntimeOptions(predict_mode="thread"))
    answers: list[httpx.Response] = []

    def slow() -> None:
        answers.append(httpx.post(f"{running.url}/invocations", json={"inputs": [[1.0]]}, timeout=30))

    caller = threading.Thread(target=slow)
    caller.start()
    time.sleep(0.4)  # the request is in the model now
    running.http.stop()
    time.sleep(0.2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=2)
    caller.join(timeout=20)
    running.thread.join(timeout=20)
    assert not running.thread.is_alive()
    assert [(r.status_code, r.json()) for r in answers] == [(200, {"predictions": [1.0]})]
    assert answers[0].headers["connection"] == "close"
