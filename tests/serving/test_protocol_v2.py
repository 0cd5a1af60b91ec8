"""Open Inference Protocol (V2): server and model metadata, health with status and body, infer with
every datatype, nested and flat data, requested outputs, parameters and errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelyard.serving.codecs import v2
from modelyard.serving.errors import BadRequest
from modelyard.serving.runtime import ModelRuntime
from modelyard.version import __version__
from tests.serving import test_runtime_kit as kit
from tests.serving.test_runtime_kit import IRIS_COLUMNS, serving

iris_dir = kit.iris_dir
tensor_dir = kit.tensor_dir
typed_dir = kit.typed_dir  # fixtures shared by the serving tests

ROW = [5.1, 3.5, 1.4, 0.2]
INFER = "/v2/models/iris/versions/3/infer"


@pytest.fixture(scope="module")
def iris_client(iris_dir: Path) -> Iterator[TestClient]:
    with serving(iris_dir, name="iris", version="3") as (client, _):
        yield client


def tensor(name: str, shape: list[int], datatype: str, data: Any) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_server_metadata_and_health(iris_client: TestClient) -> None:
    assert iris_client.get("/v2").json() == {"name": "modelyard", "version": __version__, "extensions": []}
    live = iris_client.get("/v2/health/live")
    assert (live.status_code, live.json()) == (200, {"live": True})
    ready = iris_client.get("/v2/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})
    for path in ("/v2/models/iris/ready", "/v2/models/iris/versions/3/ready"):
        response = iris_client.get(path)
        assert (response.status_code, response.json()) == (200, {"name": "iris", "ready": True})


def test_not_ready_answers_503_with_a_body(iris_dir: Path) -> None:
    from modelyard.serving.dataplane import DataPlane
    from modelyard.serving.rest import ServingApp

    runtime = ModelRuntime(iris_dir, name="iris")
    app = ServingApp(DataPlane(runtime))
    runtime.start()  # not loaded: the lifespan is not run here, so nothing loads it
    client = TestClient(app)
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.json()) == (503, {"ready": False})
    assert client.get("/v2/models/iris/ready").json() == {"name": "iris", "ready": False}
    assert client.get("/v2/health/live").status_code == 200
    infer = client.post("/v2/models/iris/infer", json={"inputs": [tensor("x", [1, 4], "FP64", ROW)]})
    assert infer.status_code == 503
    assert infer.json() == {"error": "model 'iris' is still loading; it cannot answer predictions yet"}


def test_model_metadata(iris_client: TestClient) -> None:
    expected = {
        "name": "iris",
        "versions": ["3"],
        "platform": "sklearn",
        "inputs": [{"name": c, "datatype": "FP64", "shape": [-1]} for c in IRIS_COLUMNS],
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
        ],
    }
    assert iris_client.get("/v2/models/iris").json() == expected
    assert iris_client.get("/v2/models/iris/versions/3").json() == expected


def test_infer_exact_body_with_requested_outputs(iris_client: TestClient, sk_model: Any) -> None:
    body = {
        "id": "r-1",
        "inputs": [tensor("x", [1, 4], "FP64", ROW)],
        "outputs": [{"name": "predict_proba"}, {"name": "predict"}],
    }
    response = iris_client.post(INFER, json=body)
    assert response.status_code == 200
    proba = sk_model.predict_proba(pd.DataFrame([ROW], columns=IRIS_COLUMNS))
    assert response.json() == {
        "model_name": "iris",
        "model_version": "3",
        "id": "r-1",
        "outputs": [
            {"name": "predict_proba", "datatype": "FP64", "shape": [1, 3], "data": proba.ravel().tolist()},
            {"name": "predict", "datatype": "INT64", "shape": [1], "data": [0]},
        ],
    }


def test_nested_or_flat_data_and_one_tensor_per_column(iris_client: TestClient) -> None:
    flat = iris_client.post(INFER, json={"id": "a", "inputs": [tensor("x", [2, 4], "FP64", ROW + ROW)]})
    nested = iris_client.post(INFER, json={"id": "a", "inputs": [tensor("x", [2, 4], "FP64", [ROW, ROW])]})
    columns = iris_client.post(
        INFER,
        json={
            "id": "a",
            "inputs": [tensor(c, [2], "FP64", [v, v]) for c, v in zip(IRIS_COLUMNS, ROW, strict=True)],
        },
    )
    assert flat.json() == nested.json() == columns.json()
    assert flat.json()["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [2], "data": [0, 0]}]


def test_an_id_is_made_when_none_is_given(iris_client: TestClient) -> None:
    ids = [
        iris_client.post("/v2/models/iris/infer", json={"inputs": [tensor("x", [1, 4], "FP32", ROW)]})
        for _ in range(3)
    ]
    assert all(r.status_code == 200 for r in ids)
    made = [r.json()["id"] for r in ids]
    assert len(set(made)) == 3
    assert all(len(i) == 36 and i[8] == i[13] == i[18] == i[23] == "-" and i[14] == "4" for i in made)


@pytest.mark.parametrize(
    ("datatype", "data", "dtype"),
    [
        ("BOOL", [True, False], "bool"),
        ("UINT8", [0, 255], "uint8"),
        ("UINT16", [0, 65535], "uint16"),
        ("UINT32", [0, 2**32 - 1], "uint32"),
        ("UINT64", [0, 2**64 - 1], "uint64"),
        ("INT8", [-128, 127], "int8"),
        ("INT16", [-(2**15), 2**15 - 1], "int16"),
        ("INT32", [-(2**31), 2**31 - 1], "int32"),
        ("INT64", [-(2**63), 2**63 - 1], "int64"),
        ("FP16", [0.5, -2.0], "float16"),
        ("FP32", [0.25, 1], "float32"),
        ("FP64", [0.1, 2], "float64"),
        ("BYTES", ["a", "é"], "object"),
    ],
)
def test_every_datatype_decodes_and_encodes(datatype: str, data: list[Any], dtype: str) -> None:
    request = v2.decode({"inputs": [tensor("t", [2], datatype, data)]})
    array = request.payload.tensors["t"]
    assert array.dtype == np.dtype(dtype) and array.tolist() == data
    out = v2.output_tensor("t", array)
    assert (out["datatype"], out["shape"]) == (datatype, [2])
    assert list(out["data"]) == data


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        ("INT32", [1.5, 2], "INT32 but its data holds non-integer values"),
        ("UINT8", [256, 1], "out of the UINT8 range [0, 255]"),
        ("BOOL", [1, 0], "BOOL but its data holds numbers"),
        ("FP32", ["1.0", "2"], "FP32 but its data holds strings or mixed values"),
        ("FP64", [None, 1.0], "FP64 but its data holds null values"),
        ("BYTES", [1, 2], "BYTES but its data holds non-string values"),
        ("FP16", [1e6, 1], "out of the FP16 range"),
        ("INT4", [1, 2], "datatype 'INT4' is not one of BOOL"),
    ],
)
def test_data_that_does_not_fit_its_datatype(datatype: str, data: list[Any], message: str) -> None:
    with pytest.raises(BadRequest, match=message.replace("[", r"\[").replace("(", r"\(")):
        v2.decode({"inputs": [tensor("t", [2], datatype, data)]})


def test_unsafe_conversions_are_refused(tensor_dir: Path) -> None:
    with serving(tensor_dir, name="t") as (client, _):
        ok_int = client.post(
            "/v2/models/t/infer", json={"id": "i", "inputs": [tensor("x", [1, 3], "INT16", [1, 2, 3])]}
        )
        assert ok_int.json()["outputs"] == [
            {"name": "predict", "datatype": "FP32", "shape": [1], "data": [6.0]}
        ]
        fp64 = client.post("/v2/models/t/infer", json={"inputs": [tensor("x", [1, 3], "FP64", [1, 2, 3])]})
        assert fp64.status_code == 400
        assert fp64.json() == {
            "error": "the input does not match the model signature: "
            "tensor 0: the signature declares dtype float32, the data has float64"
        }
        shape = client.post("/v2/models/t/infer", json={"inputs": [tensor("x", [1, 2], "FP32", [1, 2])]})
        assert shape.json()["error"].endswith("tensor 0: shape (1, 2) does not match expected shape (-1, 3)")
        bytes_in = client.post(
            "/v2/models/t/infer", json={"inputs": [tensor("x", [1, 3], "BYTES", ["1", "2", "3"])]}
        )
        assert "declares dtype float32, the data has str" in bytes_in.json()["error"]
        empty = client.post("/v2/models/t/infer", json={"inputs": [tensor("x", [0, 3], "FP32", [])]})
        assert empty.status_code == 400
        assert empty.json() == {"error": "the request holds no rows (an empty batch): send at least one row"}
        # the failed requests left the cached verdicts alone: the good one still passes
        again = client.post("/v2/models/t/infer", json={"inputs": [tensor("x", [2, 3], "INT16", [1] * 6)]})
        assert again.json()["outputs"][0]["data"] == [3.0, 3.0]


def test_typed_columns_and_parameters(typed_dir: Path) -> None:
    with serving(typed_dir, name="typed") as (client, _):
        inputs = [
            tensor("a", [2], "FP64", [1.5, 2.5]),
            tensor("b", [2], "INT32", [1, 2]),
            tensor("c", [2], "BYTES", ["x", "y"]),
        ]
        good = client.post(
            "/v2/models/typed/infer", json={"id": "t", "inputs": inputs, "parameters": {"threshold": 1}}
        )
        assert good.json()["outputs"] == [
            {"name": "predict", "datatype": "FP64", "shape": [2], "data": [2.5, 4.5]}
        ]
        wrong = [
            tensor("a", [2], "FP64", [1.5, 2.5]),
            tensor("b", [2], "FP64", [1.0, 2.0]),
            tensor("c", [2], "BYTES", ["x", "y"]),
        ]
        response = client.post("/v2/models/typed/infer", json={"inputs": wrong})
        assert response.status_code == 400
        assert "column 'b': the signature declares long, the data has double" in response.json()["error"]
        missing = client.post("/v2/models/typed/infer", json={"inputs": inputs[:2]})
        assert "missing columns ['c']" in missing.json()["error"]
        param = client.post(
            "/v2/models/typed/infer", json={"inputs": inputs, "parameters": {"threshold": "high"}}
        )
        assert param.json() == {"error": "parameter 'threshold': the signature declares double, got 'high'"}


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/v2/models/other/infer", {"inputs": []}, 404, "Model other not found; this server serves 'iris'"),
        (
            "/v2/models/iris/versions/9/infer",
            {"inputs": []},
            404,
            "Model iris version 9 not found; this server serves version 3",
        ),
        (
            INFER,
            {"inputs": []},
            400,
            "'inputs' must be a non-empty list of tensors {name, shape, datatype, data}",
        ),
        (
            INFER,
            {"inputs": [tensor("x", [0, 4], "FP64", [])]},
            400,
            "the request holds no rows (an empty batch): send at least one row",
        ),
        (
            INFER,
            {"inputs": [tensor("x", [1, 4], "FP64", [1, 2])]},
            400,
            "input 'x': shape [1, 4] needs 4 values, the data has 2",
        ),
        (
            INFER,
            {"inputs": [tensor("x", [1, 4], "FP64", ROW)], "outputs": [{"name": "nope"}]},
            400,
            "unknown output(s) ['nope']; this model has outputs ['predict', 'predict_proba']",
        ),
    ],
)
def test_errors(iris_client: TestClient, path: str, body: Any, status: int, error: str) -> None:
    response = iris_client.post(path, json=body)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_unknown_routes_and_methods(iris_client: TestClient) -> None:
    assert iris_client.get("/v2/models/iris/versions/3/nope").status_code == 404
    wrong = iris_client.get(INFER)
    assert (wrong.status_code, wrong.json()) == (405, {"error": f"GET is not allowed on {INFER}; use POST"})
