"""MLflow scoring protocol: every input format, CSV, params, content types, and models written by
MLflow itself; signature errors name the column with the expected and received types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelyard.version import __version__
from tests.models.trained import Iris
from tests.serving import test_runtime_kit as kit
from tests.serving.test_runtime_kit import IRIS_COLUMNS, serving

iris_dir = kit.iris_dir
typed_dir = kit.typed_dir  # fixtures shared by the serving tests

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


@pytest.fixture(scope="module")
def client(iris_dir: Path) -> Iterator[TestClient]:
    with serving(iris_dir, name="iris") as (c, _):
        yield c


@pytest.fixture(scope="module")
def typed(typed_dir: Path) -> Iterator[TestClient]:
    with serving(typed_dir, name="typed") as (c, _):
        yield c


def labels(sk_model: Any, rows: list[list[float]]) -> list[int]:
    return list(sk_model.predict(pd.DataFrame(rows, columns=IRIS_COLUMNS)).tolist())


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": IRIS_COLUMNS, "data": ROWS}},
        {"dataframe_split": {"columns": IRIS_COLUMNS[::-1], "data": [r[::-1] for r in ROWS]}},
        {"dataframe_split": {"columns": IRIS_COLUMNS, "data": ROWS, "index": [7, 8]}},
        {"dataframe_records": [dict(zip(IRIS_COLUMNS, r, strict=True)) for r in ROWS]},
        {"instances": ROWS},
        {"instances": [dict(zip(IRIS_COLUMNS, r, strict=True)) for r in ROWS]},
        {"inputs": ROWS},
        {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(IRIS_COLUMNS)}},
        {"inputs": [[5, 3, 1, 0], [7, 3, 5, 2]]},  # integers into double columns: a safe conversion
    ],
)
def test_every_json_format(client: TestClient, sk_model: Any, body: dict[str, Any]) -> None:
    response = client.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    rows = [[5, 3, 1, 0], [7, 3, 5, 2]] if body.get("inputs") == [[5, 3, 1, 0], [7, 3, 5, 2]] else ROWS
    assert response.content == b'{"predictions":[%d,%d]}' % tuple(labels(sk_model, rows))


def test_csv(client: TestClient, sk_model: Any) -> None:
    text = ",".join(IRIS_COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n"
    response = client.post("/invocations", content=text.encode(), headers={"content-type": "text/csv"})
    assert response.json() == {"predictions": labels(sk_model, ROWS)}
    bad = client.post(
        "/invocations", content=b"a,b\n1\n", headers={"content-type": "text/csv; charset=utf-8"}
    )
    assert bad.json() == {
        "error_code": "BAD_REQUEST",
        "message": "CSV rows [2] do not have 2 values like the header ['a', 'b']",
    }


def test_ping_health_version(client: TestClient) -> None:
    for path in ("/ping", "/health"):
        response = client.get(path)
        assert (response.status_code, response.content) == (200, b"\n")
    assert client.get("/version").text == __version__


@pytest.mark.parametrize(
    ("headers", "body", "status", "expected"),
    [
        (
            {"content-type": "application/xml"},
            b"<a/>",
            415,
            "This predictor only supports the following content types: ['text/csv', 'application/json']. "
            "Got 'application/xml'.",
        ),
        (
            {"content-type": "application/json; charset=latin-1"},
            b"{}",
            415,
            "the scoring server only supports UTF-8, got charset=latin-1",
        ),
        (
            {"content-type": "application/json"},
            b"[1, 2]",
            400,
            "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', "
            "'dataframe_records', 'instances', 'inputs'}. Received a list.",
        ),
        (
            {"content-type": "application/json"},
            b'{"inputs": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]}',
            400,
            "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', "
            "'dataframe_records', 'instances', 'inputs'}. Received dictionary with input fields: ['inputs', 'instances'].",
        ),
        (
            {"content-type": "application/json"},
            b'{"inputs": [[1, 2, 3, 4]',
            400,
            "ends too early (truncated?)",
        ),
        (
            {"content-type": "application/json"},
            b'{"inputs": [[NaN, 2, 3, 4]]}',
            400,
            "NaN and Infinity are not JSON values",
        ),
        (
            {"content-type": "application/json"},
            b'{"inputs": []}',
            400,
            "the request holds no rows (an empty batch): send at least one row",
        ),
    ],
)
def test_bad_requests(
    client: TestClient, headers: dict[str, str], body: bytes, status: int, expected: str
) -> None:
    response = client.post("/invocations", content=body, headers=headers)
    assert response.status_code == status
    error = response.json()
    assert error["error_code"] == "BAD_REQUEST" and expected in error["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"dataframe_split": {"columns": IRIS_COLUMNS[:3], "data": [ROWS[0][:3]]}},
            "the input does not match the model signature: missing columns ['petal width (cm)']",
        ),
        (
            {
                "dataframe_records": [
                    {**dict(zip(IRIS_COLUMNS, ROWS[0], strict=True)), "petal width (cm)": "wide"}
                ]
            },
            "the input does not match the model signature: column 'petal width (cm)': the signature declares "
            "double, the data has string",
        ),
        (
            {"inputs": [[1.0, 2.0, 3.0]]},
            "the input does not match the model signature: shape of input (1, 3) does not match expected shape "
            f"(-1, 4) (columns {IRIS_COLUMNS})",
        ),
    ],
)
def test_signature_errors_name_the_column(client: TestClient, body: dict[str, Any], message: str) -> None:
    response = client.post("/invocations", json=body)
    assert (response.status_code, response.json()) == (
        400,
        {"error_code": "INVALID_PARAMETER_VALUE", "message": message},
    )


def test_extra_columns_are_dropped(client: TestClient, sk_model: Any) -> None:
    records = [{**dict(zip(IRIS_COLUMNS, r, strict=True)), "extra": "ignored"} for r in ROWS]
    assert client.post("/invocations", json={"dataframe_records": records}).json() == {
        "predictions": labels(sk_model, ROWS)
    }


def test_typed_columns_safe_and_unsafe(typed: TestClient) -> None:
    split = {"columns": ["a", "b", "c"], "data": [[1, 2, "x"], [2.5, 3, "y"]]}
    assert typed.post("/invocations", json={"dataframe_split": split}).json() == {"predictions": [3.0, 5.5]}
    unsafe = {"columns": ["a", "b", "c"], "data": [[1.0, 2.5, "x"]]}
    response = typed.post("/invocations", json={"dataframe_split": unsafe})
    assert response.json()["message"] == (
        "the input does not match the model signature: column 'b': the signature declares long, the data has double"
    )
    nulls = typed.post("/invocations", json={"dataframe_records": [{"a": 1.0, "b": None, "c": "x"}]})
    assert nulls.json()["message"] == "column 'b' has null values, but the signature declares long"
    number_for_text = typed.post(
        "/invocations", json={"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1.0, 2, 3]]}}
    )
    assert "column 'c': the signature declares string, the data has long" in number_for_text.json()["message"]
    csv = typed.post("/invocations", content=b"a,b,c\n1.5,2,x\n", headers={"content-type": "text/csv"})
    assert csv.json() == {"predictions": [3.5]}


def test_params_are_checked(typed: TestClient) -> None:
    split = {"columns": ["a", "b", "c"], "data": [[1, 2, "x"]]}
    assert (
        typed.post(
            "/invocations", json={"dataframe_split": split, "params": {"threshold": 2, "other": 1}}
        ).status_code
        == 200
    )
    bad = typed.post("/invocations", json={"dataframe_split": split, "params": {"threshold": [1]}})
    assert bad.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "parameter 'threshold': the signature declares double, got [1]",
    }
    not_object = typed.post("/invocations", json={"dataframe_split": split, "params": [1]})
    assert (
        not_object.json()["message"]
        == "'params' must be a JSON object of parameter names to values, got a list"
    )


def test_too_large_body_is_413_and_the_server_goes_on(iris_dir: Path) -> None:
    with serving(iris_dir, name="iris", max_body_bytes=200) as (small, _):
        big = {"inputs": ROWS * 20}
        response = small.post("/invocations", json=big)
        assert response.status_code == 413
        assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert "larger than this server's limit of 200 bytes" in response.json()["message"]
        assert small.post("/invocations", json={"inputs": ROWS}).status_code == 200


def test_a_model_written_by_mlflow(tmp_path: Path, iris: Iris, sk_model: Any) -> None:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(
        sk_model,
        str(tmp_path / "m"),
        signature=infer_signature(iris.X, sk_model.predict(iris.X)),
        input_example=iris.X.head(3),
    )
    with serving(tmp_path / "m", name="iris") as (client, runtime):
        assert runtime.ready and runtime.model.flavor == "sklearn"
        body = {"dataframe_split": {"columns": IRIS_COLUMNS, "data": iris.array[::25].tolist()}}
        assert client.post("/invocations", json=body).json() == {
            "predictions": sk_model.predict(iris.X.iloc[::25]).tolist()
        }
