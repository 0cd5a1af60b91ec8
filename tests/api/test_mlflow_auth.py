"""Identity on the MLflow surface: authentication forms, group isolation, roles, audit of changes."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.storage.orm import AuditEventRow, TokenRow
from tests.conftest import UserCreds

API = "/api/2.0/mlflow"
SYSTEM = Principal.system()


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@pytest.fixture
def two_teams(make_user: Callable[..., UserCreds]) -> dict[str, UserCreds]:
    return {
        "alice": make_user("alice", group="vision"),
        "bob": make_user("bob", group="speech"),
        "victor": make_user("victor", group="vision", role="viewer"),
    }


def _exp_and_run(http: TestClient, who: UserCreds, name: str) -> tuple[str, str]:
    r = http.post(f"{API}/experiments/create", json={"name": name}, headers=who.headers)
    assert r.status_code == 200, r.text
    eid = r.json()["experiment_id"]
    r = http.post(f"{API}/runs/create", json={"experiment_id": eid, "run_name": "r"}, headers=who.headers)
    assert r.status_code == 200, r.text
    run_id = r.json()["run"]["info"]["run_id"]
    r = http.post(
        f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "1"}, headers=who.headers
    )
    assert r.status_code == 200
    return eid, run_id


def test_requests_without_valid_credentials_are_refused(
    anonymous_http: TestClient, services: Services
) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "Authentication required"),
        ({"Authorization": "Bearer myd_not-a-real-token"}, "no such token"),
        ({"Authorization": "Basic !!!"}, "Malformed Basic"),
        ({"Authorization": "Digest abc"}, "Unsupported Authorization"),
        (_basic("nobody", "wrong-password"), "Invalid username or password"),
    ]
    for headers, needle in cases:
        r = anonymous_http.get(f"{API}/experiments/get", params={"experiment_id": "0"}, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error_code"] == "UNAUTHENTICATED"
        assert needle in r.json()["message"]
        assert "Basic" in r.headers["www-authenticate"]
    # the client's first refusal is recorded at once; the others are counted, per client address
    (first,) = [e for e in services.audit.query(SYSTEM)[0] if e.outcome == "unauthenticated"]
    assert (first.actor, first.resource_id, first.changes["count"]) == (
        "anonymous",
        f"{API}/experiments/get",
        1,
    )
    assert first.changes["client"] == "testclient" and "Authentication required" in first.changes["reason"]
    # a flood of bad requests cannot flood the audit trail
    for _ in range(30):
        assert (
            anonymous_http.get(f"{API}/experiments/search", headers=_basic("nobody", "x")).status_code == 401
        )
    assert len([e for e in services.audit.query(SYSTEM)[0] if e.outcome == "unauthenticated"]) == 1
    services.audit.flush(everything=True)  # what a clean shutdown or the interval's end writes
    summary, _ = [e for e in services.audit.query(SYSTEM)[0] if e.outcome == "unauthenticated"]
    assert summary.changes["count"] == 34
    assert summary.changes["claimed"] == {"token": 1, "anonymous": 2, "nobody": 31}
    assert summary.changes["paths"] == {f"{API}/experiments/get": 4, f"{API}/experiments/search": 30}
    # health stays public
    assert anonymous_http.get("/health").status_code == 200


def test_every_header_form_authenticates(anonymous_http: TestClient, two_teams: dict[str, UserCreds]) -> None:
    alice = two_teams["alice"]
    forms = [
        alice.headers,
        _basic("alice", alice.password),
        _basic("alice", alice.token),
        {"Authorization": f"alice|{alice.token}"},
    ]
    for headers in forms:
        r = anonymous_http.post(
            f"{API}/experiments/create",
            json={"name": f"e-{len(headers['Authorization'])}-{time.monotonic_ns()}"},
            headers=headers,
        )
        assert r.status_code == 200, (headers, r.text)
    # a username|token pair whose token belongs to someone else is refused
    bob = two_teams["bob"]
    r = anonymous_http.get(
        f"{API}/experiments/get",
        params={"experiment_id": "0"},
        headers={"Authorization": f"alice|{bob.token}"},
    )
    assert r.status_code == 401 and "does not belong" in r.json()["message"]
    r = anonymous_http.get(
        f"{API}/experiments/get", params={"experiment_id": "0"}, headers=_basic("alice", bob.token)
    )
    assert r.status_code == 401


def test_groups_cannot_see_or_touch_each_other(
    http: TestClient, two_teams: dict[str, UserCreds], services: Services
) -> None:
    alice, bob = two_teams["alice"], two_teams["bob"]
    a_exp, a_run = _exp_and_run(http, alice, "vision-exp")
    b_exp, b_run = _exp_and_run(http, bob, "speech-exp")

    # reads: hidden like missing ones, never 403 (no existence leak)
    r = http.get(f"{API}/runs/get", params={"run_id": a_run}, headers=bob.headers)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = http.get(f"{API}/experiments/get", params={"experiment_id": a_exp}, headers=bob.headers)
    assert r.status_code == 404
    r = http.get(
        f"{API}/experiments/get-by-name", params={"experiment_name": "vision-exp"}, headers=bob.headers
    )
    assert r.status_code == 404
    r = http.get(
        f"{API}/metrics/get-history", params={"run_id": a_run, "metric_key": "m"}, headers=bob.headers
    )
    assert r.status_code == 404

    # searches only return one's own groups
    names = {
        e["name"]
        for e in http.post(f"{API}/experiments/search", json={}, headers=bob.headers).json()["experiments"]
    }
    assert "vision-exp" not in names and "speech-exp" in names
    r = http.post(f"{API}/runs/search", json={"experiment_ids": [a_exp, b_exp]}, headers=bob.headers)
    assert [x["info"]["run_id"] for x in r.json()["runs"]] == [b_run]

    # writes to the other group's run are refused and change nothing
    r = http.post(
        f"{API}/runs/log-parameter", json={"run_id": a_run, "key": "q", "value": "2"}, headers=bob.headers
    )
    assert r.status_code == 404
    r = http.post(f"{API}/runs/delete", json={"run_id": a_run}, headers=bob.headers)
    assert r.status_code == 404
    r = http.post(
        f"{API}/experiments/update", json={"experiment_id": a_exp, "new_name": "stolen"}, headers=bob.headers
    )
    assert r.status_code == 404
    run = http.get(f"{API}/runs/get", params={"run_id": a_run}, headers=alice.headers).json()["run"]
    assert run["info"]["lifecycle_stage"] == "active"
    assert run["data"]["params"] == [{"key": "p", "value": "1"}]

    # artifacts: the other group's files can be neither read, listed nor written
    r = http.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{a_exp}/{a_run}/artifacts/x.txt",
        content=b"hi",
        headers=alice.headers,
    )
    assert r.status_code == 200
    r = http.get(f"/api/2.0/mlflow-artifacts/artifacts/{a_exp}/{a_run}/artifacts/x.txt", headers=bob.headers)
    assert r.status_code == 404
    r = http.get(
        "/api/2.0/mlflow-artifacts/artifacts",
        params={"path": f"{a_exp}/{a_run}/artifacts"},
        headers=bob.headers,
    )
    assert r.status_code == 404
    r = http.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{a_exp}/{a_run}/artifacts/x.txt",
        content=b"evil",
        headers=bob.headers,
    )
    assert r.status_code == 404
    r = http.get(f"{API}/artifacts/list", params={"run_id": a_run}, headers=bob.headers)
    assert r.status_code == 404
    assert (
        http.get(
            f"/api/2.0/mlflow-artifacts/artifacts/{a_exp}/{a_run}/artifacts/x.txt", headers=alice.headers
        ).content
        == b"hi"
    )

    # each refused attempt on the other group's resources is in the audit trail, under that group
    vision = next(g.id for g in services.identity.list_groups(SYSTEM) if g.name == "vision")
    denied = [e for e in services.audit.query(SYSTEM, user="bob")[0] if e.outcome == "denied"]
    assert len(denied) >= 10
    assert {e.group_id for e in denied} == {vision}


def test_viewer_reads_but_cannot_write(
    http: TestClient, two_teams: dict[str, UserCreds], services: Services
) -> None:
    alice, victor = two_teams["alice"], two_teams["victor"]
    eid, run_id = _exp_and_run(http, alice, "viewer-exp")
    assert http.get(f"{API}/runs/get", params={"run_id": run_id}, headers=victor.headers).status_code == 200
    r = http.post(
        f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "x", "value": "1"}, headers=victor.headers
    )
    assert r.status_code == 403
    assert r.json()["error_code"] == "PERMISSION_DENIED"
    assert "'member'" in r.json()["message"] and "'viewer'" in r.json()["message"]
    r = http.post(f"{API}/runs/create", json={"experiment_id": eid}, headers=victor.headers)
    assert r.status_code == 403
    r = http.post(f"{API}/experiments/create", json={"name": "viewer-made"}, headers=victor.headers)
    assert r.status_code == 403  # a viewer has no group to create experiments in
    assert "not a member of any group they can write to" in r.json()["message"]
    denied = [e for e in services.audit.query(SYSTEM, user="victor")[0] if e.outcome == "denied"]
    assert len(denied) == 3
    assert http.get(f"{API}/runs/get", params={"run_id": run_id}, headers=alice.headers).json()["run"][
        "data"
    ]["params"] == [{"key": "p", "value": "1"}]


def test_revoked_and_expired_tokens_are_refused(
    anonymous_http: TestClient, two_teams: dict[str, UserCreds], services: Services
) -> None:
    alice = two_teams["alice"]
    actor = services.identity.principal_for("alice")
    token, secret = services.identity.create_token(actor, name="short")
    ok = anonymous_http.get(
        f"{API}/experiments/get", params={"experiment_id": "0"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert ok.status_code in (200, 404)  # authenticated (0 belongs to the default group, not alice's)
    services.identity.revoke_token(actor, token.id)
    r = anonymous_http.get(f"{API}/experiments/search", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401 and "revoked" in r.json()["message"]

    _, expiring = services.identity.create_token(actor, name="expiring", expires_in_days=1)
    with services.db.write() as s:
        row = s.scalar(select(TokenRow).where(TokenRow.name == "expiring"))
        assert row is not None
        row.expires_at = int(time.time() * 1000) - 1
    services.identity._changed()  # the expiry was edited behind the service's back
    r = anonymous_http.get(f"{API}/experiments/search", headers={"Authorization": f"Bearer {expiring}"})
    assert r.status_code == 401 and "expired" in r.json()["message"]
    assert anonymous_http.get(f"{API}/experiments/search", headers=alice.headers).status_code == 200


def test_mutations_are_audited_with_before_and_after(
    http: TestClient, two_teams: dict[str, UserCreds], services: Services
) -> None:
    alice = two_teams["alice"]
    eid, run_id = _exp_and_run(http, alice, "audited")
    http.post(
        f"{API}/experiments/update",
        json={"experiment_id": eid, "new_name": "audited-2"},
        headers=alice.headers,
    )
    http.post(
        f"{API}/runs/update",
        json={"run_id": run_id, "status": "FINISHED", "end_time": 5},
        headers=alice.headers,
    )
    events, _ = services.audit.query(SYSTEM, user="alice")
    by_action = {(e.resource_type, e.action): e for e in events}
    rename = by_action[("experiment", "rename")]
    assert rename.changes == {"before": {"name": "audited"}, "after": {"name": "audited-2"}}
    assert rename.resource_id == eid
    update = by_action[("run", "update")]
    assert update.changes["before"]["status"] == "RUNNING"
    assert update.changes["after"] == {"status": "FINISHED", "end_time": 5}
    log = by_action[("run", "log")]
    assert log.changes["details"]["params"] == {"p": "1"}
    assert ("experiment", "create") in by_action and ("run", "create") in by_action
    assert all(
        e.actor == "alice" and e.outcome == "success" for e in events if e.resource_type != "authorization"
    )
    assert services.audit.verify().ok


def test_tampering_is_detected(http: TestClient, two_teams: dict[str, UserCreds], services: Services) -> None:
    alice = two_teams["alice"]
    _exp_and_run(http, alice, "tamper")
    report = services.audit.verify()
    assert report.ok and report.checked > 5
    with services.db.write() as s:
        row = s.scalar(
            select(AuditEventRow)
            .where(AuditEventRow.actor == "alice", AuditEventRow.action == "create")
            .limit(1)
        )
        assert row is not None
        seq = row.seq
        row.changes = {"after": {"name": "innocent"}}
    report = services.audit.verify()
    assert not report.ok
    assert any(f"event {seq} was altered" in p for p in report.problems)

    with services.db.write() as s:
        row = s.get(AuditEventRow, seq)
        assert row is not None
        s.delete(row)
    problems = services.audit.verify().problems
    assert any(f"event {seq} is missing" in p for p in problems)


def test_official_client_with_token_and_with_basic_auth(
    live_server: Any, two_teams: dict[str, UserCreds], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    alice = two_teams["alice"]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = mlflow.MlflowClient(tracking_uri=live_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", alice.token)
    eid = client.create_experiment("via-token")
    run = client.create_run(eid)
    client.log_metric(run.info.run_id, "m", 1.5)
    assert client.get_run(run.info.run_id).info.user_id == "alice"

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", alice.password)
    assert client.get_run(run.info.run_id).data.metrics == {"m": 1.5}
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    with pytest.raises(mlflow.exceptions.MlflowException) as err:
        client.get_run(run.info.run_id)
    assert "Invalid username or password" in str(err.value)


def test_token_last_use_is_recorded(
    anonymous_http: TestClient, two_teams: dict[str, UserCreds], services: Services
) -> None:
    alice = two_teams["alice"]
    actor = services.identity.principal_for("alice")
    assert [t.last_used_at for t in services.identity.list_tokens(actor)] == [None]
    before = int(time.time() * 1000)
    assert anonymous_http.get(f"{API}/experiments/search", headers=alice.headers).status_code == 200
    (used,) = services.identity.list_tokens(actor)
    assert used.last_used_at is not None and used.last_used_at >= before
