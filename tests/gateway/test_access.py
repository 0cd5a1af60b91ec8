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


def unauthenticated(name: str) -> str:
    return (
        f"Deployment '{name}' was not found, or it is private: send one of its client tokens as "
        f"'Authorization: Bearer <token>' (`modelyard deploy tokens {name} create` makes one), or the "
        "token of a user with a role in its group."
    )


def not_found(name: str) -> str:
    return (
        f"Deployment '{name}' was not found, or these credentials give no access to it: a private "
        f"deployment takes one of its client tokens (`modelyard deploy tokens {name} create` makes one) "
        "or the credentials of a user with a role in its group; `modelyard deploy list` shows the "
        "deployments you can see."
    )


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
    url = "/deployment/secret/x"
    for headers in (
        auth_header(token),
        viewer.headers,
        basic("vera", viewer.password),
        auth_header(admin_token),
    ):
        response = anonymous_http.get(url, headers=headers)
        assert response.status_code == 200, (headers, response.text)
        assert "authorization" not in dict(response.json()["headers"])

    # a revoked client token stops working at once (the change is in this process)
    tokens = services.deployments.list_tokens(admin, "secret")
    services.deployments.revoke_token(admin, "secret", tokens[0]["id"])
    revoked = anonymous_http.get(url, headers=auth_header(token))
    assert (revoked.status_code, revoked.json()["message"]) == (404, not_found("secret"))


def test_a_private_deployment_without_access_looks_exactly_like_a_missing_one(
    anonymous_http: TestClient,
    deploy: Deploy,
    echoes: list[str],
    services: Services,
    admin: Principal,
    make_user: Callable[..., UserCreds],
) -> None:
    """Issue 12 item 3: nobody can tell another group's private deployment from a name that does not
    exist — not without credentials, not with wrong ones, not with a stranger's valid ones."""
    deploy("alpha", access="private", main=echoes[:1])
    deploy("gamma", access="private", main=echoes[:1])
    services.deployments.stop(admin, "gamma")  # stopped: still nothing to learn about it
    outsider = make_user("otto", group="elsewhere", role="admin")
    cases = {
        "no credentials": {},
        "an empty header": {"Authorization": ""},
        "a made-up token": auth_header("myd_not-a-real-token"),
        "a wrong password": basic("otto", "nope"),
        "an unknown user": basic("nobody", "x"),
        "a malformed header": {"Authorization": "Digest abc"},
        "a stranger's token": outsider.headers,
        "a stranger's password": basic("otto", outsider.password),
    }
    for case, headers in cases.items():
        for path in ("/x", "/invocations", "/api/v1.0/predictions", "/v2/models/m/infer"):
            missing = anonymous_http.post(f"/deployment/omega{path}", json={}, headers=headers)
            for hidden in ("alpha", "gamma"):
                answer = anonymous_http.post(f"/deployment/{hidden}{path}", json={}, headers=headers)
                assert answer.status_code == missing.status_code, (case, hidden, path)
                assert answer.content.replace(hidden.encode(), b"omega") == missing.content, (case, path)
                assert answer.headers.get("www-authenticate") == missing.headers.get("www-authenticate")
        anonymous = not headers.get("Authorization")
        assert missing.status_code == (401 if anonymous else 404), case
        assert missing.json()["error"] == (unauthenticated("omega") if anonymous else not_found("omega"))


def test_public_endpoint_needs_no_credentials(
    anonymous_http: TestClient, deploy: Deploy, echoes: list[str]
) -> None:
    deploy("open", main=echoes[:1])
    assert anonymous_http.get("/deployment/open/x").status_code == 200
    assert anonymous_http.get("/deployment/open/x", headers=auth_header("garbage")).status_code == 200


def test_unknown_deployment_without_credentials_is_a_401_with_a_challenge(anonymous_http: TestClient) -> None:
    response = anonymous_http.post("/deployment/nope/invocations", json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="modelyard", Basic realm="modelyard"'
    assert response.json() == {"error_code": "UNAUTHENTICATED", "message": unauthenticated("nope")}
    with_token = anonymous_http.post("/deployment/nope/invocations", json={}, headers=auth_header("t"))
    assert with_token.status_code == 404
    assert "www-authenticate" not in with_token.headers
    assert with_token.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": not_found("nope")}


def test_stopped_deployment_says_so(
    anonymous_http: TestClient, deploy: Deploy, echoes: list[str], services: Services, admin: Principal
) -> None:
    deploy("paused", main=echoes[:1])
    assert anonymous_http.get("/deployment/paused/x").status_code == 200
    services.deployments.stop(admin, "paused")
    response = anonymous_http.get("/deployment/paused/x")
    assert response.status_code == 503
    assert response.json() == {
        "error_code": "TEMPORARILY_UNAVAILABLE",
        "message": "Deployment 'paused' is stopped; start it to serve again.",
    }


def test_no_ready_replica_gives_the_phase_and_its_message(anonymous_http: TestClient, deploy: Deploy) -> None:
    deploy(
        "broken", phase=Phase.FAILED, message="replica main-0 exited: ModuleNotFoundError: No module 'xyz'"
    )
    response = anonymous_http.post("/deployment/broken/invocations", json={"inputs": [[1]]})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "error_code": "TEMPORARILY_UNAVAILABLE",
        "message": "Deployment 'broken' has no ready replica (phase Failed: replica main-0 exited: "
        "ModuleNotFoundError: No module 'xyz').",
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
    assert response.json()["message"] == (
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
