"""``modelyard users | tokens | groups | audit`` against the real live server, as the admin (the token the
live server fixture exports) and as other users (``--token``)."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import update

from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.services.identity.secrets import TOKEN_PREFIX
from modelyard.storage.orm import AuditEventRow
from tests.cli.conftest import Invoke
from tests.conftest import LiveServer

SECRET = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{20,}")


def ok(result: object) -> str:
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return str(result.stdout)  # type: ignore[attr-defined]


def failed(result: object, *words: str) -> str:
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    text = " ".join(str(result.output).split())  # type: ignore[attr-defined]
    for word in words:
        assert word in text, (word, text)
    return text


def new_token(cli: Invoke, *args: str) -> str:
    out = ok(cli("tokens", "create", *args))
    (secret,) = SECRET.findall(out)
    assert "shown only this once" in " ".join(out.split())
    return secret


def test_users_groups_and_roles(
    cli: Invoke, services: Services, admin: Principal, live_server: LiveServer
) -> None:
    out = ok(cli("groups", "create", "vision", "--description", "CV models"))
    assert "Created group vision" in out and "default project 'vision'" in out
    out = ok(cli("users", "create", "alice", "--group", "vision", "--role", "member", "--email", "a@x.io"))
    assert "Created user alice" in out and "vision (member)" in out
    result = cli("users", "create", "bob", "--password-prompt", "--admin", input="pass-word-1\npass-word-1\n")
    assert "Created platform admin bob" in ok(result)
    listed = ok(cli("users", "list"))
    assert all(name in listed for name in ("alice", "bob", "admin", "a@x.io")) and "3 user(s)" in listed
    users = {u["username"]: u for u in json.loads(ok(cli("users", "list", "--json")))}
    assert users["bob"]["is_admin"] is True and users["alice"]["email"] == "a@x.io"
    assert "password" not in json.dumps(users) and "hash" not in json.dumps(users)
    # bob's password works over HTTP Basic
    me = httpx.get(f"{live_server.url}/user/api/me", auth=("bob", "pass-word-1")).json()["result"]
    assert me["username"] == "bob" and me["is_admin"] is True

    ok(cli("groups", "add-member", "vision", "bob", "--role", "viewer"))
    shown = ok(cli("groups", "show", "vision"))
    assert re.search(r"alice\s.*member", shown) and re.search(r"bob\s.*viewer", shown)
    assert "Projects (1)" in shown
    assert "bob now has the 'admin' role in group vision" in ok(
        cli("groups", "set-role", "vision", "bob", "admin")
    )
    assert services.identity.get_group(admin, "vision").members == {"alice": "member", "bob": "admin"}
    ok(cli("groups", "remove-member", "vision", "bob"))
    assert services.identity.get_group(admin, "vision").members == {"alice": "member"}
    failed(cli("groups", "remove-member", "vision", "bob"), "not a member of group 'vision'")
    groups = {g["name"]: g for g in json.loads(ok(cli("groups", "list", "--json")))}
    assert set(groups) == {"default", "vision"} and groups["vision"]["member_count"] == 1

    # a member cannot raise their own role: refused, nothing changed
    alice = new_token(cli, "--user", "alice", "--name", "laptop")
    failed(cli("--token", alice, "groups", "set-role", "vision", "alice", "admin"), "'admin' role")
    failed(cli("--token", alice, "users", "create", "mallory", "--admin"), "platform admin")
    assert services.identity.get_group(admin, "vision").members == {"alice": "member"}
    assert "vision" in ok(cli("--token", alice, "groups", "list")) and "default" not in ok(
        cli("--token", alice, "groups", "list")
    )

    # disable and enable
    ok(cli("users", "disable", "alice"))
    failed(cli("--token", alice, "groups", "list"), "disabled")
    ok(cli("users", "enable", "alice"))
    assert "vision" in ok(cli("--token", alice, "groups", "list"))
    failed(cli("users", "disable", "nobody"), "No user 'nobody'")


def test_tokens(cli: Invoke, live_server: LiveServer) -> None:
    ok(cli("groups", "create", "team"))
    ok(cli("users", "create", "carl", "--group", "team"))
    secret = new_token(cli, "--user", "carl", "--name", "ci", "--expires-in-days", "7")
    mine = ok(cli("--token", secret, "tokens", "list"))
    assert "ci" in mine and "active" in mine and secret not in mine and secret[:10] in mine
    as_json = json.loads(ok(cli("--token", secret, "tokens", "list", "--json")))
    assert [t["name"] for t in as_json] == ["ci"] and as_json[0]["expires_at"] and "token" not in as_json[0]
    assert "ci" in ok(cli("tokens", "list", "--user", "carl"))
    # the admin's own tokens: by name, as the random token prefix in the table can hold "ci"
    assert "ci" not in [t["name"] for t in json.loads(ok(cli("tokens", "list", "--json")))]
    # carl cannot reach the admin's tokens
    failed(cli("--token", secret, "tokens", "create", "--user", "admin"), "platform admin")
    own = new_token(cli, "--name", "mine")
    mine_id = next(t["id"] for t in json.loads(ok(cli("tokens", "list", "--json"))) if t["name"] == "mine")
    failed(cli("--token", secret, "tokens", "revoke", str(mine_id)), "No token")
    assert "mine" in ok(cli("--token", own, "tokens", "list"))

    token_id = as_json[0]["id"]
    assert "revoked" in ok(cli("--token", secret, "tokens", "revoke", str(token_id)))
    failed(cli("--token", secret, "tokens", "list"), "UNAUTHENTICATED", "revoked")
    assert "revoked" in ok(cli("tokens", "list", "--user", "carl"))
    # cube-studio's username|token form
    assert "mine" in ok(cli("--token", own, "--username", "admin", "tokens", "list"))
    failed(cli("--token", own, "--username", "carl", "tokens", "list"), "does not belong")


def test_audit_list_and_verify(cli: Invoke, services: Services) -> None:
    ok(cli("groups", "create", "vision"))
    ok(cli("users", "create", "dana", "--group", "vision"))
    ok(cli("groups", "set-role", "vision", "dana", "viewer"))
    out = ok(cli("audit", "list", "--resource-type", "membership", "--resource", "vision/dana"))
    assert "set_role" in out and "add_member" in out and "role: member → viewer" in out
    assert "2 event(s)" in out
    events = json.loads(ok(cli("audit", "list", "--user", "admin", "--action", "create", "--json")))
    assert {(e["resource_type"], e["resource_name"]) for e in events} >= {
        ("group", "vision"),
        ("user", "dana"),
    }
    assert all(e["actor"] == "admin" and e["outcome"] == "success" for e in events)
    assert "0 event(s)" in ok(cli("audit", "list", "--since", "2999-01-01"))
    assert "event(s)" in ok(cli("audit", "list", "--until", "2999-01-01T00:00", "--limit", "2"))
    assert len(json.loads(ok(cli("audit", "list", "--limit", "2", "--json")))) == 2
    bad = cli("audit", "list", "--since", "yesterday")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output

    assert "intact" in ok(cli("audit", "verify"))
    target = next(e["seq"] for e in events if e["resource_type"] == "user")
    with services.db.write() as s:  # tamper with one row behind the server's back
        s.execute(update(AuditEventRow).where(AuditEventRow.seq == target).values(actor="nobody"))
    result = cli("audit", "verify")
    text = failed(result, "broken", f"event {target} was altered")
    assert "intact" not in text
    report = json.loads(cli("audit", "verify", "--json").stdout)
    assert report["ok"] is False and report["problems"] == [
        f"event {target} was altered: its content no longer matches its hash"
    ]
