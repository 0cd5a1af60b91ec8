"""The ``deployment`` resource API: create/show/list/filter, strict spec errors, roles and group isolation,
actions, history and rollback, promotion with an artifact snapshot, the one-call deploy and the audit
trail (client tokens and logs: ``test_deployment_runtime_api``). The controller is off here: phases stay
as the service sets them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from modelyard.domain.deployments import Phase
from modelyard.services import Services
from tests.api.deployment_helpers import (
    API,
    BASE,
    DEFAULT_PREDICTOR,
    Team,
    create,
    listed,
    register_model,
    team,
    where,
)
from tests.api.identity_helpers import ok, refused

__all__ = ["team"]  # the fixture, used by name


# ---- create, show, list -------------------------------------------------------------------------
def test_create_show_list_and_filter(http: TestClient, team: Team) -> None:
    d = create(http, team.member, "iris-staging")
    assert (d["name"], d["group"], d["owner"], d["stage"], d["promoted_from"]) == (
        "iris-staging",
        "ds",
        "alice",
        "staging",
        None,
    )
    assert d["spec"] == {
        "display_name": "",
        "description": "",
        "stage": "staging",
        "stop": False,
        "endpoint": {"access": "public"},
        "predictors": [DEFAULT_PREDICTOR],
    }
    assert d["models"] == {
        "main": {
            "model": "models:/iris/1",
            "version": "1",
            "registered_model": "iris",
            "location": f"mlflow-artifacts:/{team.experiment}/{team.run}/artifacts/model",
        }
    }
    assert d["status"] == {
        "phase": "Deploying",
        "message": "Waiting for the controller.",
        "replicas": 0,
        "available_replicas": 0,
        "endpoint": "/deployment/iris-staging",
        "generation": 1,
        "observed_generation": 0,
        "replicas_detail": [],
    }
    assert [(h["actor"], h["spec"]) for h in d["history"]] == [("alice", d["spec"])]
    assert d["urls"] == {
        "seldon": "http://testserver/deployment/iris-staging/api/v1.0/predictions",
        "v2": "http://testserver/deployment/iris-staging/v2/models/iris-staging/infer",
        "mlflow": "http://testserver/deployment/iris-staging/invocations",
    }
    assert ok(http.get(f"{BASE}/{d['id']}", headers=team.viewer.headers)) == d
    assert ok(http.get(f"{BASE}/iris-staging", headers=team.viewer.headers)) == d

    big = create(
        http,
        team.member,
        "iris-big",
        predictors=[{"model": "models:/iris/1", "replicas": 2, "resources": {"cpu": 0.25, "memory": "1Gi"}}],
        description="two small replicas",
    )
    assert big["spec"]["predictors"][0]["resources"] == {"cpu": "250m", "memory": "1Gi", "gpu": 0}
    ok(http.get(f"{BASE}/action/stop/iris-big", headers=team.member.headers))

    assert listed(http, team.member) == ["iris-big", "iris-staging"]
    assert listed(http, team.member, filters=where(("name", "eq", "iris-big"))) == ["iris-big"]
    assert listed(http, team.member, filters=where(("name", "ct", "STAG"))) == ["iris-staging"]
    assert listed(http, team.member, filters=where(("group", "eq", "ds"))) == ["iris-big", "iris-staging"]
    assert listed(http, team.member, filters=where(("phase", "eq", "Stopping"))) == ["iris-big"]
    assert listed(http, team.member, filters=where(("stage", "eq", "production"))) == []
    assert listed(http, team.member, filters=where(("owner", "eq", "alice"))) == ["iris-big", "iris-staging"]
    assert listed(http, team.member, order_column="id", order_direction="desc") == [
        "iris-big",
        "iris-staging",
    ]
    row = ok(http.get(f"{BASE}/", params={"filters": '[{"col":"name","opr":"eq","value":"iris-big"}]'}))
    assert {k: row["data"][0][k] for k in ("group", "stage", "phase", "endpoint", "replicas")} == {
        "group": "ds",
        "stage": "staging",
        "phase": "Stopping",
        "endpoint": "/deployment/iris-big",
        "replicas": 0,
    }
    refused(
        http.get(f"{BASE}/", params={"filters": '[{"col":"model","opr":"eq","value":"x"}]'}),
        400,
        "Unknown column 'model'",
    )

    # another group's deployments do not exist for its members
    assert listed(http, team.outsider) == []
    missing = refused(http.get(f"{BASE}/iris-staging", headers=team.outsider.headers), 404)
    assert missing == refused(http.get(f"{BASE}/nothing-here", headers=team.outsider.headers), 404).replace(
        "nothing-here", "iris-staging"
    )
    refused(http.get(f"{BASE}/{d['id']}", headers=team.outsider.headers), 404, "does not exist")
    refused(http.put(f"{BASE}/iris-staging", json={"stop": True}, headers=team.outsider.headers), 404)
    refused(http.get(f"{BASE}/action/stop/iris-staging", headers=team.outsider.headers), 404)


def test_info_describes_the_resource(http: TestClient, team: Team) -> None:
    info = ok(http.get(f"{BASE}/_info", headers=team.viewer.headers))
    assert info["primary_key"] == "id" and info["route_base"] == "/deployment/api/"
    assert info["list_columns"] == [
        "id", "name", "group_id", "group", "owner", "stage", "phase", "message", "replicas",
        "available_replicas", "endpoint", "spec", "source_deployment_id", "generation", "created_at",
        "updated_at",
    ]  # fmt: skip
    assert list(info["actions"]) == ["stop", "start", "restart", "rollback"]
    assert [f["name"] for f in info["add_columns"]] == [
        "name", "group", "stage", "display_name", "description", "stop", "endpoint", "predictors",
    ]  # fmt: skip
    assert {f["name"]: f["type"] for f in info["edit_columns"]}["predictors"] == "json"
    assert info["filters"]["phase"] == [
        {"name": "Equal to", "operator": "eq"},
        {"name": "Not equal to", "operator": "neq"},
        {"name": "One of", "operator": "inf"},
    ]
    assert info["permissions"] == ["can_list", "can_show"]
    member = ok(http.get(f"{BASE}/_info", headers=team.member.headers))["permissions"]
    assert member == [
        "can_list", "can_show", "can_add", "can_edit", "can_delete", "can_action_stop", "can_action_start",
        "can_action_restart", "can_action_rollback",
    ]  # fmt: skip


# ---- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"replica": 2},
            400,
            "body: unknown field(s) ['replica']; a deployment is created with: name, group",
        ),
        (
            {"predictors": [{"model": "models:/iris/1", "gpus": 1}]},
            400,
            "predictors[0]: unknown field(s) ['gpus']; allowed: ['batching', 'env', 'instance_type', 'model', "
            "'name', 'replicas', 'resources', 'restarted_at', 'traffic'].",
        ),
        (
            {"predictors": [{"model": "models:/iris/1", "replicas": -1}]},
            400,
            "predictors[0].replicas: expected a whole number from 0 to 64, got -1.",
        ),
        (
            {"predictors": [{"model": "iris:1"}]},
            400,
            "predictors[0].model: expected models:/<name>/<version>, models:/<name>@<alias> or "
            "runs:/<run_id>/<path>, got 'iris:1'.",
        ),
        (
            {"predictors": [{"model": "models:/iris/9"}]},
            404,
            "predictor 'main' model models:/iris/9: registered model 'iris' has no version 9.",
        ),
        (
            {"predictors": [{"model": "models:/nope/1"}]},
            404,
            "predictor 'main' model models:/nope/1: registered model 'nope' does not exist",
        ),
        (
            {"predictors": [{"model": "models:/iris/1", "resources": {"cpu": "lots"}}]},
            400,
            "predictors[0].resources.cpu: expected a number of cores like 0.5 or '500m', got 'lots'.",
        ),
        ({"stage": "prod"}, 400, "stage: expected 'staging' or 'production', got 'prod'."),
        ({"name": "Iris_1"}, 400, "name: 'Iris_1' is not a valid deployment name"),
        ({"name": "api"}, 400, "'api' is reserved."),
        ({"name": None}, 400, "name: None is not a valid deployment name"),
        ({"group": "other"}, 404, "group: 'other' does not exist (or you are not a member)."),
        ({"predictors": []}, 400, "predictors: expected a list of 1 to 8 predictors."),
    ],
)
def test_create_refuses_bad_specs_naming_the_field(
    http: TestClient, team: Team, body: dict[str, Any], status: int, message: str
) -> None:
    full = {"name": "iris-x", "predictors": [{"model": "models:/iris/1"}], **body}
    refused(http.post(f"{BASE}/", json=full, headers=team.member.headers), status, message)
    assert listed(http) == []


def test_other_bad_requests(http: TestClient, team: Team) -> None:
    create(http, team.member, "iris-staging")
    who = team.member.headers
    refused(
        http.post(
            f"{BASE}/",
            json={"name": "iris-staging", "predictors": [{"model": "models:/iris/1"}]},
            headers=who,
        ),
        400,
        "name: a deployment named 'iris-staging' already exists.",
    )
    refused(http.post(f"{BASE}/", json={"predictors": []}, headers=who), 400, "name: required")
    refused(http.post(f"{BASE}/", content=b"", headers=who), 400, "The request body is empty")
    refused(http.post(f"{BASE}/", content=b"[1]", headers=who), 400, "must be a JSON object")
    refused(
        http.put(f"{BASE}/iris-staging", json={"stage": "production"}, headers=who),
        400,
        "stage: cannot change",
    )
    refused(
        http.put(f"{BASE}/iris-staging", json={"replicas": 3}, headers=who),
        400,
        "spec: unknown field(s) ['replicas']",
    )
    refused(
        http.put(f"{BASE}/iris-staging", json={}, headers=who),
        400,
        "body: nothing to change; give at least one of: display_name, description, stage, stop, endpoint, "
        "predictors.",
    )
    scale = f"{BASE}/iris-staging/scale"
    refused(
        http.post(scale, json={"replicas": "two"}, headers=who),
        400,
        "replicas: expected a whole number from 0 to 64, got 'two'.",
    )
    refused(
        http.post(scale, json={"replicas": 65}, headers=who),
        400,
        "replicas: expected a whole number from 0 to 64, got 65.",
    )
    refused(
        http.post(scale, json={"replica": 2}, headers=who),
        400,
        "body: unknown field(s) ['replica']; allowed: replicas, predictor.",
    )
    refused(http.post(scale, json={}, headers=who), 400, "replicas: required.")
    refused(
        http.post(scale, json={"replicas": 1, "predictor": "canary"}, headers=who),
        400,
        "predictor: no predictor named 'canary'.",
    )
    refused(
        http.post(f"{BASE}/iris-staging/rollback", json={"to": 5}, headers=who),
        400,
        "to: expected a history index from 0 to 0, got 5.",
    )
    refused(http.post(f"{BASE}/deploy", json={}, headers=who), 400, "model: required.")
    refused(
        http.post(f"{BASE}/deploy", json={"model": 3}, headers=who),
        400,
        "model: expected models:/<name>/<version>, got 3.",
    )
    for key in ("12345", "99999999999999999999", "no-such"):
        refused(http.get(f"{BASE}/{key}", headers=who), 404, f"Deployment '{key}' does not exist")
    refused(
        http.get(f"{BASE}/action/explode/iris-staging", headers=who),
        404,
        "has no action 'explode'; its actions are: stop, start, restart, rollback.",
    )
    refused(
        http.delete(f"{BASE}/iris-staging/tokens/abc", headers=who),
        404,
        "token: no client token with id 'abc'.",
    )
    refused(
        http.get(f"{BASE}/iris-staging/logs", params={"tail": "-1"}, headers=who),
        400,
        "tail: expected a whole number from 0 to 10000, got '-1'.",
    )
    refused(
        http.get(f"{BASE}/iris-staging/logs", params={"lines": "5"}, headers=who),
        400,
        "Unknown query parameter 'lines'",
    )


# ---- roles ----------------------------------------------------------------------------------------
def test_viewer_reads_member_changes_staging_admin_promotes(http: TestClient, team: Team) -> None:
    create(http, team.member, "iris-staging")
    viewer, member, admin = team.viewer.headers, team.member.headers, team.admin.headers
    assert ok(http.get(f"{BASE}/iris-staging", headers=viewer))["name"] == "iris-staging"
    denied = "needs the 'member' role in its group; user 'victor' is a 'viewer'."
    refused(http.put(f"{BASE}/iris-staging", json={"stop": True}, headers=viewer), 403, denied)
    refused(http.post(f"{BASE}/iris-staging/scale", json={"replicas": 2}, headers=viewer), 403, denied)
    refused(http.get(f"{BASE}/action/stop/iris-staging", headers=viewer), 403, "Permission denied")
    refused(http.delete(f"{BASE}/iris-staging", headers=viewer), 403, denied)
    refused(http.post(f"{BASE}/iris-staging/tokens", json={}, headers=viewer), 403, denied)
    refused(
        http.post(
            f"{BASE}/", json={"name": "v", "predictors": [{"model": "models:/iris/1"}]}, headers=viewer
        ),
        400,
        "group: you have the 'member' role in no group, so you cannot deploy",
    )
    refused(
        http.post(f"{BASE}/iris-staging/promote", json={"name": "iris-prod"}, headers=member),
        403,
        "Permission denied: Promoting deployment 'iris-staging' to production needs the 'admin' role in its "
        "group; user 'alice' is a 'member'.",
    )
    refused(create(http, team.member, "iris-p", 403, stage="production"), 403, "needs the 'admin' role")
    refused(http.post(f"{BASE}/iris-staging/promote", json={"name": "x"}, headers=team.outsider.headers), 404)

    prod = ok(http.post(f"{BASE}/iris-staging/promote", json={"name": "iris-prod"}, headers=admin), 201)
    assert (prod["stage"], prod["owner"], prod["group"]) == ("production", "ada", "ds")
    # a member may not change production, the group admin may
    refused(
        http.post(f"{BASE}/iris-prod/scale", json={"replicas": 3}, headers=member),
        403,
        "Changing deployment 'iris-prod' needs the 'admin' role in its group; user 'alice' is a 'member'.",
    )
    scaled = ok(http.post(f"{BASE}/iris-prod/scale", json={"replicas": 3}, headers=admin))
    assert scaled["spec"]["predictors"][0]["replicas"] == 3
    refused(
        http.post(f"{BASE}/iris-prod/promote", json={"name": "again"}, headers=admin),
        400,
        "Deployment 'iris-prod' is already a production deployment; promote a staging one.",
    )


# ---- actions, history, rollback --------------------------------------------------------------------
def test_actions_history_and_rollback(http: TestClient, team: Team) -> None:
    register_model(http, "iris", headers=team.member.headers)  # version 2
    who = team.member.headers
    first = create(http, team.member, "iris-staging")
    stopped = ok(http.get(f"{BASE}/action/stop/{first['id']}", headers=who))
    assert (stopped["spec"]["stop"], stopped["status"]["phase"]) == (True, "Stopping")
    started = ok(http.get(f"{BASE}/action/start/iris-staging", headers=who))
    assert (started["spec"]["stop"], started["status"]["phase"]) == (False, "Deploying")
    assert started["spec"] == first["spec"]

    scaled = ok(http.post(f"{BASE}/iris-staging/scale", json={"replicas": 2}, headers=who))
    assert scaled["spec"]["predictors"][0]["replicas"] == 2
    same = ok(http.post(f"{BASE}/iris-staging/scale", json={"replicas": 2}, headers=who))
    assert len(same["history"]) == len(scaled["history"])  # no change, no history entry
    updated = ok(
        http.put(
            f"{BASE}/iris-staging",
            json={"predictors": [{"name": "main", "model": "models:/iris/2"}], "display_name": "Iris"},
            headers=who,
        )
    )
    assert updated["models"]["main"]["version"] == "2"
    assert updated["spec"]["predictors"][0]["replicas"] == 2  # kept: only the model changed
    assert updated["status"]["generation"] == 5

    history = ok(http.get(f"{BASE}/iris-staging/history", headers=team.viewer.headers))
    assert history["count"] == 5
    assert [(e["index"], e["actor"]) for e in history["data"]] == [(i, "alice") for i in range(5)]
    shape = [
        (e["spec"]["predictors"][0]["model"], e["spec"]["predictors"][0]["replicas"], e["spec"]["stop"])
        for e in history["data"]
    ]
    assert shape == [
        ("models:/iris/2", 2, False),
        ("models:/iris/1", 2, False),
        ("models:/iris/1", 1, False),
        ("models:/iris/1", 1, True),
        ("models:/iris/1", 1, False),
    ]

    back = ok(http.post(f"{BASE}/iris-staging/rollback", json={"to": 4}, headers=who))
    assert back["spec"] == first["spec"]
    assert back["models"]["main"]["version"] == "1"
    assert len(back["history"]) == 6 and back["history"][0]["spec"] == first["spec"]
    again = ok(http.get(f"{BASE}/action/rollback/iris-staging", headers=who))  # to the one before
    assert again["spec"]["predictors"][0]["model"] == "models:/iris/2"

    result = ok(
        http.post(f"{BASE}/multi_action/stop", json={"ids": ["iris-staging", first["id"]]}, headers=who)
    )
    assert result == {"action": "stop", "ids": [first["id"]], "count": 1}
    refused(http.post(f"{BASE}/multi_action/stop", json={"ids": ["nope"]}, headers=who), 404, "'nope'")


def test_restart_marks_the_spec_and_start_retries_a_failed_deployment(
    http: TestClient, services: Services, team: Team
) -> None:
    who = team.member.headers
    first = create(http, team.member, "iris-staging")
    restarted = ok(http.post(f"{BASE}/iris-staging/restart", headers=who))
    at = restarted["spec"]["predictors"][0].pop("restarted_at")
    assert at > 0 and restarted["spec"] == first["spec"]  # the same spec, marked
    assert (restarted["status"]["generation"], restarted["status"]["phase"]) == (2, "Deploying")
    assert restarted["history"][0]["spec"]["predictors"][0]["restarted_at"] == at
    again = ok(http.get(f"{BASE}/action/restart/{first['id']}", headers=who))
    assert again["spec"]["predictors"][0]["restarted_at"] >= at and again["status"]["generation"] == 3
    # a later change keeps the mark (the replicas are not replaced by scaling)
    scaled = ok(http.post(f"{BASE}/iris-staging/scale", json={"replicas": 2}, headers=who))
    assert scaled["spec"]["predictors"][0]["restarted_at"] == again["spec"]["predictors"][0]["restarted_at"]

    refused(
        http.post(f"{BASE}/iris-staging/restart", json={"predictor": "x"}, headers=who),
        400,
        "predictor: no predictor named 'x'; the deployment has: main.",
    )
    refused(
        http.post(f"{BASE}/iris-staging/restart", json={"replicas": 1}, headers=who),
        400,
        "body: unknown field(s) ['replicas']; allowed: predictor.",
    )
    refused(
        http.post(f"{BASE}/iris-staging/restart", json={"predictor": 3}, headers=who),
        400,
        "predictor: expected a string, got 3.",
    )
    refused(http.post(f"{BASE}/iris-staging/restart", headers=team.viewer.headers), 403, "'member' role")
    refused(http.post(f"{BASE}/iris-staging/restart", headers=team.outsider.headers), 404)

    # start on a deployment that is not Failed changes nothing; on a Failed one it restarts
    same = ok(http.get(f"{BASE}/action/start/iris-staging", headers=who))
    assert same["status"]["generation"] == scaled["status"]["generation"]
    d = services.deployments.get(services.identity.authenticate_token(team.member.token), "iris-staging")
    services.deployments.report_status(
        d["id"], d["status"]["generation"], Phase.FAILED, "Replica x failed: boom", []
    )
    retried = ok(http.get(f"{BASE}/action/start/iris-staging", headers=who))
    assert retried["status"]["generation"] == d["status"]["generation"] + 1
    assert retried["spec"]["predictors"][0]["restarted_at"] > scaled["spec"]["predictors"][0]["restarted_at"]
    assert retried["status"]["phase"] == "Deploying"

    ok(http.get(f"{BASE}/action/stop/iris-staging", headers=who))
    refused(
        http.post(f"{BASE}/iris-staging/restart", headers=who),
        409,
        "Deployment 'iris-staging' is stopped: no replica runs to restart.",
    )
    form = {"filters": where(("resource_type", "eq", "deployment"), ("action", "eq", "restart"))}
    events = ok(http.get("/audit_event/api/", params={"form_data": orjson.dumps(form).decode()}))["data"]
    assert [(e["resource_id"], e["resource_name"], e["actor"]) for e in events] == [
        (str(d["id"]), "iris-staging", "alice")
    ] * 2


def test_one_call_deploy_to_staging(http: TestClient, team: Team) -> None:
    who = team.member.headers
    d = ok(http.post(f"{BASE}/deploy", json={"model": "models:/iris/1"}, headers=who), 201)
    assert (d["name"], d["stage"], d["group"], d["owner"]) == ("iris-1", "staging", "ds", "alice")
    assert d["spec"]["predictors"] == [DEFAULT_PREDICTOR]
    from_run = ok(http.post(f"{BASE}/deploy", json={"model": f"runs:/{team.run}/model"}, headers=who), 201)
    assert from_run["name"] == f"run-{team.run[:8]}"
    assert from_run["models"]["main"]["run_id"] == team.run
    named = ok(
        http.post(
            f"{BASE}/deploy", json={"model": "models:/iris/1", "name": "try-me", "group": "ds"}, headers=who
        ),
        201,
    )
    assert named["name"] == "try-me"
    refused(
        http.post(f"{BASE}/deploy", json={"model": "models:/iris/1"}, headers=who),
        400,
        "name: a deployment named 'iris-1' already exists.",
    )


# ---- promotion -----------------------------------------------------------------------------------
def _read(services: Services, location: str, path: str) -> bytes:
    store, base = services.artifact_service.store_and_path(location)
    with store.reader(f"{base}/{path}") as f:
        return f.read()


def test_promote_snapshots_the_model_files(http: TestClient, services: Services, team: Team) -> None:
    staging = create(http, team.member, "iris-staging")
    prod = ok(
        http.post(
            f"{BASE}/iris-staging/promote",
            json={
                "name": "iris-prod",
                "overrides": {
                    "display_name": "Iris (prod)",
                    "predictors": [{"name": "main", "replicas": 2, "resources": {"cpu": "1"}}],
                },
            },
            headers=team.admin.headers,
        ),
        201,
    )
    assert prod["promoted_from"] == staging["id"]
    assert (prod["stage"], prod["spec"]["display_name"], prod["spec"]["stop"]) == (
        "production",
        "Iris (prod)",
        False,
    )
    predictor = prod["spec"]["predictors"][0]
    assert (predictor["replicas"], predictor["resources"]) == (2, {"cpu": "1", "memory": "512Mi", "gpu": 0})
    snapshot = prod["models"]["main"]
    assert snapshot["snapshot_of"] == staging["models"]["main"]["location"]
    assert snapshot["location"].startswith("mlflow-artifacts:/deployments/iris-prod/main-")
    assert services.artifact_service.files_under(snapshot["location"]) == ["MLmodel", "model.pkl"]
    assert _read(services, snapshot["location"], "model.pkl") == b"v1"

    # staging and production are separate: one staging deployment, several production ones
    prod2 = ok(
        http.post(f"{BASE}/iris-staging/promote", json={"name": "iris-prod-eu"}, headers=team.admin.headers),
        201,
    )
    assert prod2["models"]["main"]["location"] != snapshot["location"]
    assert listed(http, team.viewer, filters=where(("source_deployment_id", "eq", staging["id"]))) == [
        "iris-prod",
        "iris-prod-eu",
    ]

    # the registry's files change, then the version is deleted: production keeps its copy
    put = http.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{team.experiment}/{team.run}/artifacts/model/model.pkl",
        content=b"v2",
        headers=team.member.headers,
    )
    assert put.status_code == 200
    assert _read(services, staging["models"]["main"]["location"], "model.pkl") == b"v2"
    gone = http.request(
        "DELETE",
        f"{API}/model-versions/delete",
        json={"name": "iris", "version": "1"},
        headers=team.admin.headers,
    )
    assert gone.status_code == 200, gone.text
    assert _read(services, snapshot["location"], "model.pkl") == b"v1"
    assert ok(http.get(f"{BASE}/iris-prod", headers=team.viewer.headers))["models"] == prod["models"]
    refused(
        http.post(f"{BASE}/iris-staging/promote", json={"name": "iris-prod-us"}, headers=team.admin.headers),
        404,
        "predictor 'main' model models:/iris/1: registered model 'iris' has no version 1.",
    )


# ---- audit -------------------------------------------------------------------------------------------
def test_changes_are_audited(http: TestClient, team: Team) -> None:
    dep_id = str(create(http, team.member, "iris-staging")["id"])
    ok(http.post(f"{BASE}/iris-staging/scale", json={"replicas": 2}, headers=team.member.headers))
    ok(http.put(f"{BASE}/iris-staging", json={"description": "try"}, headers=team.member.headers))
    deleted = ok(http.delete(f"{BASE}/iris-staging", headers=team.member.headers))
    assert deleted["name"] == "iris-staging" and deleted["spec"]["description"] == "try"
    refused(http.get(f"{BASE}/iris-staging", headers=team.member.headers), 404)
    form = {
        "filters": where(("resource_type", "eq", "deployment")),
        "order_column": "seq",
        "order_direction": "asc",
    }
    events = ok(http.get("/audit_event/api/", params={"form_data": orjson.dumps(form).decode()}))["data"]
    assert [
        (e["resource_id"], e["resource_name"], e["action"], e["actor"], e["outcome"]) for e in events
    ] == [
        (dep_id, "iris-staging", "create", "alice", "success"),
        (dep_id, "iris-staging", "scale", "alice", "success"),
        (dep_id, "iris-staging", "update", "alice", "success"),
        (dep_id, "iris-staging", "delete", "alice", "success"),
    ]
    update = events[2]["changes"]
    assert update["before"]["description"] == "" and update["after"]["description"] == "try"
    assert events[2]["diff"] == [{"field": "description", "change": "changed", "before": "", "after": "try"}]
    assert {"field": "predictors[main].replicas", "change": "changed", "before": 1, "after": 2} in events[1][
        "diff"
    ]
