"""Group isolation and roles on the resource API: another group's rows are invisible (404, exactly as a
missing id), a viewer reads but never writes (403 naming the role), a member cannot promote anyone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.storage.orm import AuditEventRow
from tests.api.identity_helpers import Team, group_id, make_team, ok, refused
from tests.conftest import UserCreds

MISSING = {"project": 99999, "experiment": 99999, "run": "f" * 32, "dataset": "f" * 32}
PRIMARY_KEYS = {"project": "id", "experiment": "experiment_id", "run": "run_uuid", "dataset": "dataset_uuid"}
RESOURCES = tuple(MISSING)


@pytest.fixture
def teams(http: TestClient, services: Services, make_user: Callable[..., UserCreds]) -> dict[str, Team]:
    return {
        "a": make_team(http, services, make_user, "team-a", "alice"),
        "b": make_team(http, services, make_user, "team-b", "bob"),
    }


def listed(http: TestClient, who: UserCreds, resource: str, **form: Any) -> list[Any]:
    result = ok(
        http.get(f"/{resource}/api/", params={"form_data": orjson.dumps(form).decode()}, headers=who.headers)
    )
    assert result["count"] == len(result["data"])
    return [item[PRIMARY_KEYS.get(resource, "id")] for item in result["data"]]


def test_each_group_lists_only_its_own_rows(http: TestClient, teams: dict[str, Team]) -> None:
    a, b = teams["a"], teams["b"]
    for team in (a, b):
        for resource, key in team.ids().items():
            expected = [key, team.default_project] if resource == "project" else [key]
            assert listed(http, team.member, resource) == expected, (team.group, resource)
    # the platform admin sees both (and the default experiment)
    everything = ok(http.get("/experiment/api/"))["data"]
    assert {a.experiment, b.experiment, 0} == {e["experiment_id"] for e in everything}
    # filters cannot reach across either: the other group's experiment id selects nothing
    assert (
        listed(http, b.member, "run", filters=[{"col": "experiment_id", "opr": "eq", "value": a.experiment}])
        == []
    )
    assert (
        listed(http, b.member, "run", filters=[{"col": "datasets", "opr": "rel_m_m", "value": a.dataset}])
        == []
    )
    # nor do the relation choices of the forms
    info = ok(http.get("/experiment/api/_info", headers=b.member.headers))
    choices = next(f for f in info["add_columns"] if f["name"] == "project_id")["values"]
    assert {c["value"] for c in choices} == {"team-b", "team-b-p"}
    assert {g["name"] for g in ok(http.get("/group/api/", headers=b.member.headers))["data"]} == {"team-b"}
    assert {u["username"] for u in ok(http.get("/user/api/", headers=b.member.headers))["data"]} == {"bob"}


@pytest.mark.parametrize("resource", RESOURCES)
def test_another_groups_row_answers_exactly_like_a_missing_one(
    http: TestClient, services: Services, admin: Principal, teams: dict[str, Team], resource: str
) -> None:
    a, bob = teams["a"], teams["b"].member
    hidden, missing = a.ids()[resource], MISSING[resource]

    def same(method: str, path: str, body: Any = None) -> None:
        kwargs: dict[str, Any] = {"headers": bob.headers}
        if body is not None:
            kwargs["json"] = body
        seen = refused(http.request(method, path.format(hidden), **kwargs), 404)
        absent = refused(http.request(method, path.format(missing), **kwargs), 404)
        assert seen.replace(str(hidden), "<id>") == absent.replace(str(missing), "<id>")

    same("GET", f"/{resource}/api/{{}}")
    if resource != "dataset":
        same("DELETE", f"/{resource}/api/{{}}")
        same("PUT", f"/{resource}/api/{{}}", {"name": "stolen"})
    if resource in ("experiment", "run"):
        same("GET", f"/{resource}/api/action/delete/{{}}")
        refused(
            http.post(f"/{resource}/api/multi_action/delete", json={"ids": [hidden]}, headers=bob.headers),
            404,
            "applied to none",
        )
    # the attempts to change are audited (the reads are not: they changed nothing)
    with services.db.read() as s:
        attempts = list(
            s.execute(
                select(AuditEventRow.action, AuditEventRow.outcome).where(
                    AuditEventRow.actor == "bob",
                    AuditEventRow.resource_type == resource,
                    AuditEventRow.resource_id == str(hidden),
                )
            )
        )
    expected = {"dataset": set(), "project": {"edit", "delete"}}.get(
        resource, {"edit", "delete", "action:delete"}
    )
    assert {action for action, _ in attempts} == expected
    assert {outcome for _, outcome in attempts} <= {"denied"}
    # nothing changed
    assert ok(http.get(f"/{resource}/api/{hidden}", headers=a.member.headers)) == ok(
        http.get(f"/{resource}/api/{hidden}")
    )
    assert services.experiments.get_experiment(admin, a.experiment).name == "team-a-e"
    assert services.tracking.get_run(admin, a.run).lifecycle_stage == "active"


def test_writing_into_another_groups_project_is_refused(http: TestClient, teams: dict[str, Team]) -> None:
    a, bob = teams["a"], teams["b"].member
    refused(
        http.post("/experiment/api/", json={"name": "sneaky", "project_id": a.project}, headers=bob.headers),
        404,
    )
    refused(http.post("/project/api/", json={"name": "sneaky", "group_id": 1}, headers=bob.headers), 404)
    assert listed(http, a.member, "experiment") == [a.experiment]


def test_a_viewer_reads_but_cannot_write(
    http: TestClient,
    services: Services,
    admin: Principal,
    teams: dict[str, Team],
    make_user: Callable[..., UserCreds],
) -> None:
    a = teams["a"]
    carol = make_user("carol", group="team-a", role="viewer")
    for resource, key in a.ids().items():
        assert key in listed(http, carol, resource)
        assert ok(http.get(f"/{resource}/api/{key}", headers=carol.headers))
    attempts = [
        http.put(f"/experiment/api/{a.experiment}", json={"name": "x"}, headers=carol.headers),
        http.delete(f"/experiment/api/{a.experiment}", headers=carol.headers),
        http.get(f"/run/api/action/delete/{a.run}", headers=carol.headers),
        http.put(f"/run/api/{a.run}", json={"status": "KILLED"}, headers=carol.headers),
        http.post("/run/api/multi_action/delete", json={"ids": [a.run]}, headers=carol.headers),
        http.put(f"/project/api/{a.project}", json={"description": "x"}, headers=carol.headers),
    ]
    for response in attempts:
        refused(response, 403, "Permission denied", "role", "'carol' is a 'viewer'")
    refused(http.post("/project/api/", json={"name": "mine"}, headers=carol.headers), 403, "'member' role")
    refused(
        http.post("/experiment/api/", json={"name": "mine", "project_id": a.project}, headers=carol.headers),
        403,
        "'member' role",
    )
    assert services.experiments.get_experiment(admin, a.experiment).name == "team-a-e"
    run = services.tracking.get_run(admin, a.run)
    assert (run.lifecycle_stage, run.status) == ("active", "RUNNING")
    info = ok(http.get("/experiment/api/_info", headers=carol.headers))
    assert info["permissions"] == ["can_list", "can_show"]
    assert ok(http.get("/experiment/api/_info", headers=a.member.headers))["permissions"] == [
        "can_list", "can_show", "can_add", "can_edit", "can_delete", "can_action_delete", "can_action_restore",
    ]  # fmt: skip


def test_renaming_or_deleting_a_project_needs_the_group_admin(
    http: TestClient,
    services: Services,
    admin: Principal,
    teams: dict[str, Team],
    make_user: Callable[..., UserCreds],
) -> None:
    a = teams["a"]
    refused(
        http.put(f"/project/api/{a.project}", json={"name": "x"}, headers=a.member.headers),
        403,
        "'admin' role",
    )
    refused(http.delete(f"/project/api/{a.project}", headers=a.member.headers), 403, "'admin' role")
    assert "can_edit" not in ok(http.get("/project/api/_info", headers=a.member.headers))["permissions"]
    dora = make_user("dora", group="team-a", role="admin")
    renamed = ok(http.put(f"/project/api/{a.project}", json={"name": "vision"}, headers=dora.headers))
    assert renamed["name"] == "vision" and renamed["group_id"] == group_id(services, admin, "team-a")
    default = ok(
        http.get("/project/api/", params={"filters": '[{"col": "name", "opr": "eq", "value": "team-a"}]'})
    )
    refused(
        http.put(f"/project/api/{default['data'][0]['id']}", json={"name": "y"}, headers=dora.headers),
        400,
        "default project of group 'team-a'",
    )
    events = ok(
        http.get(
            "/audit_event/api/",
            params={
                "filters": orjson.dumps(
                    [
                        {"col": "resource_type", "opr": "eq", "value": "project"},
                        {"col": "resource_id", "opr": "eq", "value": str(a.project)},
                    ]
                ).decode()
            },
        )
    )["data"]
    assert [(e["action"], e["actor"]) for e in events] == [("update", "dora"), ("create", "alice")]
    assert events[0]["changes"] == {"before": {"name": "team-a-p"}, "after": {"name": "vision"}}


def test_a_member_cannot_raise_anyones_role(
    http: TestClient, services: Services, admin: Principal, teams: dict[str, Team]
) -> None:
    alice = teams["a"].member
    membership = ok(
        http.get(
            "/membership/api/", params={"filters": '[{"col": "username", "opr": "eq", "value": "alice"}]'}
        )
    )["data"][0]
    assert (membership["group"], membership["role"]) == ("team-a", "member")
    refused(
        http.post(
            "/membership/api/",
            json={"group": "team-a", "username": "alice", "role": "admin"},
            headers=alice.headers,
        ),
        403,
        "'admin' role",
    )
    refused(
        http.put(f"/membership/api/{membership['id']}", json={"role": "admin"}, headers=alice.headers),
        403,
        "'admin' role",
        "'alice' is a 'member'",
    )
    refused(http.delete(f"/membership/api/{membership['id']}", headers=alice.headers), 403, "'admin' role")
    refused(
        http.post(
            "/membership/api/",
            json={"group": "team-b", "username": "alice", "role": "viewer"},
            headers=alice.headers,
        ),
        403,
    )
    refused(
        http.post("/user/api/", json={"username": "mallory", "is_admin": True}, headers=alice.headers),
        403,
        "platform admin",
    )
    refused(http.post("/group/api/", json={"name": "mine"}, headers=alice.headers), 403, "platform admin")
    assert services.identity.get_group(admin, "team-a").members == {"alice": "member"}
    assert "team-b" not in {
        g.name for g in services.identity.list_groups(services.identity.authenticate_token(alice.token))
    }
    assert services.identity.list_users(admin) and "mallory" not in {
        u.username for u in services.identity.list_users(admin)
    }
    # the refusals are in the audit trail
    with services.db.read() as s:
        refusals = list(
            s.scalars(
                select(AuditEventRow.action).where(
                    AuditEventRow.actor == "alice", AuditEventRow.outcome != "success"
                )
            )
        )
    assert len(refusals) >= 4
    assert {"POST /membership/api/", f"PUT /membership/api/{membership['id']}"} <= set(refusals)
