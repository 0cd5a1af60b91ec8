"""``GET /metrics`` on the server: the gateway's counters move as requests flow, and each deployment's
replicas and phase are reported; only platform admins may read it."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import UserCreds
from tests.gateway.conftest import Deploy

ROW = [[5.1, 3.5, 1.4, 0.2]]


def sample(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{series} not in:\n{text}"
    return float(found[1])


def test_metrics_count_gateway_requests_and_report_deployments(
    http: TestClient, anonymous_http: TestClient, deploy: Deploy, replicas: list[str]
) -> None:
    deploy("iris", main=replicas[:1])
    for _ in range(3):
        assert anonymous_http.post("/deployment/iris/invocations", json={"inputs": ROW}).status_code == 200
    assert (
        anonymous_http.post(
            "/deployment/iris/invocations", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    text = http.get("/metrics").text
    ok = 'modelyard_gateway_requests_total{deployment="iris",predictor="main",code="200"}'
    bad = 'modelyard_gateway_requests_total{deployment="iris",predictor="main",code="400"}'
    assert (sample(text, ok), sample(text, bad)) == (3.0, 1.0)
    assert (
        sample(text, 'modelyard_gateway_request_duration_seconds_count{deployment="iris",predictor="main"}')
        == 4.0
    )
    assert sample(text, 'modelyard_deployment_replicas_desired{deployment="iris"}') == 1.0
    assert sample(text, 'modelyard_deployment_replicas_ready{deployment="iris"}') == 1.0
    assert sample(text, 'modelyard_deployment_phase{deployment="iris",phase="Deployed"}') == 1.0
    assert sample(text, 'modelyard_deployment_phase{deployment="iris",phase="Failed"}') == 0.0
    anonymous_http.post("/deployment/iris/invocations", json={"inputs": ROW})
    assert sample(http.get("/metrics").text, ok) == 4.0


def test_metrics_need_a_platform_admin(
    anonymous_http: TestClient, make_user: Callable[..., UserCreds]
) -> None:
    assert anonymous_http.get("/metrics").status_code == 401
    member = make_user("mona", group="team")
    refused = anonymous_http.get("/metrics", headers=member.headers)
    assert refused.status_code == 403
    assert "platform admin" in refused.json()["message"]
