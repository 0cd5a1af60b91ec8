"""Issue 12's flood, over real HTTP on loopback: HTTP Basic with a made-up username per request from one
client address writes a bounded number of audit events that carry the count, while a user on another
address is authenticated, audited and refused exactly as without the flood; the chain verifies.
The 401s name what to set: MLFLOW_TRACKING_TOKEN for the mlflow client, MODELYARD_TOKEN elsewhere."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import httpx
import pytest

from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.services.audit import RefusalAggregator
from tests.conftest import LiveServer, UserCreds

API = "/api/2.0/mlflow"
SYSTEM = Principal.system()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@pytest.fixture
def clock(services: Services) -> Clock:
    clock = Clock()
    services.audit.refusals = RefusalAggregator(interval_s=60, clock=clock)
    return clock


@pytest.fixture
def client_at(live_server: LiveServer) -> Iterator[Callable[[str], httpx.Client]]:
    """HTTP clients whose connections come from a given loopback address (127.0.0.x)."""
    opened: list[httpx.Client] = []

    def make(address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        client = httpx.Client(base_url=live_server.url, transport=transport, timeout=30)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def unauthenticated(services: Services) -> list[dict[str, object]]:
    events, _ = services.audit.query(SYSTEM, limit=10_000)
    return [dict(e.changes, actor=e.actor) for e in events if e.outcome == "unauthenticated"]


def test_made_up_usernames_from_one_client_write_bounded_counted_events(
    services: Services,
    clock: Clock,
    client_at: Callable[[str], httpx.Client],
    make_user: Callable[..., UserCreds],
) -> None:
    alice = make_user("alice", group="vision")
    flood, legit = client_at("127.0.0.1"), client_at("127.0.0.2")
    for i in range(300):
        r = flood.get(f"{API}/experiments/search", headers=basic(f"nobody-{i}", "guess"))
        assert r.status_code == 401
    # alice, on another address, during the flood: her writes are audited as always ...
    r = legit.post(f"{API}/experiments/create", json={"name": "cats"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    eid = r.json()["experiment_id"]
    # ... and her typo is recorded at once, on its own
    assert legit.get(f"{API}/experiments/search", headers=basic("alice", "typo")).status_code == 401

    events = unauthenticated(services)
    assert [(e["actor"], e["client"], e["count"]) for e in events] == [
        ("alice", "127.0.0.2", 1),
        ("nobody-0", "127.0.0.1", 1),
    ]
    created, _ = services.audit.query(SYSTEM, resource_type="experiment", resource=str(eid))
    assert [(e.action, e.actor, e.resource_name) for e in created] == [("create", "alice", "cats")]

    clock.now += 60  # the interval ends: the background writer's next pass writes the summary
    services.audit.flush()
    events = unauthenticated(services)
    assert len(events) == 3
    summary = events[0]
    assert (summary["client"], summary["count"], summary["actor"]) == ("127.0.0.1", 299, "anonymous")
    assert summary["paths"] == {f"{API}/experiments/search": 299}
    assert sum(int(str(e["count"])) for e in events) == 301  # every refusal counted once
    assert services.audit.verify().ok


def test_401_names_the_variable_the_caller_sets(
    client_at: Callable[[str], httpx.Client], clock: Clock
) -> None:
    c = client_at("127.0.0.1")
    for headers in ({}, {"Authorization": "Bearer myd_not-a-token"}, basic("nobody", "x")):
        r = c.get(f"{API}/experiments/search", headers=headers)
        assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
        assert "set MLFLOW_TRACKING_TOKEN to an API token" in r.json()["message"]
        assert "`modelyard tokens create`" in r.json()["message"]
        r = c.get("/experiment/api/", headers=headers)
        assert r.status_code == 401 and r.json()["status"] == 401
        assert "MODELYARD_TOKEN or --token" in r.json()["message"]
        assert "MLFLOW_TRACKING_TOKEN" not in r.json()["message"]
    # what was wrong comes first
    r = c.get(f"{API}/experiments/search", headers={"Authorization": "Bearer myd_not-a-token"})
    assert r.json()["message"].startswith("Invalid token: no such token. For the mlflow client")
    r = c.get("/experiment/api/")
    assert r.json()["message"].startswith("Authentication required: the request has no credentials")
