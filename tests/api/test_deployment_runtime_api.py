"""Runtime surfaces of a deployment through the resource API: client tokens of private endpoints (shown
once, listed without secrets, revoked) and replica logs (tail, one replica, follow as a text stream,
503 without a controller), with a stand-in backend where the controller would be."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import orjson
from fastapi.testclient import TestClient

from modelyard.controller import LogLine
from modelyard.domain.deployments import Phase, Replica, ReplicaState
from modelyard.services import Services
from tests.api.deployment_helpers import BASE, Team, create, team
from tests.api.identity_helpers import ok, refused

__all__ = ["team"]  # the fixture, used by name


# ---- tokens ----------------------------------------------------------------------------------------
def test_client_tokens_are_shown_once_and_revoked(http: TestClient, team: Team) -> None:
    d = create(http, team.member, "iris-private", endpoint={"access": "private"})
    assert d["spec"]["endpoint"] == {"access": "private"}
    who = team.member.headers
    token = ok(http.post(f"{BASE}/iris-private/tokens", json={"name": "checkout app"}, headers=who), 201)
    assert set(token) == {"id", "name", "prefix", "token"}
    assert token["name"] == "checkout app" and token["prefix"] == token["token"][:12]
    listed_tokens = ok(http.get(f"{BASE}/{d['id']}/tokens", headers=who))
    assert listed_tokens["count"] == 1
    (item,) = listed_tokens["data"]
    assert (item["id"], item["name"], item["prefix"], item["created_by"]) == (
        token["id"],
        "checkout app",
        token["prefix"],
        "alice",
    )
    assert "token" not in item and token["token"] not in orjson.dumps(listed_tokens).decode()
    refused(http.get(f"{BASE}/iris-private/tokens", headers=team.viewer.headers), 403, "'member' role")
    revoked = ok(http.delete(f"{BASE}/iris-private/tokens/{token['id']}", headers=who))
    assert revoked == {"id": token["id"], "revoked": True}
    assert ok(http.get(f"{BASE}/iris-private/tokens", headers=who)) == {"data": [], "count": 0}
    refused(
        http.delete(f"{BASE}/iris-private/tokens/{token['id']}", headers=who),
        404,
        f"token: deployment 'iris-private' has no client token with id {token['id']}.",
    )


# ---- logs ------------------------------------------------------------------------------------------
class FakeBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str | None, int, bool]] = []

    def logs(
        self, deployment_id: int, *, replica: str | None = None, tail: int = 100, gone: bool = False
    ) -> list[LogLine]:
        self.calls.append((deployment_id, replica, tail, gone))
        return [LogLine("iris-staging-main-0", "loading model"), LogLine("iris-staging-main-0", "ready")][
            -tail:
        ]

    async def follow(
        self, deployment_id: int, *, replica: str | None = None, tail: int = 10, gone: bool = False
    ) -> AsyncIterator[LogLine]:
        self.calls.append((deployment_id, replica, tail, gone))
        for line in ("loading model", "ready"):
            yield LogLine("iris-staging-main-0", line)


def test_logs_tail_and_follow(http: TestClient, services: Services, team: Team) -> None:
    d = create(http, team.member, "iris-staging")
    refused(
        http.get(f"{BASE}/iris-staging/logs", headers=team.member.headers),
        503,
        "the controller is not running in this server",
    )
    backend = FakeBackend()
    http.app.state.controller = SimpleNamespace(backend=backend)  # type: ignore[attr-defined]
    replica = Replica("iris-staging-main-0", "main", "t", ReplicaState.READY, url="http://127.0.0.1:1")
    services.deployments.report_status(
        d["id"], 1, Phase.DEPLOYED, "Deployed: 1 of 1 replica(s) available.", [replica]
    )

    result = ok(http.get(f"{BASE}/iris-staging/logs", params={"tail": "1"}, headers=team.viewer.headers))
    assert result == {"lines": [{"replica": "iris-staging-main-0", "line": "ready"}], "count": 1}
    ok(
        http.get(
            f"{BASE}/{d['id']}/logs", params={"replica": "iris-staging-main-0"}, headers=team.viewer.headers
        )
    )
    assert backend.calls == [(d["id"], None, 1, False), (d["id"], "iris-staging-main-0", 100, False)]
    refused(
        http.get(f"{BASE}/iris-staging/logs", params={"replica": "x-0"}, headers=team.viewer.headers),
        404,
        "replica: deployment 'iris-staging' has no replica 'x-0'; its replicas: iris-staging-main-0 "
        "(replicas that are gone: add all=true).",
    )
    # all=true: replicas that are gone too (the backend looks among the log files for one by name)
    ok(http.get(f"{BASE}/iris-staging/logs", params={"all": "true"}, headers=team.viewer.headers))
    ok(
        http.get(
            f"{BASE}/iris-staging/logs", params={"all": "1", "replica": "x-0"}, headers=team.viewer.headers
        )
    )
    assert backend.calls[-2:] == [(d["id"], None, 100, True), (d["id"], "x-0", 100, True)]
    refused(
        http.get(f"{BASE}/iris-staging/logs", params={"all": "yes"}, headers=team.viewer.headers),
        400,
        "all: expected true or false, got 'yes'.",
    )
    refused(http.get(f"{BASE}/iris-staging/logs", headers=team.outsider.headers), 404, "does not exist")

    followed = http.get(f"{BASE}/iris-staging/logs", params={"follow": "true"}, headers=team.viewer.headers)
    assert followed.status_code == 200
    assert followed.headers["content-type"] == "text/plain; charset=utf-8"
    assert followed.text == "[iris-staging-main-0] loading model\n[iris-staging-main-0] ready\n"
    assert backend.calls[-1] == (d["id"], None, 10, False)
    shown = ok(http.get(f"{BASE}/iris-staging", headers=team.viewer.headers))["status"]
    assert (shown["phase"], shown["available_replicas"], shown["observed_generation"]) == ("Deployed", 1, 1)
