"""The resource API's _info, create/show/update/delete, actions and multi-actions, checked in the database."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Dataset, DatasetInput
from modelyard.services import Services


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == 0 and body["message"] == "success", body
    return body["result"]


def refused(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["result"] == {} and body["error_code"], body
    for word in words:
        assert word in body["message"], (word, body["message"])
    return str(body["message"])


def test_info_describes_columns_filters_forms_actions(http: TestClient) -> None:
    info = ok(http.get("/experiment/api/_info"))
    assert info["name"] == "experiment" and info["primary_key"] == "experiment_id"
    assert info["route_base"] == "/experiment/api/"
    assert info["page_size"] == 100 and info["max_page_size"] == 1000
    assert info["order_column"] == "creation_time" and info["order_direction"] == "desc"
    assert info["list_columns"] == [
        "experiment_id", "name", "artifact_location", "lifecycle_stage", "creation_time", "last_update_time",
        "project_id",
    ]  # fmt: skip
    columns = {c["name"]: c for c in info["columns"]}
    assert columns["lifecycle_stage"]["values"] == ["active", "deleted"]
    assert columns["project_id"]["relation"] == {"kind": "one_to_many", "resource": "project"}
    assert info["label_columns"]["creation_time"] == "Created"
    ops = {col: [f["operator"] for f in filters] for col, filters in info["filters"].items()}
    assert ops["name"] == ["sw", "nsw", "ew", "new", "ct", "nct", "eq", "neq", "inf"]
    assert ops["creation_time"] == ["eq", "neq", "gt", "lt"]
    assert ops["project_id"] == ["rel_o_m", "nrel_o_m", "eq", "neq", "inf"]
    assert {"name": "Starts with", "operator": "sw"} in info["filters"]["name"]
    add = {f["name"]: f for f in info["add_columns"]}
    assert list(add) == ["name", "artifact_location", "project_id"]
    assert add["name"]["required"] is True and add["name"]["ui-type"] == "input"
    assert {"type": "length", "min": 1, "max": 500} in add["name"]["validators"]
    assert add["project_id"]["ui-type"] == "select"
    assert add["project_id"]["values"] == [{"id": 1, "value": "default"}]
    assert [f["name"] for f in info["edit_columns"]] == ["name"]
    assert info["actions"]["delete"] == {
        "name": "delete",
        "text": "Delete",
        "confirmation": "Delete the experiment and its runs? They can be restored.",
        "single": True,
        "multiple": True,
    }
    assert set(info["actions"]) == {"delete", "restore"}
    assert info["permissions"] == [
        "can_list", "can_show", "can_add", "can_edit", "can_delete",
        "can_action_delete", "can_action_restore",
    ]  # fmt: skip


def test_info_of_read_only_and_relation_columns(http: TestClient) -> None:
    dataset = ok(http.get("/dataset/api/_info"))
    assert dataset["permissions"] == ["can_list", "can_show"]
    assert dataset["add_columns"] == [] and dataset["edit_columns"] == [] and dataset["actions"] == {}
    assert "runs" in dataset["show_columns"] and "runs" not in dataset["list_columns"]
    assert dataset["filters"]["runs"] == [{"name": "Relation as many", "operator": "rel_m_m"}]
    assert "schema" not in dataset["filters"]
    run = ok(http.get("/run/api/_info"))
    status = next(f for f in run["edit_columns"] if f["name"] == "status")
    assert status["ui-type"] == "select" and [v["id"] for v in status["values"]] == [
        "RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED",
    ]  # fmt: skip
    assert next(c for c in run["columns"] if c["name"] == "end_time")["nullable"] is True


def test_project_create_show_update_delete(http: TestClient, services: Services, admin: Principal) -> None:
    created = ok(http.post("/project/api/", json={"name": "nlp", "description": "text models"}), 201)
    pid = created["id"]
    assert created["name"] == "nlp" and created["description"] == "text models"
    assert created["created_at"] == created["updated_at"] > 0
    assert services.experiments.get_project(admin, pid).name == "nlp"
    assert ok(http.get(f"/project/api/{pid}")) == created

    updated = ok(http.put(f"/project/api/{pid}", json={"name": "language"}))
    assert updated["name"] == "language" and updated["description"] == "text models"
    assert updated["updated_at"] >= created["updated_at"]
    assert services.experiments.get_project(admin, pid).name == "language"

    deleted = ok(http.delete(f"/project/api/{pid}"))
    assert deleted["id"] == pid and deleted["name"] == "language"
    with pytest.raises(NotFound):
        services.experiments.get_project(admin, pid)
    refused(http.get(f"/project/api/{pid}"), 404, f"id={pid}")


def test_project_rules_come_from_the_service(http: TestClient, services: Services, admin: Principal) -> None:
    pid = ok(http.post("/project/api/", json={"name": "busy"}), 201)["id"]
    assert ok(http.get(f"/project/api/{pid}"))["description"] == ""  # the declared default
    services.experiments.create_experiment(admin, name="in-busy", project=pid)
    refused(http.delete(f"/project/api/{pid}"), 409, "'busy'", "1 experiment")
    assert services.experiments.get_project(admin, pid).name == "busy"
    refused(http.post("/project/api/", json={"name": "busy"}), 400, "already exists")
    refused(http.put("/project/api/1", json={"name": "renamed"}), 400, "default project", "cannot be renamed")
    refused(http.delete("/project/api/1"), 409, "default project")
    assert ok(http.put("/project/api/1", json={"description": "everything else"}))["name"] == "default"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["Missing required field 'name'", "a new project"]),
        ({"description": "x"}, ["Missing required field 'name'"]),
        ({"name": None}, ["Missing required field 'name'"]),
        ({"name": "x", "owner": "me"}, ["Unknown field 'owner'", "name, description"]),
        ({"name": 12}, ["'name'", "string", "12 (integer)"]),
        ({"name": "   "}, ["'name'", "blank"]),
        ({"name": "x" * 251}, ["'name'", "251 characters", "at most 250"]),
        ({"name": "a\x00b"}, ["'name'", "NUL"]),
    ],
)
def test_bad_create_bodies_are_400(http: TestClient, body: dict[str, Any], words: list[str]) -> None:
    refused(http.post("/project/api/", json=body), 400, *words)


def test_bad_update_bodies_are_400(http: TestClient) -> None:
    refused(http.post("/project/api/", content=b""), 400, "body is empty")
    refused(http.put("/project/api/1", content=b" "), 400, "body is empty")
    refused(http.put("/project/api/1", json={"nme": "x"}), 400, "Unknown field 'nme'")
    refused(http.put("/project/api/1", content=b"[1]"), 400, "JSON object")
    refused(http.put("/project/api/1", content=b"{oops"), 400, "Malformed JSON")
    refused(http.put("/project/api/1", json={"name": None}), 400, "'name' cannot be null")
    refused(
        http.put("/project/api/1", json={"description": None}), 400, "Nothing to change", "name, description"
    )


def test_experiment_create_rename_soft_delete(http: TestClient, services: Services, admin: Principal) -> None:
    pid = services.experiments.create_project(admin, name="cv").id
    created = ok(http.post("/experiment/api/", json={"name": "resnet", "project_id": pid}), 201)
    eid = created["experiment_id"]
    assert created["project_id"] == pid and created["lifecycle_stage"] == "active"
    assert created["artifact_location"] == f"mlflow-artifacts:/{eid}"
    defaulted = ok(http.post("/experiment/api/", json={"name": "plain", "project_id": None}), 201)
    assert defaulted["project_id"] == 1
    run_id = services.tracking.create_run(admin, experiment_id=eid).run_id

    assert ok(http.put(f"/experiment/api/{eid}", json={"name": "resnet-50"}))["name"] == "resnet-50"
    assert services.experiments.get_experiment(admin, eid).name == "resnet-50"

    deleted = ok(http.delete(f"/experiment/api/{eid}"))
    assert deleted["experiment_id"] == eid and deleted["lifecycle_stage"] == "deleted"
    assert services.experiments.get_experiment(admin, eid).lifecycle_stage == "deleted"
    assert services.tracking.get_run(admin, run_id).lifecycle_stage == "deleted"
    # the service's rule: a deleted experiment cannot be renamed
    refused(http.put(f"/experiment/api/{eid}", json={"name": "again"}), 400, "restore it first")
    refused(http.post("/experiment/api/", json={"name": "x", "project_id": 999}), 404, "999")
    refused(
        http.post("/experiment/api/", json={"name": "x", "project_id": 2**31}), 400, "'project_id'", "32 bits"
    )


def test_experiment_actions_single_and_multiple(
    http: TestClient, services: Services, admin: Principal
) -> None:
    ids = [int(services.experiments.create_experiment(admin, name=f"e{i}")) for i in range(3)]
    result = ok(http.get(f"/experiment/api/action/delete/{ids[0]}"))
    assert result["experiment_id"] == ids[0] and result["lifecycle_stage"] == "deleted"
    assert services.experiments.get_experiment(admin, ids[0]).lifecycle_stage == "deleted"
    assert ok(http.get(f"/experiment/api/action/restore/{ids[0]}"))["lifecycle_stage"] == "active"
    assert services.experiments.get_experiment(admin, ids[0]).lifecycle_stage == "active"

    done = ok(http.post("/experiment/api/multi_action/delete", json={"ids": [ids[1], str(ids[2]), ids[1]]}))
    assert done == {"action": "delete", "ids": [ids[1], ids[2]], "count": 2}
    assert [services.experiments.get_experiment(admin, i).lifecycle_stage for i in ids] == [
        "active",
        "deleted",
        "deleted",
    ]

    # all or nothing: one unknown id and no experiment is touched
    refused(http.post("/experiment/api/multi_action/restore", json={"ids": [ids[1], 4242]}), 404, "4242")
    assert services.experiments.get_experiment(admin, ids[1]).lifecycle_stage == "deleted"
    ok(http.post("/experiment/api/multi_action/restore", json={"ids": ids[1:]}))
    assert {services.experiments.get_experiment(admin, i).lifecycle_stage for i in ids} == {"active"}

    # the default experiment's rule is the service's
    refused(http.get("/experiment/api/action/delete/0"), 400, "cannot be deleted")


def test_bad_actions(http: TestClient) -> None:
    refused(http.get("/experiment/api/action/archive/0"), 404, "no action 'archive'", "delete, restore")
    refused(http.post("/experiment/api/multi_action/archive", json={"ids": [0]}), 404, "no action 'archive'")
    refused(http.get("/dataset/api/action/delete/x"), 404, "it has no actions")
    refused(http.get("/experiment/api/action/delete/999"), 404, "experiment_id=999")
    refused(
        http.post("/experiment/api/multi_action/delete", json={"ids": []}), 400, "'ids'", "non-empty list"
    )
    refused(http.post("/experiment/api/multi_action/delete", json={"ids": "0"}), 400, "'ids'")
    refused(http.post("/experiment/api/multi_action/delete", json={"ids": ["x"]}), 400, "'x'", "integers")
    refused(http.post("/experiment/api/multi_action/delete", json={"id": [0]}), 400, "Unknown key 'id'")
    refused(
        http.post("/experiment/api/multi_action/delete", json={"ids": list(range(1001))}), 400, "at most 1000"
    )


def test_run_update_soft_delete_and_actions(http: TestClient, services: Services, admin: Principal) -> None:
    run_id = services.tracking.create_run(admin, experiment_id="0", run_name="first").run_id
    other = services.tracking.create_run(admin, experiment_id="0", run_name="second").run_id
    updated = ok(http.put(f"/run/api/{run_id}", json={"name": "renamed", "status": "FINISHED"}))
    assert (
        updated["name"] == "renamed" and updated["status"] == "FINISHED" and updated["end_time"] is not None
    )
    run = services.tracking.get_run(admin, run_id)
    assert (run.run_name, run.status, run.tags["mlflow.runName"]) == ("renamed", "FINISHED", "renamed")
    refused(
        http.put(f"/run/api/{run_id}", json={"status": "DONE"}), 400, "'status'", "FINISHED, FAILED, KILLED"
    )
    refused(
        http.put(f"/run/api/{run_id}", json={"user_id": "x"}), 400, "Unknown field 'user_id'", "name, status"
    )
    refused(http.post("/run/api/", json={"name": "x"}), 405)

    assert ok(http.delete(f"/run/api/{run_id}"))["lifecycle_stage"] == "deleted"
    assert services.tracking.get_run(admin, run_id).lifecycle_stage == "deleted"
    assert ok(http.get(f"/run/api/action/restore/{run_id}"))["lifecycle_stage"] == "active"
    ok(http.post("/run/api/multi_action/delete", json={"ids": [run_id, other]}))
    assert {services.tracking.get_run(admin, r).lifecycle_stage for r in (run_id, other)} == {"deleted"}


def test_run_and_dataset_show_their_links(http: TestClient, services: Services, admin: Principal) -> None:
    used = services.tracking.create_run(admin, experiment_id="0", run_name="trainer", start_time=10).run_id
    also = services.tracking.create_run(admin, experiment_id="0", run_name="tuner", start_time=20).run_id
    data = DatasetInput(
        Dataset(name="iris", digest="d1", source_type="http", source="https://x/iris.csv", schema="{}")
    )
    services.tracking.log_inputs(admin, used, datasets=[data])
    services.tracking.log_inputs(admin, also, datasets=[data])

    run = ok(http.get(f"/run/api/{used}"))
    assert run["code_version"] is None and run["datasets_count"] == 1
    (dataset,) = run["datasets"]
    assert dataset["name"] == "iris" and "schema" not in dataset  # linked items show their list columns

    shown = ok(http.get(f"/dataset/api/{dataset['dataset_uuid']}"))
    assert shown["schema"] == "{}" and shown["source"] == "https://x/iris.csv" and shown["experiment_id"] == 0
    assert [r["run_uuid"] for r in shown["runs"]] == [also, used]  # the run resource's order: newest first
    assert shown["runs_count"] == 2 and shown["runs"][0]["name"] == "tuner"
    for method in ("post", "put", "delete"):
        refused(http.request(method.upper(), f"/dataset/api/{dataset['dataset_uuid']}"), 405)


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/project/api/4242", 404, ["project", "id=4242"]),
        ("/experiment/api/4242", 404, ["experiment_id=4242"]),
        ("/run/api/0123456789abcdef0123456789abcdef", 404, ["run_uuid=0123456789abcdef0123456789abcdef"]),
        ("/dataset/api/nope", 404, ["dataset_uuid=nope"]),
        ("/project/api/abc", 400, ["'abc'", "integers"]),
        ("/experiment/api/99999999999999999999999", 400, ["integers"]),
        ("/project/api/3000000000", 400, ["32-bit integers"]),  # wider than the column: refused, not a 500
    ],
)
def test_unknown_or_malformed_ids(http: TestClient, path: str, status: int, words: list[str]) -> None:
    refused(http.get(path), status, *words)
    if path.startswith(("/project", "/experiment")):
        refused(http.put(path, json={"name": "x"}), status, *words)
        refused(http.delete(path), status, *words)
