"""The identity resources (user, group, membership, token) through the resource API, checked value by value
and in the database: no answer ever holds a password or a token hash, a token's secret is shown once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.services.identity.secrets import TOKEN_PREFIX
from modelyard.storage.orm import TokenRow, UserRow
from tests.api.identity_helpers import ok, refused
from tests.conftest import UserCreds, auth_header

DAY_MS = 86_400_000


def by(http: TestClient, resource: str, col: str, value: Any, headers: dict[str, str] | None = None) -> Any:
    filters = f'[{{"col": "{col}", "opr": "eq", "value": "{value}"}}]'
    data = ok(http.get(f"/{resource}/api/", params={"filters": filters}, headers=headers))["data"]
    return data[0] if data else None


def test_users_groups_and_memberships(http: TestClient, services: Services, admin: Principal) -> None:
    group = ok(http.post("/group/api/", json={"name": "vision", "description": "CV models"}), 201)
    assert (group["name"], group["description"], group["member_count"]) == ("vision", "CV models", 0)
    assert group["members"] == [] and [p["name"] for p in group["projects"]] == ["vision"]

    body = {
        "username": "erin",
        "password": "correct-horse-battery",
        "display_name": "Erin E.",
        "email": "erin@example.com",
        "group": "vision",
        "role": "viewer",
    }
    response = http.post("/user/api/", json=body)
    user = ok(response, 201)
    assert "correct-horse-battery" not in response.text and "hash" not in response.text
    assert {k: user[k] for k in ("username", "display_name", "email", "is_admin", "disabled")} == {
        "username": "erin", "display_name": "Erin E.", "email": "erin@example.com", "is_admin": False,
        "disabled": False,
    }  # fmt: skip
    assert user["created_at"] == user["updated_at"] > 0 and user["memberships_count"] == 1
    (membership,) = user["memberships"]
    assert {k: membership[k] for k in ("group", "username", "role")} == {
        "group": "vision", "username": "erin", "role": "viewer",
    }  # fmt: skip
    with services.db.read() as s:
        stored = s.scalar(select(UserRow.password_hash).where(UserRow.username == "erin"))
    assert stored and stored.startswith("scrypt$")
    refused(http.post("/user/api/", json={"username": "erin"}), 400, "already exists")
    refused(http.post("/user/api/", json={"username": "bad name"}), 400, "'username'")
    refused(http.post("/user/api/", json={"username": "frank", "password": "short"}), 400, "'password'", "8")

    # POST {group, username, role} adds or changes; PUT changes; DELETE removes
    ok(http.post("/user/api/", json={"username": "frank"}), 201)
    added = ok(http.post("/membership/api/", json={"group": "vision", "username": "frank"}), 201)
    assert (added["group"], added["username"], added["role"]) == ("vision", "frank", "member")
    again = ok(
        http.post("/membership/api/", json={"group": "vision", "username": "frank", "role": "admin"}), 201
    )
    assert again["id"] == added["id"] and again["role"] == "admin"
    assert ok(http.put(f"/membership/api/{added['id']}", json={"role": "viewer"}))["role"] == "viewer"
    shown = ok(http.get(f"/group/api/{group['id']}"))
    assert {m["username"]: m["role"] for m in shown["members"]} == {"erin": "viewer", "frank": "viewer"}
    assert (
        shown["member_count"] == 2
        and services.identity.get_group(admin, "vision").members["frank"] == "viewer"
    )
    removed = ok(http.delete(f"/membership/api/{added['id']}"))
    assert removed["username"] == "frank"
    refused(http.get(f"/membership/api/{added['id']}"), 404)
    assert "frank" not in services.identity.get_group(admin, "vision").members
    refused(http.post("/membership/api/", json={"group": "nope", "username": "frank"}), 404, "'nope'")
    refused(http.post("/membership/api/", json={"group": "vision", "username": "frank", "role": "boss"}), 400)

    # filters and order on looked-up columns
    assert by(http, "membership", "username", "erin")["group"] == "vision"
    form = '{"filters": [{"col": "username", "opr": "ct", "value": "R"}], "order_column": "username"}'
    found = ok(http.get("/membership/api/", params={"form_data": form}))
    assert [m["username"] for m in found["data"]] == ["erin"] and found["count"] == 1
    form = '{"order_column": "username", "order_direction": "desc"}'
    names = [m["username"] for m in ok(http.get("/membership/api/", params={"form_data": form}))["data"]]
    assert names == sorted(names, reverse=True) and {"admin", "erin"} <= set(names)
    assert by(http, "user", "is_admin", "true")["username"] == "admin"
    bad = http.get("/user/api/", params={"filters": '[{"col": "is_admin", "opr": "eq", "value": 3}]'})
    refused(bad, 400, "true or false")


def test_disable_and_enable_a_user(http: TestClient, make_user: Callable[..., UserCreds]) -> None:
    gus = make_user("gus", group="team")
    assert ok(http.get("/user/api/me", headers=gus.headers))["username"] == "gus"
    uid = by(http, "user", "username", "gus")["id"]
    refused(http.get(f"/user/api/action/disable/{uid}", headers=gus.headers), 403, "platform admin")
    assert ok(http.get(f"/user/api/action/disable/{uid}"))["disabled"] is True
    refused(http.get("/user/api/me", headers=gus.headers), 401, "disabled")
    assert ok(http.get(f"/user/api/action/enable/{uid}"))["disabled"] is False
    me = ok(http.get("/user/api/me", headers=gus.headers))
    assert me == {"id": uid, "username": "gus", "is_admin": False, "groups": {"team": "member"}}
    admin_id = by(http, "user", "username", "admin")["id"]
    refused(http.get(f"/user/api/action/disable/{admin_id}"), 400, "cannot disable yourself")


def test_token_secret_is_shown_once(
    http: TestClient, services: Services, make_user: Callable[..., UserCreds]
) -> None:
    hal = make_user("hal", group="team")
    before = int(time.time() * 1000)
    response = http.post("/token/api/", json={"name": "ci", "expires_in_days": 30}, headers=hal.headers)
    created = ok(response, 201)
    secret = created["token"]
    assert secret.startswith(TOKEN_PREFIX) and len(secret) > 40 and secret.startswith(created["prefix"])
    assert (created["name"], created["username"], created["revoked_at"]) == ("ci", "hal", None)
    assert before + 30 * DAY_MS <= created["expires_at"] <= int(time.time() * 1000) + 30 * DAY_MS
    # never again: not in show, list, or the audit trail; only its hash is stored
    for path in (f"/token/api/{created['id']}", "/token/api/", "/audit_event/api/"):
        text = http.get(path).text
        assert secret not in text and "secret_hash" not in text
    assert "token" not in ok(http.get(f"/token/api/{created['id']}", headers=hal.headers))
    with services.db.read() as s:
        stored = s.scalar(select(TokenRow.secret_hash).where(TokenRow.id == created["id"]))
    assert stored and secret not in stored
    assert ok(http.get("/user/api/me", headers=auth_header(secret)))["username"] == "hal"

    # tokens belong to their owner
    listed = ok(http.get("/token/api/", headers=hal.headers))["data"]
    assert {t["username"] for t in listed} == {"hal"} and len(listed) == 2
    admin_token = by(http, "token", "username", "admin")
    refused(http.get(f"/token/api/{admin_token['id']}", headers=hal.headers), 404)
    refused(http.get(f"/token/api/action/revoke/{admin_token['id']}", headers=hal.headers), 404)
    refused(http.post("/token/api/", json={"username": "admin"}, headers=hal.headers), 403, "platform admin")
    for_hal = ok(http.post("/token/api/", json={"username": "hal", "name": "by-admin"}), 201)
    assert for_hal["username"] == "hal" and for_hal["expires_at"] is None
    refused(
        http.post("/token/api/", json={"expires_in_days": 0}, headers=hal.headers), 400, "expires_in_days"
    )


def test_revoked_and_expired_tokens_are_refused(
    http: TestClient, anonymous_http: TestClient, services: Services, make_user: Callable[..., UserCreds]
) -> None:
    ivy = make_user("ivy", group="team")
    revoked = ok(http.post("/token/api/", json={"name": "old"}, headers=ivy.headers), 201)
    assert ok(http.get("/user/api/me", headers=auth_header(revoked["token"])))["username"] == "ivy"
    result = ok(http.get(f"/token/api/action/revoke/{revoked['id']}", headers=ivy.headers))
    assert result["revoked_at"] is not None and "token" not in result
    refused(anonymous_http.get("/project/api/", headers=auth_header(revoked["token"])), 401, "revoked")

    expired = ok(
        http.post("/token/api/", json={"name": "short", "expires_in_days": 1}, headers=ivy.headers), 201
    )
    with services.db.write() as s:  # a day later, without waiting a day
        s.execute(
            update(TokenRow)
            .where(TokenRow.id == expired["id"])
            .values(expires_at=int(time.time() * 1000) - 1)
        )
    refused(anonymous_http.get("/project/api/", headers=auth_header(expired["token"])), 401, "expired")
    refused(
        anonymous_http.get("/project/api/", headers=auth_header(TOKEN_PREFIX + "x" * 43)),
        401,
        "no such token",
    )
    refused(anonymous_http.get("/project/api/", headers={"Authorization": f"ivy|{revoked['token']}"}), 401)
    assert ok(http.get("/project/api/", headers={"Authorization": f"ivy|{ivy.token}"}))["count"] >= 1


@pytest.mark.parametrize("resource", ["user", "group", "membership", "token", "audit_event"])
def test_identity_resources_describe_themselves(http: TestClient, resource: str) -> None:
    info = ok(http.get(f"/{resource}/api/_info"))
    names = {c["name"] for c in info["columns"]} | {f["name"] for f in info["add_columns"]}
    assert not {n for n in names if "hash" in n and n not in ("hash", "prev_hash")}
    assert "password_hash" not in names and "secret_hash" not in names
    assert info["permissions"][:2] == ["can_list", "can_show"]
