"""Inputs that used to crash the server (issue 12, item 6): each answers 400 naming the field, and stores
nothing. Both APIs: MLflow's REST API and the resource API under ``/<resource>/api/``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from modelyard.services import Services
from modelyard.storage.orm import ExperimentRow, MetricChunkRow, RunRow, TagRow

API = "/api/2.0/mlflow"
BEYOND = 2**63  # one past the largest int64
BELOW = -(2**63) - 1


def _run(http: TestClient) -> str:
    r = http.post(f"{API}/runs/create", json={"experiment_id": "0"})
    assert r.status_code == 200, r.text
    return str(r.json()["run"]["info"]["run_id"])


def _refused(response: Any, *words: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    for word in words:
        assert word in body["message"], (word, body["message"])
    return str(body["message"])


def _count(services: Services, row: Any) -> int:
    with services.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(row)) or 0)


@pytest.mark.parametrize("value", [BEYOND, BELOW, 2**64, -(2**64)])
def test_integers_beyond_int64_are_refused_naming_the_field(
    http: TestClient, services: Services, value: int
) -> None:
    run_id = _run(http)
    point = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    cases = [
        ("runs/create", {"experiment_id": "0", "start_time": value}, "'start_time'"),
        ("runs/update", {"run_id": run_id, "end_time": value}, "'end_time'"),
        ("runs/log-metric", {"run_id": run_id, **point, "step": value}, "'metric.step'"),
        ("runs/log-metric", {"run_id": run_id, **point, "timestamp": value}, "'metric.timestamp'"),
        ("runs/log-batch", {"run_id": run_id, "metrics": [{**point, "step": value}]}, "'metrics[0].step'"),
        (
            "runs/log-batch",
            {"run_id": run_id, "metrics": [point, {**point, "timestamp": value}]},
            "'metrics[1].timestamp'",
        ),
        (
            "runs/outputs",
            {"run_id": run_id, "models": [{"model_id": "m-1", "step": value}]},
            "models[0].step",
        ),
    ]
    runs_before = _count(services, RunRow)
    for route, body, field in cases:
        _refused(http.post(f"{API}/{route}", json=body), field, "64-bit integer")
    r = http.get(
        f"{API}/metrics/get-history-bulk-interval",
        params={"run_ids": run_id, "metric_key": "m", "start_step": value, "end_step": value},
    )
    _refused(r, "'start_step'", "64-bit integer")
    assert _count(services, RunRow) == runs_before
    assert _count(services, MetricChunkRow) == 0
    # the edges themselves are fine
    edge = {"run_id": run_id, "metrics": [{**point, "step": 2**63 - 1, "timestamp": -(2**63)}]}
    assert http.post(f"{API}/runs/log-batch", json=edge).status_code == 200


def test_a_metric_value_beyond_a_float_is_refused(http: TestClient) -> None:
    run_id = _run(http)
    point = {"key": "loss", "value": 10**400, "timestamp": 1, "step": 0}
    _refused(http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": [point]}), "'loss'")
    _refused(http.post(f"{API}/runs/log-metric", json={"run_id": run_id, **point}), "'loss'", "64-bit float")
    # big integers that a float holds are values like any other
    ok = {"run_id": run_id, "metrics": [{**point, "value": 10**20}]}
    assert http.post(f"{API}/runs/log-batch", json=ok).status_code == 200


def test_a_lone_surrogate_is_refused_with_a_message_that_can_be_written(
    http: TestClient, services: Services
) -> None:
    run_id = _run(http)
    for raw in (
        b'{"run_id": "%s", "key": "\\ud800", "value": "x"}',
        b'{"run_id": "%s", "key": "k", "value": "a\\udfffb"}',
        # a body orjson cannot read (NaN) goes to the standard library, which reads surrogates: still refused
        b'{"run_id": "%s", "metrics": [{"key": "m", "value": NaN, "timestamp": 1}], "tags": [{"key": "\\udc00"}]}',
    ):
        route = "runs/log-batch" if b"metrics" in raw else "runs/set-tag"
        r = http.post(
            f"{API}/{route}", content=raw % run_id.encode(), headers={"content-type": "application/json"}
        )
        _refused(r, "surrogate")
    with services.db.read() as s:
        assert list(s.scalars(select(TagRow.key).where(TagRow.run_uuid == run_id))) == ["mlflow.runName"]


@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_json_nested_2000_levels_is_refused(http: TestClient, opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    deep = opener * 2000 + b"1" + closer * 2000
    for path in (f"{API}/runs/log-batch", f"{API}/experiments/create", "/deployment/api/", "/project/api/"):
        r = http.post(path, content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert "nests" in r.json()["message"]


def test_json_nested_past_the_limit_is_refused_where_sub_documents_are_read(http: TestClient) -> None:
    nested: Any = "x"
    for _ in range(70):
        nested = {"a": nested}
    r = http.post("/deployment/api/", json={"name": "deep", "predictors": [{"metadata": nested}]})
    assert r.status_code == 400, r.text
    assert "deeper than 64 levels" in r.json()["message"]


def test_an_artifact_name_longer_than_the_file_system_takes_is_refused(http: TestClient) -> None:
    run_id = _run(http)
    base = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts"
    r = http.put(f"{base}/{'a' * 256}.txt", content=b"x")
    _refused(r, "longer than 255 bytes")
    r = http.get(f"{base}/{'é' * 200}")  # 400 bytes in UTF-8, 200 characters
    _refused(r, "longer than 255 bytes")
    assert http.put(f"{base}/{'a' * 255}", content=b"x").status_code == 200


def test_a_deployment_body_with_wrong_types_is_a_400_naming_the_field(http: TestClient) -> None:
    r = http.post("/deployment/api/", json={"name": {}, "predictors": None})
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("name: a JSON object is not a valid deployment name")
    r = http.post("/deployment/api/", json={"name": ["x"], "predictors": []})
    assert r.status_code == 400 and r.json()["message"].startswith("name: a JSON list"), r.text


def test_nul_characters_are_refused_in_bodies_queries_and_paths(http: TestClient, services: Services) -> None:
    run_id = _run(http)
    experiments = _count(services, ExperimentRow)
    _refused(http.post(f"{API}/experiments/create", json={"name": "a\x00b"}), "'name'", "NUL")
    _refused(http.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "k", "value": "a\x00"}), "NUL")
    body = {"run_id": run_id, "params": [{"key": "p", "value": "ok"}, {"key": "q", "value": "\x00"}]}
    _refused(http.post(f"{API}/runs/log-batch", json=body), "'params[1].value'", "NUL")
    _refused(http.post(f"{API}/registered-models/create", json={"name": "m\x00"}), "'name'", "NUL")
    r = http.post("/project/api/", json={"name": "p", "description": "a\x00"})
    assert r.status_code == 400 and "'description'" in r.json()["message"], r.text
    _refused(
        http.get(f"{API}/experiments/get-by-name", params={"experiment_name": "a\x00"}),
        "'experiment_name'",
        "NUL",
    )
    _refused(http.get(f"{API}/logged-models/m-1%00"), "path", "NUL")
    r = http.get("/run/api/a%00b")
    assert r.status_code == 400 and "NUL" in r.json()["message"], r.text
    assert _count(services, ExperimentRow) == experiments
    with services.db.read() as s:
        assert list(s.scalars(select(TagRow.key).where(TagRow.run_uuid == run_id))) == ["mlflow.runName"]


def test_run_names_have_one_limit_everywhere(http: TestClient, services: Services) -> None:
    run_id = _run(http)
    long_name = "n" * 501
    _refused(
        http.post(f"{API}/runs/create", json={"experiment_id": "0", "run_name": long_name}), "run_name", "500"
    )
    _refused(
        http.post(f"{API}/runs/update", json={"run_id": run_id, "run_name": long_name}), "run_name", "500"
    )
    tag = {"key": "mlflow.runName", "value": long_name}
    _refused(http.post(f"{API}/runs/set-tag", json={"run_id": run_id, **tag}), "mlflow.runName", "500")
    _refused(http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "tags": [tag]}), "500")
    _refused(http.post(f"{API}/runs/create", json={"experiment_id": "0", "tags": [tag]}), "500")
    r = http.put(f"/run/api/{run_id}", json={"name": long_name})
    assert r.status_code == 400 and "at most 500" in r.json()["message"], r.text
    # other tags keep the tag limit, and 500 characters is a valid name
    assert http.post(
        f"{API}/runs/set-tag", json={"run_id": run_id, "key": "t", "value": "v" * 8000}
    ).is_success
    assert http.post(f"{API}/runs/update", json={"run_id": run_id, "run_name": "n" * 500}).is_success
    with services.db.read() as s:
        assert s.scalar(select(RunRow.name).where(RunRow.run_uuid == run_id)) == "n" * 500


def test_numbers_in_other_scripts_are_not_read_as_ids(http: TestClient) -> None:
    # '²'.isdigit() is True in Python, int('²') fails: such values are refused like any non-number
    _refused(http.get(f"{API}/experiments/search", params={"view_type": "²"}), "view_type")
    r = http.post(f"{API}/experiments/create", json={"name": "e2", "project": "²"})
    assert r.status_code == 404 and "No project '²'" in r.json()["message"], r.text


def test_typed_fields_of_run_documents_are_checked(http: TestClient) -> None:
    run_id = _run(http)
    r = http.post(f"{API}/runs/create", json={"experiment_id": "0", "code_version": {"repo": {"a": 1}}})
    _refused(r, "'code_version.repo'", "expected a string")
    r = http.post(f"{API}/runs/create", json={"experiment_id": "0", "environment": {"packages": {"x": [1]}}})
    _refused(r, "'environment.packages.x'")
    dataset = {"name": "d", "digest": "1", "source_type": "local", "source": "/d", "schema": {"a": 1}}
    r = http.post(f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": [{"dataset": dataset}]})
    _refused(r, "'datasets[0].dataset.schema'", "expected a string")
    dataset = {**dataset, "schema": "{}", "digest": "d" * 65}
    r = http.post(f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": [{"dataset": dataset}]})
    _refused(r, "'datasets[0].dataset.digest'", "limit is 64")
    metric = {"key": "m", "value": 1.0, "timestamp": 1, "dataset_name": "x" * 501}
    _refused(http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": [metric]}), "dataset_name")
