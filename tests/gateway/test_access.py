"""Access to endpoints and the gateway's own answers: private endpoints (client tokens, platform
tokens and passwords by group role), unknown, stopped and unready deployments, oversized bodies,
and the deployment resource API left to the platform's app."""

from __future__ import annotations

import base64
from collections.abc import Callable

from fastapi.testclient import TestClient

from modelyard.domain.deployments import Phase
from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.conftest import UserCreds, auth_header
from tests.gateway.conftest import MAX_BODY, Deploy


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_private_endpoint_takes_client_tokens_and_group_members(
    anonymous_http: TestClient,
    deploy: Deploy,
    echoes: list[str],
    services: Services,
    admin: Principal,
    admin_token: str,
    make_user: Callable[..., UserCreds],
) -> None:
    deploy("secret", access="private", main=echoes[:1])
    token = services.deployments.create_token(admin, "secret", "app")["token"]
    viewer = make_user("vera", group="team", role="viewer")
    outsider = make_user("otto", group="elsewhere", role="admin")
    url = "/deployment/secret/x"

    refused = anonymous_http.get(url)
    assert refused.status_code == 401
    assert "www-authenticate" in refused.headers
    assert refused.json()["status"] == 401
    assert "Deployment 'secret' is private" in refused.json()["error"]

    for headers in (
        auth_header(token),
        viewer.headers,
        basic("vera", viewer.password),
        auth_header(admin_token),
    ):
        response = anonymous_http.get(url, headers=headers)
        assert response.status_code == 200, (headers, response.text)
        assert "authorization" not in dict(response.json()["headers"])

    wrong = anonymous_http.get(url, headers=auth_header("myd_not-a-real-token"))
    assert wrong.status_code == 403
    assert wrong.json()["error"].startswith("Credentials refused for deployment 'secret': Invalid token")
    bad_password = anonymous_http.get(url, headers=basic("vera", "nope"))
    assert bad_password.status_code == 403
    stranger = anonymous_http.get(url, headers=outsider.headers)
    assert stranger.status_code == 403
    assert "user 'otto' has no role in the group of deployment 'secret'" in stranger.json()["error"]
    v2 = anonymous_http.get("/deployment/secret/v2/health/ready")
    assert v2.status_code == 401 and set(v2.json()) == {"error"}

    # a revoked client token stops working once the route cache has let go of it
    tokens = services.deployments.list_tokens(admin, "secret")
    services.deployments.revoke_token(admin, "secret", tokens[0]["id"])
    assert anonymous_http.get(url, headers=auth_header(token)).status_code == 403


def test_public_endpoint_needs_no_credentials(
    anonymous_http: TestClient, deploy: Deploy, echoes: list[str]
) -> None:
    deploy("open", main=echoes[:1])
    assert anonymous_http.get("/deployment/open/x").status_code == 200
    assert anonymous_http.get("/deployment/open/x", headers=auth_header("garbage")).status_code == 200


def test_unknown_deployment_is_a_404(anonymous_http: TestClient) -> None:
    response = anonymous_http.post("/deployment/nope/invocations", json={})
    assert response.status_code == 404
    assert response.json() == {
        "error": "No deployment named 'nope'; `modelyard deploy list` shows them.",
        "status": 404,
    }
    v2 = anonymous_http.post("/deployment/nope/v2/models/m/infer", json={})
    assert (v2.status_code, set(v2.json())) == (404, {"error"})


def test_stopped_deployment_says_so(
    anonymous_http: TestClient, deploy: Deploy, echoes: list[str], services: Services, admin: Principal
) -> None:
    deploy("paused", main=echoes[:1])
    assert anonymous_http.get("/deployment/paused/x").status_code == 200
    services.deployments.stop(admin, "paused")
    response = anonymous_http.get("/deployment/paused/x")
    assert response.status_code == 503
    assert response.json() == {
        "error": "Deployment 'paused' is stopped; start it to serve again.",
        "status": 503,
    }


def test_no_ready_replica_gives_the_phase_and_its_message(anonymous_http: TestClient, deploy: Deploy) -> None:
    deploy(
        "broken", phase=Phase.FAILED, message="replica main-0 exited: ModuleNotFoundError: No module 'xyz'"
    )
    response = anonymous_http.post("/deployment/broken/invocations", json={"inputs": [[1]]})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "error": "Deployment 'broken' has no ready replica (phase Failed: replica main-0 exited: "
        "ModuleNotFoundError: No module 'xyz').",
        "status": 503,
    }
    deploy("starting", phase=Phase.DEPLOYING, message="Waiting for the controller.")
    starting = anonymous_http.get("/deployment/starting/v2/health/ready")
    assert starting.json() == {
        "error": "Deployment 'starting' has no ready replica (phase Deploying: Waiting for the controller.)."
    }


def test_oversized_body_is_a_413(anonymous_http: TestClient, deploy: Deploy, echoes: list[str]) -> None:
    deploy("small", main=echoes[:1])
    response = anonymous_http.post("/deployment/small/invocations", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    assert response.json()["error"] == (
        f"Request body exceeds the limit of {MAX_BODY} bytes (MODELYARD_MAX_REQUEST_BYTES)."
    )

    def chunks() -> object:  # no Content-Length: the limit applies while reading
        for _ in range(MAX_BODY // 1000 + 1):
            yield b"y" * 1000

    streamed = anonymous_http.post("/deployment/small/invocations", content=chunks())  # type: ignore[arg-type]
    assert streamed.status_code == 413
    assert anonymous_http.post("/deployment/small/x", content=b"x" * MAX_BODY).status_code == 200


def test_the_resource_api_is_left_to_the_app(http: TestClient, anonymous_http: TestClient) -> None:
    anonymous = anonymous_http.get("/deployment/api/")
    assert anonymous.status_code == 401  # the platform's authentication answered, not the gateway
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    for path in ("/deployment/api/", "/deployment/_info"):
        response = http.get(path)
        assert "error" not in response.json(), path
    assert http.get("/deployment/").status_code == 404
