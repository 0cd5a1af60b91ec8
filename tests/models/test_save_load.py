"""Round trips: modelyard writes each flavor, the MLmodel reads back, the registry loads it, and the
loaded model predicts what the in-memory one does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import ColSpec, TensorSpec
from modelyard.models import load_model, save_model
from modelyard.serving.flavors import read_model_spec
from tests.models.trained import Iris, torch_predict


def test_sklearn_round_trip(tmp_path: Path, iris: Iris, sk_model: Any) -> None:
    spec = save_model(sk_model, tmp_path / "m", input_example=iris.X.head(3))

    read = read_model_spec(tmp_path / "m")
    assert read.flavors.keys() == {"sklearn", "python_function"}
    assert read.flavor("python_function")["loader_module"] == "mlflow.sklearn"
    assert read.model_uuid == spec.model_uuid and read.modelyard_version
    assert any(r.startswith("scikit-learn==") for r in read.requirements)
    assert read.signature is not None
    assert read.signature.inputs.items[0] == ColSpec(type="double", name="sepal length (cm)")
    assert read.signature.outputs is not None and read.signature.outputs.items == (ColSpec(type="long"),)
    assert read.saved_input_example_info is not None and read.saved_input_example_info.type == "dataframe"

    loaded = load_model(tmp_path / "m")
    assert loaded.flavor == "sklearn"
    np.testing.assert_array_equal(loaded.predict(iris.X), sk_model.predict(iris.X))
    np.testing.assert_array_equal(loaded.predict(iris.array), sk_model.predict(iris.X))  # names restored
    np.testing.assert_allclose(loaded.predict_proba(iris.X), sk_model.predict_proba(iris.X))
    assert loaded.capabilities.supports_proba
    assert loaded.capabilities.class_names == ("0", "1", "2")
    assert loaded.capabilities.feature_names == tuple(iris.X.columns)


@pytest.mark.parametrize("fixture", ["xgb_model", "lgb_model"])
def test_boosting_estimator_round_trip(
    tmp_path: Path, iris: Iris, fixture: str, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(fixture)
    save_model(model, tmp_path / "m", input_example=iris.X.head(2))

    loaded = load_model(tmp_path / "m")
    assert loaded.flavor == {"xgb_model": "xgboost", "lgb_model": "lightgbm"}[fixture]
    np.testing.assert_array_equal(loaded.predict(iris.X), model.predict(iris.X))
    np.testing.assert_allclose(loaded.predict_proba(iris.array), model.predict_proba(iris.X), rtol=1e-6)


def test_xgboost_booster_round_trip(tmp_path: Path, iris: Iris, xgb_booster: Any) -> None:
    import xgboost as xgb

    save_model(xgb_booster, tmp_path / "m", input_example=iris.array[:2])

    spec = read_model_spec(tmp_path / "m")
    assert spec.flavor("xgboost")["model_class"] == "xgboost.core.Booster"
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(iris.array), xgb_booster.predict(xgb.DMatrix(iris.array)))
    assert not loaded.capabilities.supports_proba


def test_lightgbm_booster_round_trip(tmp_path: Path, iris: Iris, lgb_booster: Any) -> None:
    save_model(lgb_booster, tmp_path / "m", input_example=iris.array[:2])

    assert (tmp_path / "m" / "model.lgb").is_file()
    np.testing.assert_allclose(
        load_model(tmp_path / "m").predict(iris.array), lgb_booster.predict(iris.array)
    )


def test_onnx_round_trip(tmp_path: Path, iris: Iris, onnx_model: Any) -> None:
    import onnxruntime as ort

    save_model(onnx_model, tmp_path / "m", input_example=iris.array32[:2])

    spec = read_model_spec(tmp_path / "m")
    assert spec.signature is not None
    assert spec.signature.inputs.items == (TensorSpec(dtype="float32", shape=(-1, 4)),)
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {session.get_inputs()[0].name: iris.array32})
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(
        loaded.predict(iris.array), label
    )  # float64 in, cast to the graph's float32
    np.testing.assert_allclose(loaded.predict_proba(iris.X), proba)


@pytest.mark.parametrize("fixture", ["torch_script", "torch_module"])
def test_pytorch_round_trip(tmp_path: Path, iris: Iris, fixture: str, request: pytest.FixtureRequest) -> None:
    module = request.getfixturevalue(fixture)  # a ScriptModule, or a plain nn.Module scripted on save
    save_model(module, tmp_path / "m", input_example=iris.array32[:2])

    assert (tmp_path / "m" / "data" / "model.pth").is_file()
    spec = read_model_spec(tmp_path / "m")
    assert spec.signature is not None and spec.signature.outputs is not None
    assert spec.signature.outputs.items == (TensorSpec(dtype="float32", shape=(-1, 3)),)
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(iris.array), torch_predict(module, iris.array32), rtol=1e-6)


def test_signature_given_is_checked_against_the_example(tmp_path: Path, iris: Iris, sk_model: Any) -> None:
    from modelyard.models import infer_signature

    wrong = infer_signature(iris.X.astype({"petal width (cm)": "float32"}).head(1))
    bad_example = iris.X.assign(**{"petal width (cm)": "wide"}).head(2)

    with pytest.raises(InvalidParameter, match=r"column 'petal width \(cm\)'.*declares float.*has string"):
        save_model(sk_model, tmp_path / "m", signature=wrong, input_example=bad_example)
    assert not (tmp_path / "m").exists()  # checked before anything is written


def test_signature_without_example_is_recorded(tmp_path: Path, iris: Iris, sk_model: Any) -> None:
    from modelyard.models import infer_signature

    signature = infer_signature(iris.X.head(1), sk_model.predict(iris.X.head(1)))
    save_model(sk_model, tmp_path / "m", signature=signature)

    spec = read_model_spec(tmp_path / "m")
    assert spec.signature == signature
    assert spec.saved_input_example_info is None


def test_unknown_objects_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"cannot log a builtins\.dict"):
        save_model({"weights": [1, 2]}, tmp_path / "m")
    assert not (tmp_path / "m").exists()  # nothing left behind


def test_refuses_a_non_empty_directory(tmp_path: Path, sk_model: Any) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x").write_text("")
    with pytest.raises(InvalidParameter, match="not empty"):
        save_model(sk_model, tmp_path / "m")
