"""Forwarding through the real app: the three protocols of real serve-model replicas with exact
values, what is and is not passed on, load balancing, and retries past a dead replica."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import LiveServer
from tests.gateway.conftest import Deploy, gateway_of
from tests.models.trained import Iris

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def expected(sk_model: Any, iris: Iris) -> list[int]:
    frame = iris.X.iloc[:0].copy()
    for i, row in enumerate(ROWS):
        frame.loc[i] = row
    return [int(x) for x in sk_model.predict(frame)]


def test_mlflow_protocol(
    anonymous_http: TestClient, deploy: Deploy, replicas: list[str], sk_model: Any, iris: Iris
) -> None:
    deploy("iris", main=replicas[:1])
    want = expected(sk_model, iris)
    response = anonymous_http.post("/deployment/iris/invocations", json={"inputs": ROWS})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"predictions": want}
    csv = "\n".join(",".join(str(v) for v in row) for row in ROWS)
    columns = ",".join(iris.X.columns)
    as_csv = anonymous_http.post(
        "/deployment/iris/invocations",
        content=f"{columns}\n{csv}\n".encode(),
        headers={"content-type": "text/csv"},
    )
    assert as_csv.json() == {"predictions": want}
    assert anonymous_http.get("/deployment/iris/ping").status_code == 200
    bad = anonymous_http.post("/deployment/iris/invocations", json={"inputs": [[1.0]]})
    assert bad.status_code == 400  # the replica's own error, passed back as it is
    assert "message" in bad.json()


def test_open_inference_v2(
    anonymous_http: TestClient, deploy: Deploy, replicas: list[str], sk_model: Any, iris: Iris
) -> None:
    deploy("iris", main=replicas[:1])
    tensor = {"name": "x", "shape": [2, 4], "datatype": "FP64", "data": ROWS}
    response = anonymous_http.post(
        "/deployment/iris/v2/models/iris/infer", json={"id": "r1", "inputs": [tensor]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["id"]) == ("iris", "r1")
    assert body["outputs"][0]["data"] == expected(sk_model, iris)
    ready = anonymous_http.get("/deployment/iris/v2/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})
    missing = anonymous_http.get("/deployment/iris/v2/models/nope/ready")
    assert missing.status_code == 404 and "error" in missing.json()


def test_seldon_v1(
    anonymous_http: TestClient, deploy: Deploy, replicas: list[str], sk_model: Any, iris: Iris
) -> None:
    deploy("iris", main=replicas[:1])
    response = anonymous_http.post(
        "/deployment/iris/api/v1.0/predictions", json={"data": {"ndarray": ROWS}, "meta": {"puid": "p-1"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"names": [], "ndarray": expected(sk_model, iris)}
    assert response.json()["meta"]["puid"] == "p-1"
    assert response.headers["x-modelyard-predictor"] == "main"
    assert anonymous_http.get("/deployment/iris/api/v1.0/health/status").status_code == 200


def _headers(seen: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in seen["headers"]}


def test_path_query_headers_and_body_pass_authorization_does_not(
    http: TestClient, deploy: Deploy, echoes: list[str]
) -> None:
    deploy("echo", main=echoes[:1])
    response = http.put(
        "/deployment/echo/some/p%20ath?a=1&b=%20x&status=201",
        content=b"\x00raw body\xff",
        headers={"content-type": "application/x-thing", "x-trace": "t-1", "cookie": "session=secret"},
    )
    assert response.status_code == 201
    assert (response.headers["x-echo"], response.headers["content-type"]) == ("yes", "application/json")
    seen = response.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("PUT", "/some/p%20ath", "a=1&b=%20x&status=201")
    assert seen["body"] == "\x00raw body\xff"
    headers = _headers(seen)
    assert headers["content-type"] == "application/x-thing"
    assert headers["x-trace"] == "t-1"
    assert headers["content-length"] == "10"
    assert headers["host"] == echoes[0].removeprefix("http://")
    assert "authorization" not in headers and "cookie" not in headers


def test_large_bodies_and_chunked_answers_and_head(
    anonymous_http: TestClient, deploy: Deploy, echoes: list[str]
) -> None:
    deploy("echo", main=echoes[:1])
    big = b"x" * 200_000
    response = anonymous_http.post("/deployment/echo/big", content=big)
    assert response.status_code == 200 and response.json()["body"] == big.decode()
    chunked = anonymous_http.post("/deployment/echo/chunked?status=202", content=b"abc")
    assert chunked.status_code == 202
    assert chunked.json()["body"] == "abc"
    assert chunked.headers["content-length"] == str(len(chunked.content))
    head = anonymous_http.head("/deployment/echo/anything")
    assert (head.status_code, head.content) == (200, b"")
    root = anonymous_http.get("/deployment/echo")
    assert root.json()["path"] == "/"


def test_traffic_split_follows_the_shares(
    anonymous_http: TestClient, deploy: Deploy, echoes: list[str]
) -> None:
    deploy("canary", main=([echoes[0]], 70), canary=([echoes[1]], 30))
    got = Counter(
        anonymous_http.get("/deployment/canary/x").headers["x-modelyard-predictor"] for _ in range(100)
    )
    assert got == {"main": 70, "canary": 30}


def test_round_robin_across_replicas(anonymous_http: TestClient, deploy: Deploy, echoes: list[str]) -> None:
    deploy("two", main=echoes)
    servers = [anonymous_http.get("/deployment/two/x").json()["server"] for _ in range(10)]
    ports = {int(url.rpartition(":")[2]) for url in echoes}
    assert set(servers) == ports
    assert all(a != b for a, b in itertools.pairwise(servers))  # strictly alternating


def test_a_refused_connection_is_retried_on_another_replica(
    app: FastAPI, anonymous_http: TestClient, deploy: Deploy, echoes: list[str], dead_url: str
) -> None:
    deploy("half", main=[dead_url, echoes[0]])
    for _ in range(6):
        response = anonymous_http.get("/deployment/half/x")
        assert response.status_code == 200
    metrics = gateway_of(app).metrics.render().decode()
    assert 'modelyard_gateway_retries_total{deployment="half"} 3' in metrics
    assert 'modelyard_gateway_requests_total{deployment="half",predictor="main",code="200"} 6' in metrics


def test_all_replicas_refusing_is_a_503(anonymous_http: TestClient, deploy: Deploy, dead_url: str) -> None:
    deploy("dead", main=[dead_url])
    response = anonymous_http.post("/deployment/dead/invocations", json={"inputs": ROWS})
    assert response.status_code == 503
    assert response.json() == {
        "error_code": "TEMPORARILY_UNAVAILABLE",
        "message": "Deployment 'dead': no replica accepted the connection; try again shortly.",
    }


@pytest.mark.parametrize("requests", [200])
def test_concurrent_clients_through_a_real_server(
    live_server: LiveServer, deploy: Deploy, replicas: list[str], requests: int, sk_model: Any, iris: Iris
) -> None:
    """Real sockets and keep-alive pooling on both hops, many requests in flight at once."""
    deploy("iris", main=replicas)

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
            return await asyncio.gather(
                *(client.post("/deployment/iris/invocations", json={"inputs": ROWS}) for _ in range(requests))
            )

    responses = asyncio.run(run())
    assert {r.status_code for r in responses} == {200}
    assert all(r.json() == {"predictions": expected(sk_model, iris)} for r in responses)
