"""What schemathesis found over the OpenAPI document (issue 12, item 8), each as the exact request that
answered 500, now a 400 naming the field (or a success): fields of the wrong JSON type reaching a query,
values too wide for a PostgreSQL column (a filter on a computed count, a quota, an audit record of a
256-character model name), and NaN, which Python's JSON reader accepts as a literal."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modelyard.services import Services
from modelyard.storage.orm import AuditEventRow, ExperimentRow, RegisteredModelRow

API = "/api/2.0/mlflow"


def _refused(response: Any, *words: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    for word in words:
        assert word in body["message"], (word, body["message"])
    return str(body["message"])


@pytest.mark.parametrize("project", [{}, [], True, 2**64])
def test_an_experiments_project_is_an_id_or_a_name(
    http: TestClient, services: Services, project: object
) -> None:
    r = http.post(f"{API}/experiments/create", json={"name": "e", "project": project})
    _refused(r, "'project'")
    with services.db.read() as s:
        assert s.scalar(select(ExperimentRow).where(ExperimentRow.name == "e")) is None


def test_a_registered_models_group_is_a_name(http: TestClient, services: Services) -> None:
    _refused(http.post(f"{API}/registered-models/create", json={"name": "m", "group": {}}), "'group'")
    with services.db.read() as s:
        assert s.scalar(select(RegisteredModelRow).where(RegisteredModelRow.name == "m")) is None


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("runs/search", {"order_by": [[None, None]]}, "'order_by'"),
        ("runs/search", {"experiment_ids": [{}]}, "'experiment_ids'"),
        ("runs/search", {"experiment_ids": [True]}, "'experiment_ids'"),
        ("experiments/search", {"order_by": [1]}, "'order_by'"),
        ("logged-models/search", {"experiment_ids": [[0]]}, "'experiment_ids'"),
    ],
)
def test_search_lists_hold_strings(http: TestClient, route: str, body: dict[str, Any], field: str) -> None:
    _refused(http.post(f"{API}/{route}", json=body), field)


def test_search_experiment_ids_may_be_numbers(http: TestClient) -> None:
    r = http.post(f"{API}/runs/search", json={"experiment_ids": [0]})
    assert r.status_code == 200, r.text


def test_a_256_character_model_name_is_created_renamed_and_audited(
    http: TestClient, services: Services
) -> None:
    name, other = "m" * 256, "n" * 256
    r = http.post(f"{API}/registered-models/create", json={"name": name})
    assert r.status_code == 200 and r.json()["registered_model"]["name"] == name, r.text
    r = http.patch(f"{API}/registered-models/update", json={"name": name, "description": "d"})
    assert r.status_code == 200 and r.json()["registered_model"]["description"] == "d", r.text
    r = http.post(f"{API}/registered-models/rename", json={"name": name, "new_name": other})
    assert r.status_code == 200 and r.json()["registered_model"]["name"] == other, r.text
    with services.db.read() as s:
        events = s.execute(
            select(AuditEventRow.action, AuditEventRow.resource_name, AuditEventRow.changes)
            .where(AuditEventRow.resource_type == "registered_model")
            .order_by(AuditEventRow.seq)
        ).all()
    assert [e.action for e in events] == ["create", "update", "rename"]
    # the name column holds 250 characters; the whole name is in the details (a rename: the old one)
    assert [e.resource_name for e in events] == ["m" * 250] * 3
    assert [e.changes["details"]["resource"] for e in events] == [name] * 3, events
    r = http.get("/audit_event/api/verify")
    assert r.status_code == 200 and r.json()["result"]["ok"] is True, r.text


@pytest.mark.parametrize(
    ("resource", "column", "op", "value"),
    [
        ("group", "member_count", "inf", [1, 2**63 - 1]),
        ("group", "member_count", "gt", 2**31),
        ("registered_model", "version_count", "eq", -(2**40)),
    ],
)
def test_a_filter_on_a_count_is_a_32_bit_integer(
    http: TestClient, resource: str, column: str, op: str, value: object
) -> None:
    form = orjson.dumps({"filters": [{"col": column, "opr": op, "value": value}]}).decode()
    r = http.get(f"/{resource}/api/", params={"form_data": form})
    assert r.status_code == 400, r.text
    assert "32 bits" in r.json()["message"] and column in r.json()["message"], r.text
    fits = orjson.dumps({"filters": [{"col": column, "opr": "lt", "value": 2**31 - 1}]}).decode()
    r = http.get(f"/{resource}/api/", params={"form_data": fits})
    assert r.status_code == 200 and r.json()["result"]["count"] == (1 if resource == "group" else 0), r.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"gpu": 1099511627776}', "quota.gpu: expected a whole number from 0 to 2147483647 or null"),
        (b'{"deployments": 2147483648}', "quota.deployments: expected a whole number from 0 to 2147483647"),
        (b'{"cpu": NaN}', "quota.cpu: nan is out of range (0 to 1000 cores)."),
        (b'{"memory": NaN}', "quota.memory: nan is out of range (0 to 64Ti)."),
    ],
)
def test_quotas_fit_their_columns(http: TestClient, body: bytes, message: str) -> None:
    r = http.put("/quota/api/default", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert message in r.json()["message"], r.text
    assert http.get("/quota/api/default").json()["result"]["quota"]["gpu"] is None


@pytest.mark.parametrize("project", [-34211746675297, 2**31, "9999999999"])
def test_a_project_id_beyond_32_bits_is_missing(http: TestClient, project: object) -> None:
    r = http.post(f"{API}/experiments/create", json={"name": "e", "project": project})
    assert r.status_code == 404, r.text
    assert r.json()["message"] == f"No project '{project}' exists (or you have no access to it).", r.text


def test_a_group_id_beyond_32_bits_is_missing(http: TestClient) -> None:
    r = http.post(f"{API}/registered-models/create", json={"name": "m", "group": "9999999999"})
    assert r.status_code == 404, r.text
    assert r.json()["message"] == "No group '9999999999' exists (or you are not a member of it).", r.text


@pytest.mark.parametrize(
    "path", ["/dataset/api/%0A", "/run/api/%0A", f"{API}/runs/get%0A", "/experiment/api/1%09", "/health%7F"]
)
def test_control_characters_in_a_path_are_refused(http: TestClient, path: str) -> None:
    """'/dataset/api/%0A' answered the list of datasets: Starlette's route regex ends in '$', which also
    matches before a final newline."""
    r = http.get(path)
    assert r.status_code == 400, r.text
    body = r.json()
    assert (
        body["message"]
        == "Invalid request path: control characters (%01-%1F, %7F) are not allowed in a path."
    )
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and ("status" in body) != path.startswith(API), (
        body
    )
