"""The audit trail on the resource API: each change through it is one event with the right before/after,
group admins see their groups' events only, and ``verify`` notices an edited or deleted row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import delete, text, update

from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.storage.orm import AuditEventRow
from tests.api.identity_helpers import group_id, ok, refused
from tests.conftest import UserCreds


def events(http: TestClient, headers: dict[str, str] | None = None, **equal: Any) -> list[dict[str, Any]]:
    filters = [{"col": col, "opr": "eq", "value": value} for col, value in equal.items()]
    form = orjson.dumps({"filters": filters, "page_size": 1000}).decode()
    result = ok(http.get("/audit_event/api/", params={"form_data": form}, headers=headers))
    return list(result["data"])


def test_each_change_is_one_event_with_before_and_after(
    http: TestClient, services: Services, admin: Principal, make_user: Callable[..., UserCreds]
) -> None:
    alice = make_user("alice", group="vision")
    gid = group_id(services, admin, "vision")
    eid = ok(http.post("/experiment/api/", json={"name": "cats"}, headers=alice.headers), 201)[
        "experiment_id"
    ]
    ok(http.put(f"/experiment/api/{eid}", json={"name": "dogs"}, headers=alice.headers))
    ok(http.delete(f"/experiment/api/{eid}", headers=alice.headers))
    history = events(http, resource_type="experiment", resource_id=str(eid))
    assert [(e["action"], e["actor"], e["group_id"], e["outcome"]) for e in history] == [
        ("delete", "alice", gid, "success"),
        ("rename", "alice", gid, "success"),
        ("create", "alice", gid, "success"),
    ]
    assert history[1]["changes"] == {"before": {"name": "cats"}, "after": {"name": "dogs"}}
    assert history[0]["changes"] == {
        "before": {"lifecycle_stage": "active"},
        "after": {"lifecycle_stage": "deleted"},
    }
    assert history[2]["changes"]["after"]["name"] == "cats"
    assert history[0]["seq"] > history[1]["seq"] > history[2]["seq"]
    shown = ok(http.get(f"/audit_event/api/{history[1]['seq']}"))
    assert shown["hash"] and shown["prev_hash"] and "hash" not in history[1]

    ok(http.post("/membership/api/", json={"group": "vision", "username": "alice", "role": "viewer"}), 201)
    (change,) = events(http, resource_type="membership", resource_name="vision/alice", action="set_role")
    assert change["changes"] == {"before": {"role": "member"}, "after": {"role": "viewer"}}
    assert change["actor"] == "admin" and change["group_id"] == gid

    user = events(http, resource_type="user", resource_name="alice", action="create")[0]
    assert user["resource_id"] == str(services.identity.principal_for("alice").user_id)
    assert (
        user["changes"]["after"]["password"] == "***" and "alice-password" not in orjson.dumps(user).decode()
    )
    # time filters
    newest = history[0]["time"]
    form = {"filters": [{"col": "time", "opr": "gt", "value": newest + 60_000}]}
    later = ok(http.get("/audit_event/api/", params={"form_data": orjson.dumps(form).decode()}))
    assert later["count"] == 0


def test_group_admins_see_their_groups_events_only(
    http: TestClient, make_user: Callable[..., UserCreds]
) -> None:
    alice, bob = make_user("alice", group="vision"), make_user("bob", group="speech")
    dora = make_user("dora", group="vision", role="admin")
    ok(http.post("/experiment/api/", json={"name": "cats"}, headers=alice.headers), 201)
    ok(http.post("/experiment/api/", json={"name": "words"}, headers=bob.headers), 201)
    seen = events(http, dora.headers)
    assert {e["resource_type"] for e in seen} >= {"experiment", "membership", "group"}
    assert {e["changes"].get("after", {}).get("name") for e in seen if e["action"] == "create"} >= {"cats"}
    assert "words" not in orjson.dumps(seen).decode() and "speech" not in orjson.dumps(seen).decode()
    assert events(http, alice.headers) == []  # a member is no auditor
    assert ok(http.get("/audit_event/api/_info", headers=alice.headers))["permissions"] == []
    everything = events(http)
    assert "words" in orjson.dumps(everything).decode()
    refused(http.get("/audit_event/api/verify", headers=dora.headers), 403, "platform admin")
    refused(http.post("/audit_event/api/", json={}), 405)
    refused(http.delete(f"/audit_event/api/{everything[0]['seq']}"), 405)


def test_verify_notices_an_edited_or_deleted_event(
    http: TestClient, services: Services, make_user: Callable[..., UserCreds]
) -> None:
    alice = make_user("alice", group="vision")
    for name in ("a", "b", "c"):
        ok(http.post("/experiment/api/", json={"name": name}, headers=alice.headers), 201)
    report = ok(http.get("/audit_event/api/verify"))
    assert report["ok"] is True and report["problems"] == [] and report["checked"] >= 6
    created = events(http, resource_type="experiment", action="create")
    last, removed, edited = (e["seq"] for e in created)

    with services.db.write() as s:  # someone with database access rewrites history
        s.execute(
            update(AuditEventRow).where(AuditEventRow.seq == edited).values(changes={"after": {"name": "x"}})
        )
    report = ok(http.get("/audit_event/api/verify"))
    assert report["ok"] is False
    assert report["problems"] == [f"event {edited} was altered: its content no longer matches its hash"]

    with services.db.write() as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :seq"), {"seq": edited - 1})
        s.execute(delete(AuditEventRow).where(AuditEventRow.seq == removed))
    problems = ok(http.get("/audit_event/api/verify"))["problems"]
    assert f"event {edited - 1} was altered: its content no longer matches its hash" in problems
    assert f"event {removed} is missing (the chain jumps from {removed - 1} to {removed + 1})" in problems

    with services.db.write() as s:  # the newest event goes too
        s.execute(delete(AuditEventRow).where(AuditEventRow.seq == last))
    problems = ok(http.get("/audit_event/api/verify"))["problems"]
    assert any(f"recorded head is event {last}" in p for p in problems), problems
