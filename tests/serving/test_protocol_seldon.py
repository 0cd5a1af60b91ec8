"""Seldon v1 protocol: predictions in each message form, meta, feedback, metadata, health, errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelyard.serving.runtime import ModelRuntime
from tests.models.trained import Iris
from tests.serving import test_runtime_kit as kit
from tests.serving.test_runtime_kit import IRIS_COLUMNS, serving

iris_dir = kit.iris_dir
scorer_dir = kit.scorer_dir  # fixtures shared by the serving tests

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


@pytest.fixture(scope="module")
def iris_client(iris_dir: Path) -> Iterator[TestClient]:
    with serving(iris_dir, name="iris", version="3") as (client, _):
        yield client


@pytest.fixture(scope="module")
def scorer(scorer_dir: Path) -> Iterator[tuple[TestClient, ModelRuntime]]:
    with serving(scorer_dir, name="scorer") as pair:
        yield pair


def frame(rows: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=IRIS_COLUMNS)


def meta(puid: str, **extra: Any) -> dict[str, Any]:
    return {
        "puid": puid,
        "tags": extra.get("tags", {}),
        "routing": {},
        "requestPath": extra.get("path", {"iris": "sklearn"}),
        "metrics": extra.get("metrics", []),
    }


def test_ndarray_in_ndarray_out_with_puid_echoed(iris_client: TestClient, sk_model: Any) -> None:
    response = iris_client.post(
        "/api/v1.0/predictions", json={"data": {"ndarray": ROWS}, "meta": {"puid": "p-1", "tags": {"a": 1}}}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    labels = sk_model.predict(frame(ROWS)).tolist()
    assert response.json() == {"data": {"names": [], "ndarray": labels}, "meta": meta("p-1", tags={"a": 1})}


def test_tensor_in_tensor_out_on_every_alias(iris_client: TestClient) -> None:
    body = {"data": {"tensor": {"shape": [1, 4], "values": ROWS[0]}}, "meta": {"puid": "x"}}
    for path in ("/api/v1.0/predictions", "/api/v0.1/predictions", "/predict"):
        response = iris_client.post(path, json=body)
        assert response.status_code == 200, path
        assert response.json() == {
            "data": {"names": [], "tensor": {"shape": [1], "values": [0]}},
            "meta": meta("x"),
        }


def test_names_pick_the_columns_by_name(iris_client: TestClient) -> None:
    reordered = [IRIS_COLUMNS[3], IRIS_COLUMNS[2], IRIS_COLUMNS[1], IRIS_COLUMNS[0]]
    rows = [list(reversed(ROWS[1]))]
    response = iris_client.post("/api/v1.0/predictions", json={"data": {"names": reordered, "ndarray": rows}})
    assert response.json()["data"]["ndarray"] == [2]


def test_a_new_puid_when_the_request_has_none(iris_client: TestClient) -> None:
    first = iris_client.post("/api/v1.0/predictions", json={"data": {"ndarray": ROWS}}).json()
    second = iris_client.post("/api/v1.0/predictions", json={"data": {"ndarray": ROWS}}).json()
    assert len(first["meta"]["puid"]) == 26 and first["meta"]["puid"] != second["meta"]["puid"]


def test_predict_proba_names_columns_by_class(iris_dir: Path, sk_model: Any) -> None:
    with serving(iris_dir, name="iris", seldon_method="predict_proba") as (client, _):
        body = client.post(
            "/api/v1.0/predictions", json={"data": {"ndarray": ROWS[:1]}, "meta": {"puid": "p"}}
        ).json()
    assert body["data"]["names"] == ["0", "1", "2"]
    assert body["data"]["ndarray"] == sk_model.predict_proba(frame(ROWS[:1])).tolist()


def test_custom_model_class_names_tags_and_metrics_in_meta(scorer: tuple[TestClient, ModelRuntime]) -> None:
    client, _ = scorer
    response = client.post(
        "/api/v1.0/predictions",
        json={
            "data": {"names": ["x", "y"], "ndarray": [[1, 2], [3, 4]]},
            "meta": {
                "puid": "c1",
                "tags": {"caller": "app"},
                "metrics": [{"key": "k", "type": "GAUGE", "value": 1}],
            },
        },
    )
    body = response.json()
    calls = body["meta"]["metrics"][2]["value"]
    assert body == {
        "data": {"names": ["sum", "double"], "ndarray": [[3.0, 6.0], [7.0, 14.0]]},
        "meta": meta(
            "c1",
            tags={"caller": "app", "model": "scorer", "features": ["x", "y"]},
            path={"scorer": "modelyard_custom"},
            metrics=[
                {"key": "k", "type": "GAUGE", "value": 1},
                {"key": "scorer_calls", "type": "COUNTER", "value": 1},
                {"key": "scorer_total_calls", "type": "GAUGE", "value": calls},
            ],
        ),
    }
    metrics = client.get("/metrics").text
    assert "# TYPE scorer_calls counter" in metrics and f"scorer_total_calls {calls}" in metrics


def test_str_bin_and_json_data(scorer: tuple[TestClient, ModelRuntime]) -> None:
    client, _ = scorer
    answer = client.post("/api/v1.0/predictions", json={"strData": "hello", "meta": {"puid": "s"}}).json()
    assert answer["strData"] == "HELLO" and answer["meta"]["puid"] == "s"
    raw = base64.b64encode(b"abc").decode()
    answer = client.post("/api/v1.0/predictions", json={"binData": raw}).json()
    assert base64.b64decode(answer["binData"]) == b"cba"
    answer = client.post("/api/v1.0/predictions", json={"jsonData": {"b": 1, "a": 2}}).json()
    assert answer["jsonData"] == {"keys": ["a", "b"]}


def test_form_encoded_json_field(iris_client: TestClient) -> None:
    import json

    response = iris_client.post(
        "/api/v1.0/predictions", data={"json": json.dumps({"data": {"ndarray": ROWS[:1]}})}
    )
    assert response.status_code == 200 and response.json()["data"]["ndarray"] == [0]


def test_feedback_counts_rewards_and_reaches_the_model(scorer: tuple[TestClient, ModelRuntime]) -> None:
    client, runtime = scorer
    body = {
        "request": {"data": {"ndarray": [[1, 2]]}, "meta": {"puid": "f1"}},
        "response": {"data": {"ndarray": [[3, 6]]}},
        "reward": 0.5,
        "truth": {"data": {"ndarray": [[3, 6]]}},
    }
    response = client.post("/api/v1.0/feedback", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "meta": {"puid": "f1", "tags": {}, "routing": {}, "requestPath": {}, "metrics": []}
    }
    assert runtime.model.obj.feedback[-1] == 0.5  # type: ignore[attr-defined]
    metrics = client.get("/metrics").text
    assert "modelyard_serving_feedback_total 1" in metrics
    assert "modelyard_serving_feedback_reward_total 0.5" in metrics
    bad = client.post("/api/v1.0/feedback", json={"reward": "lots"})
    assert bad.status_code == 400 and "'reward' must be a number" in bad.json()["status"]["info"]


def test_metadata_from_the_signature(iris_client: TestClient) -> None:
    assert iris_client.get("/api/v1.0/metadata").json() == {
        "name": "iris",
        "versions": ["3"],
        "platform": "sklearn",
        "inputs": [{"messagetype": "tensor", "schema": {"shape": [4], "names": IRIS_COLUMNS}}],
        "outputs": [{"messagetype": "tensor", "schema": {"shape": [1]}}],
        "custom": {},
    }


def test_health(iris_client: TestClient, scorer: tuple[TestClient, ModelRuntime]) -> None:
    assert iris_client.get("/api/v1.0/health/status").json() == {"jsonData": {"status": "ok"}, "meta": {}}
    ping = iris_client.get("/health/ping")
    assert (ping.status_code, ping.text, ping.headers["content-type"]) == (
        200,
        "pong",
        "text/plain; charset=utf-8",
    )
    custom = scorer[0].get("/api/v1.0/health/status").json()
    assert custom["jsonData"]["healthy"] is True


@pytest.mark.parametrize(
    ("body", "status", "info"),
    [
        (
            {"data": {"ndarray": [[1, 2, 3]]}},
            400,
            "shape of input (1, 3) does not match expected shape (-1, 4)",
        ),
        (
            {"data": {"ndarray": [["a", 1, 2, 3]]}},
            400,
            "column 'sepal length (cm)': the signature declares double, the data has string",
        ),
        ({"data": {"ndarray": []}}, 400, "no rows (an empty batch)"),
        (
            {"data": {"tensor": {"shape": [2, 4], "values": [1, 2]}}},
            400,
            "has shape [2, 4] (8 values) but 2 values",
        ),
        ({"nothing": 1}, 400, "exactly one of data, strData, binData, jsonData"),
        ({"binData": "***"}, 400, "'binData' is not valid base64"),
    ],
)
def test_errors_have_seldons_shape(iris_client: TestClient, body: Any, status: int, info: str) -> None:
    response = iris_client.post("/api/v1.0/predictions", json=body)
    assert response.status_code == status
    error = response.json()["status"]
    assert info in error["info"]
    assert (error["code"], error["reason"], error["status"]) == (status, "MICROSERVICE_BAD_DATA", "FAILURE")


def test_model_errors(scorer: tuple[TestClient, ModelRuntime]) -> None:
    client, _ = scorer
    crash = client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[-1, 2]]}})
    assert crash.status_code == 500
    assert crash.json() == {
        "status": {
            "code": 500,
            "info": "the model failed while predicting: RuntimeError: negative values break this model",
            "reason": "MICROSERVICE_INTERNAL_ERROR",
            "status": "FAILURE",
        }
    }
    refused = client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[5000, 2]]}})
    assert refused.status_code == 400
    assert "the model refused the input: ValueError: values above 1000" in refused.json()["status"]["info"]
    assert client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1, 2]]}}).status_code == 200


def test_invalid_json_and_content_type(iris_client: TestClient) -> None:
    truncated = iris_client.post(
        "/api/v1.0/predictions",
        content=b'{"data": {"ndarray": [[1,',
        headers={"content-type": "application/json"},
    )
    assert truncated.status_code == 400 and "ends too early" in truncated.json()["status"]["info"]
    csv = iris_client.post(
        "/api/v1.0/predictions", content=b"a,b\n1,2\n", headers={"content-type": "text/csv"}
    )
    assert csv.status_code == 415 and "must be sent as application/json" in csv.json()["status"]["info"]


def test_iris_labels_match_the_model(iris_client: TestClient, iris: Iris, sk_model: Any) -> None:
    rows = iris.array[::10].tolist()
    body = iris_client.post("/api/v1.0/predictions", json={"data": {"ndarray": rows}}).json()
    assert body["data"]["ndarray"] == sk_model.predict(iris.X.iloc[::10]).tolist()
