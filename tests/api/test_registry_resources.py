"""The native resource API of the registry: ``registered_model`` and ``model_version`` — _info, list with
filters and order, show (tags, aliases, versions), update, delete, stage changes and actions, group
isolation, roles and the audit trail of alias moves."""

from __future__ import annotations

import itertools
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

API = "/api/2.0/mlflow"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registry timestamps from a counter, so orders by time are exact."""
    ticks = itertools.count(1000)
    for module in ("modelyard.services.registry.service", "modelyard.services.registry.versions"):
        monkeypatch.setattr(f"{module}.now_ms", lambda: next(ticks))


def listed(
    http: TestClient, resource: str, headers: dict[str, str] | None = None, **form: Any
) -> list[dict[str, Any]]:
    result = ok(
        http.get(f"/{resource}/api/", params={"form_data": orjson.dumps(form).decode()}, headers=headers)
    )
    assert result["count"] == len(result["data"])
    return list(result["data"])


def where(*filters: tuple[str, str, Any]) -> list[dict[str, Any]]:
    return [{"col": c, "opr": o, "value": v} for c, o, v in filters]


def new_run(http: TestClient, experiment: str, headers: dict[str, str] | None = None) -> str:
    eid = http.post(f"{API}/experiments/create", json={"name": experiment}, headers=headers).json()
    run = http.post(f"{API}/runs/create", json={"experiment_id": eid["experiment_id"]}, headers=headers)
    return str(run.json()["run"]["info"]["run_id"])


def add_version(http: TestClient, name: str, run_id: str, headers: dict[str, str] | None = None) -> int:
    response = http.post(
        f"{API}/model-versions/create",
        json={"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return int(response.json()["model_version"]["version"])


def version_ids(http: TestClient, name: str) -> dict[int, int]:
    """version number -> resource id"""
    rows = listed(http, "model_version", filters=where(("name", "eq", name)))
    return {v["version"]: v["id"] for v in rows}


def mlflow_version(http: TestClient, name: str, version: int) -> dict[str, Any]:
    response = http.get(f"{API}/model-versions/get", params={"name": name, "version": str(version)})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["model_version"]
    return found


def test_info_describes_both_resources(http: TestClient) -> None:
    info = ok(http.get("/registered_model/api/_info"))
    assert info["primary_key"] == "id" and info["title_column"] == "name"
    assert info["list_columns"] == [
        "id", "name", "description", "group_id", "group", "user_id", "version_count", "latest_version",
        "aliases", "creation_timestamp", "last_updated_timestamp",
    ]  # fmt: skip
    columns = {c["name"]: c for c in info["columns"]}
    assert columns["versions"]["relation"] == {"kind": "many_to_many", "resource": "model_version"}
    assert columns["aliases"]["type"] == "json" and not columns["aliases"]["search"]
    assert [f["name"] for f in info["add_columns"]] == ["name", "description", "group_id"]
    assert [f["name"] for f in info["edit_columns"]] == ["name", "description"]
    assert list(info["actions"]) == ["delete"]
    assert info["permissions"] == [
        "can_list",
        "can_show",
        "can_add",
        "can_edit",
        "can_delete",
        "can_action_delete",
    ]

    info = ok(http.get("/model_version/api/_info"))
    columns = {c["name"]: c for c in info["columns"]}
    assert columns["current_stage"]["values"] == ["None", "Staging", "Production", "Archived"]
    assert columns["datasets"]["relation"] == {"kind": "many_to_many", "resource": "dataset"}
    assert [f["operator"] for f in info["filters"]["datasets"]] == ["rel_m_m"]
    assert columns["run_id"]["relation"] == {"kind": "one_to_many", "resource": "run"}
    assert [f["name"] for f in info["add_columns"]] == ["name", "run_id", "artifact_path", "description"]
    assert [f["name"] for f in info["edit_columns"]] == [
        "description",
        "current_stage",
        "archive_existing_versions",
    ]
    assert list(info["actions"]) == ["staging", "production", "archive"]


def test_registered_models_list_filter_show_update_delete(http: TestClient, services: Services) -> None:
    default = group_id(services, Principal.system(), "default")
    created = ok(http.post("/registered_model/api/", json={"name": "iris", "description": "flowers"}), 201)
    assert {
        k: created[k] for k in ("name", "description", "group_id", "group", "user_id", "version_count")
    } == {
        "name": "iris",
        "description": "flowers",
        "group_id": default,
        "group": "default",
        "user_id": "admin",
        "version_count": 0,
    }
    assert (created["latest_version"], created["aliases"], created["tags"], created["versions"]) == (
        None,
        {},
        {},
        [],
    )
    refused(http.post("/registered_model/api/", json={"name": "iris"}), 400, "(name=iris) already exists")
    refused(http.post("/registered_model/api/", json={"name": "a:b"}), 400, "cannot contain '/' or ':'")
    ok(http.post("/registered_model/api/", json={"name": "iris-small"}), 201)
    ok(http.post("/registered_model/api/", json={"name": "wine"}), 201)

    run = new_run(http, "train")
    for _ in range(3):
        add_version(http, "iris", run)
    add_version(http, "wine", run)
    assert http.post(
        f"{API}/registered-models/alias", json={"name": "iris", "alias": "champion", "version": "2"}
    )
    http.post(f"{API}/registered-models/set-tag", json={"name": "iris", "key": "team", "value": "vision"})
    http.post(
        f"{API}/model-versions/transition-stage",
        json={"name": "iris", "version": "1", "stage": "Production", "archive_existing_versions": False},
    )

    everything = listed(http, "registered_model", order_column="name", order_direction="asc")
    assert [(m["name"], m["version_count"], m["latest_version"], m["aliases"]) for m in everything] == [
        ("iris", 3, 3, {"champion": 2}),
        ("iris-small", 0, None, {}),
        ("wine", 1, 1, {}),
    ]
    assert "tags" not in everything[0] and "versions" not in everything[0]
    names = [m["name"] for m in listed(http, "registered_model", filters=where(("name", "sw", "iris")))]
    assert sorted(names) == ["iris", "iris-small"]
    with_versions = listed(
        http, "registered_model", filters=where(("version_count", "gt", 0)), order_column="version_count"
    )
    assert [m["name"] for m in with_versions] == ["wine", "iris"]
    refused(
        http.get(
            "/registered_model/api/", params={"filters": orjson.dumps(where(("tags", "eq", "x"))).decode()}
        ),
        400,
        "Column 'tags' of resource 'registered_model' cannot be filtered",
    )

    iris = ok(http.get(f"/registered_model/api/{created['id']}"))
    assert (iris["tags"], iris["aliases"]) == ({"team": "vision"}, {"champion": 2})
    assert sorted(v["version"] for v in iris["versions"]) == [1, 2, 3]
    latest = sorted((v["version"], v["current_stage"]) for v in iris["latest_versions"])
    assert latest == [(1, "Production"), (3, "None")]  # newest per stage, as MLflow's latest_versions

    renamed = ok(
        http.put(f"/registered_model/api/{created['id']}", json={"name": "iris2", "description": "v2"})
    )
    assert (renamed["name"], renamed["description"]) == ("iris2", "v2")
    assert mlflow_version(http, "iris2", 2)["aliases"] == ["champion"]
    wine = listed(http, "registered_model", filters=where(("name", "eq", "wine")))[0]
    gone = ok(http.delete(f"/registered_model/api/{wine['id']}"))
    assert gone["name"] == "wine"
    assert http.get(f"{API}/registered-models/get", params={"name": "wine"}).status_code == 404
    small = listed(http, "registered_model", filters=where(("name", "eq", "iris-small")))[0]
    assert (
        ok(http.post("/registered_model/api/multi_action/delete", json={"ids": [small["id"]]}))["count"] == 1
    )
    assert [m["name"] for m in listed(http, "registered_model")] == ["iris2"]

    with services.db.read() as s:
        actions = list(
            s.execute(
                select(AuditEventRow.resource_name, AuditEventRow.action, AuditEventRow.changes)
                .where(AuditEventRow.resource_type == "registered_model")
                .where(AuditEventRow.action.in_(["rename", "update"]))
                .order_by(AuditEventRow.seq)
            )
        )
    assert actions == [
        ("iris", "rename", {"before": {"name": "iris"}, "after": {"name": "iris2"}}),
        ("iris2", "update", {"before": {"description": "flowers"}, "after": {"description": "v2"}}),
    ]


def test_model_versions_filter_describe_stage_act_and_delete(http: TestClient) -> None:
    run, other = new_run(http, "train"), new_run(http, "other")
    ok(http.post("/registered_model/api/", json={"name": "churn"}), 201)
    for source in (run, run, other):
        add_version(http, "churn", source)
    ids = version_ids(http, "churn")

    churn = where(("name", "eq", "churn"))
    by_version = listed(http, "model_version", filters=churn, order_column="version", order_direction="asc")
    assert [(v["version"], v["current_stage"], v["status"], v["run_id"]) for v in by_version] == [
        (1, "None", "READY", run),
        (2, "None", "READY", run),
        (3, "None", "READY", other),
    ]
    assert [v["version"] for v in listed(http, "model_version", filters=where(("run_id", "eq", other)))] == [
        3
    ]
    assert listed(http, "model_version", filters=where(("source", "sw", "models:/"))) == []

    described = ok(http.put(f"/model_version/api/{ids[1]}", json={"description": "baseline"}))
    assert described["description"] == "baseline"
    assert mlflow_version(http, "churn", 1)["description"] == "baseline"

    ok(http.get(f"/model_version/api/action/production/{ids[1]}"))
    moved = ok(
        http.put(
            f"/model_version/api/{ids[2]}",
            json={"current_stage": "Production", "archive_existing_versions": True},
        )
    )
    assert moved["current_stage"] == "Production"
    assert mlflow_version(http, "churn", 1)["current_stage"] == "Archived"
    production = listed(http, "model_version", filters=where(("current_stage", "eq", "Production")))
    assert [v["version"] for v in production] == [2]

    refused(
        http.put(f"/model_version/api/{ids[3]}", json={"archive_existing_versions": True}),
        400,
        "'archive_existing_versions' goes with 'current_stage'",
    )
    refused(http.put(f"/model_version/api/{ids[3]}", json={"current_stage": "Live"}), 400, "Staging")

    done = ok(http.post("/model_version/api/multi_action/staging", json={"ids": [ids[1], ids[3]]}))
    assert done == {"action": "staging", "ids": [ids[1], ids[3]], "count": 2}
    assert [mlflow_version(http, "churn", n)["current_stage"] for n in (1, 2, 3)] == [
        "Staging",
        "Production",
        "Staging",
    ]
    assert ok(http.get(f"/model_version/api/action/archive/{ids[3]}"))["current_stage"] == "Archived"

    deleted = ok(http.delete(f"/model_version/api/{ids[3]}"))
    assert deleted["version"] == 3
    assert http.get(f"{API}/model-versions/get", params={"name": "churn", "version": "3"}).status_code == 404
    assert add_version(http, "churn", run) == 4  # a number is never given out twice
    refused(http.get("/model_version/api/99999"), 404, "No model_version with id=99999 exists.")
    refused(http.post("/model_version/api/", json={"name": "churn"}), 400, "run_id")


@pytest.fixture
def teams(http: TestClient, services: Services, make_user: Callable[..., UserCreds]) -> dict[str, Team]:
    return {
        "a": make_team(http, services, make_user, "team-a", "alice"),
        "b": make_team(http, services, make_user, "team-b", "bob"),
    }


def test_another_groups_models_are_missing_and_a_viewer_only_reads(
    http: TestClient, services: Services, teams: dict[str, Team], make_user: Callable[..., UserCreds]
) -> None:
    alice, bob = teams["a"].member, teams["b"].member
    model = ok(
        http.post(
            "/registered_model/api/",
            json={"name": "a-model", "group_id": group_id(services, Principal.system(), "team-a")},
            headers=alice.headers,
        ),
        201,
    )
    add_version(http, "a-model", teams["a"].run, alice.headers)
    champion = {"name": "a-model", "alias": "champion", "version": "1"}
    assert (
        http.post(f"{API}/registered-models/alias", json=champion, headers=alice.headers).status_code == 200
    )
    (vid,) = version_ids(http, "a-model").values()

    # bob: nothing of team a exists, exactly as a missing id (and each refused write is audited)
    assert listed(http, "registered_model", bob.headers) == []
    assert listed(http, "model_version", bob.headers) == []
    for resource, key in (("registered_model", model["id"]), ("model_version", vid)):
        hidden = refused(http.get(f"/{resource}/api/{key}", headers=bob.headers), 404)
        assert hidden == f"No {resource} with id={key} exists."
        refused(http.put(f"/{resource}/api/{key}", json={"description": "x"}, headers=bob.headers), 404)
        refused(http.delete(f"/{resource}/api/{key}", headers=bob.headers), 404)
    refused(http.get(f"/model_version/api/action/archive/{vid}", headers=bob.headers), 404)
    bulk = http.post(
        "/registered_model/api/multi_action/delete", json={"ids": [model["id"]]}, headers=bob.headers
    )
    refused(bulk, 404)
    with services.db.read() as s:
        denied = s.scalars(
            select(AuditEventRow.action).where(
                AuditEventRow.actor == "bob", AuditEventRow.outcome != "success"
            )
        ).all()
    assert sorted(denied) == ["action:archive", "action:delete", "delete", "delete", "edit", "edit"]

    # ... nor through the MLflow API, the download location, the files, aliases, or its runs
    for path, params in (
        ("registered-models/get", {"name": "a-model"}),
        ("model-versions/get", {"name": "a-model", "version": "1"}),
        ("model-versions/get-download-uri", {"name": "a-model", "version": "1"}),
        ("registered-models/alias", {"name": "a-model", "alias": "champion"}),
    ):
        response = http.get(f"{API}/{path}", params=params, headers=bob.headers)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["message"] == "Registered Model with name=a-model not found", path
    alias = {"name": "a-model", "alias": "mine", "version": "1"}
    response = http.post(f"{API}/registered-models/alias", json=alias, headers=bob.headers)
    assert response.status_code == 404
    location = ok(http.get(f"/model_version/api/{vid}"))["storage_location"]
    path = location.removeprefix("mlflow-artifacts:/")
    assert path == f"{teams['a'].experiment}/{teams['a'].run}/artifacts/model"
    for url in (f"/api/2.0/mlflow-artifacts/artifacts/{path}/MLmodel", "/api/2.0/mlflow-artifacts/artifacts"):
        got = http.get(url, params={"path": path}, headers=bob.headers)
        assert got.status_code == 404, got.text
    refused(
        http.post(
            "/model_version/api/", json={"name": "b-copy", "run_id": teams["a"].run}, headers=bob.headers
        ),
        404,
        f"Run with id={teams['a'].run} not found",
    )

    # carol, a viewer of team a: reads everything, changes nothing
    carol = make_user("carol", group="team-a", role="viewer")
    assert [m["name"] for m in listed(http, "registered_model", carol.headers)] == ["a-model"]
    assert ok(http.get(f"/model_version/api/{vid}", headers=carol.headers))["aliases"] == ["champion"]
    refused(
        http.put(f"/model_version/api/{vid}", json={"description": "x"}, headers=carol.headers),
        403,
        "needs the 'member' role",
    )
    refused(http.get(f"/model_version/api/action/production/{vid}", headers=carol.headers), 403, "'member'")
    response = http.post(f"{API}/registered-models/alias", json=alias, headers=carol.headers)
    assert response.status_code == 403
    refused(
        http.post(
            "/model_version/api/", json={"name": "a-model", "run_id": teams["a"].run}, headers=carol.headers
        ),
        403,
        "creating a model_version needs the 'member' role",
    )


def test_alias_moves_are_audited_and_unknown_aliases_and_models_are_named(
    http: TestClient, services: Services
) -> None:
    run = new_run(http, "train")
    ok(http.post("/registered_model/api/", json={"name": "iris"}), 201)
    add_version(http, "iris", run)
    add_version(http, "iris", run)
    for version in ("1", "2"):
        response = http.post(
            f"{API}/registered-models/alias", json={"name": "iris", "alias": "champion", "version": version}
        )
        assert response.status_code == 200
    removed = http.request(
        "DELETE", f"{API}/registered-models/alias", json={"name": "iris", "alias": "champion"}
    )
    assert removed.status_code == 200

    with services.db.read() as s:
        moves = s.execute(
            select(AuditEventRow.action, AuditEventRow.changes, AuditEventRow.actor)
            .where(AuditEventRow.resource_type == "registered_model", AuditEventRow.action.like("%alias"))
            .order_by(AuditEventRow.seq)
        ).all()
    assert [(a, c, who) for a, c, who in moves] == [
        ("set_alias", {"before": {"aliases.champion": None}, "after": {"aliases.champion": 1}}, "admin"),
        ("set_alias", {"before": {"aliases.champion": 1}, "after": {"aliases.champion": 2}}, "admin"),
        ("delete_alias", {"before": {"aliases.champion": 2}, "after": {"aliases.champion": None}}, "admin"),
    ]
    # the audit trail is readable through the resource API too, filtered to the model
    form = {"filters": where(("resource_type", "eq", "registered_model"), ("action", "eq", "set_alias"))}
    assert len(listed(http, "audit_event", **form)) == 2

    unknown = http.get(f"{API}/registered-models/alias", params={"name": "iris", "alias": "nope"})
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Registered model alias nope not found.")
    missing = http.get(f"{API}/model-versions/get", params={"name": "ghost", "version": "1"})
    assert (missing.status_code, missing.json()["message"]) == (
        404,
        "Registered Model with name=ghost not found",
    )
    missing = http.get(f"{API}/model-versions/get", params={"name": "iris", "version": "9"})
    assert missing.json()["message"] == "Model Version (name=iris, version=9) not found"
