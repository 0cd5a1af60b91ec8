"""Models written by MLflow itself load through modelyard's loaders and predict the same values."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.domain.model_format import ParamSpec
from modelyard.serving.flavors import MissingFlavorLibrary, load_model
from tests.models.trained import Iris, torch_predict

mlflow = pytest.importorskip("mlflow")
NO_REQS: dict[str, Any] = {"pip_requirements": []}  # skips MLflow's slow requirement inference


class SumModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return model_input.sum(axis=1) * (params or {}).get("scale", 1.0)


def _save(fn: Any, model: Any, path: Path, **kwargs: Any) -> Path:
    with warnings.catch_warnings():  # MLflow warns about pickle formats and its own internals
        warnings.simplefilter("ignore")
        fn(model, str(path), **NO_REQS, **kwargs)
    return path


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle"])
def test_sklearn(tmp_path: Path, iris: Iris, sk_model: Any, fmt: str) -> None:
    import mlflow.sklearn

    path = _save(mlflow.sklearn.save_model, sk_model, tmp_path / "m", serialization_format=fmt)
    loaded = load_model(path)
    assert loaded.flavor == "sklearn"  # the native flavor before python_function
    np.testing.assert_array_equal(loaded.predict(iris.X), sk_model.predict(iris.X))
    np.testing.assert_allclose(loaded.predict_proba(iris.array), sk_model.predict_proba(iris.X))


def test_xgboost(tmp_path: Path, iris: Iris, xgb_model: Any) -> None:
    import mlflow.xgboost

    path = _save(mlflow.xgboost.save_model, xgb_model, tmp_path / "m", input_example=iris.X.head(2))
    loaded = load_model(path)
    assert loaded.spec.signature is not None and loaded.spec.mlflow_version
    np.testing.assert_array_equal(loaded.predict(iris.X), xgb_model.predict(iris.X))
    np.testing.assert_allclose(loaded.predict_proba(iris.X), xgb_model.predict_proba(iris.X))


@pytest.mark.parametrize("fixture", ["lgb_model", "lgb_booster"])
def test_lightgbm(tmp_path: Path, iris: Iris, fixture: str, request: pytest.FixtureRequest) -> None:
    import mlflow.lightgbm

    model = request.getfixturevalue(fixture)
    path = _save(mlflow.lightgbm.save_model, model, tmp_path / "m")
    loaded = load_model(path)
    np.testing.assert_allclose(
        loaded.predict(iris.array), model.predict(iris.X if fixture == "lgb_model" else iris.array)
    )


def test_onnx(tmp_path: Path, iris: Iris, onnx_model: Any) -> None:
    import mlflow.onnx

    path = _save(mlflow.onnx.save_model, onnx_model, tmp_path / "m")
    loaded = load_model(path)
    reference = load_model(path, flavor="python_function")  # MLflow's own pyfunc loader, for comparison
    expected = reference.predict(iris.array32)
    np.testing.assert_array_equal(loaded.predict(iris.array32), expected["label"])
    np.testing.assert_allclose(loaded.predict_proba(iris.array32), expected["probabilities"])


@pytest.mark.parametrize("fmt", ["pt2", "pickle"])
def test_pytorch(tmp_path: Path, iris: Iris, torch_module: Any, fmt: str) -> None:
    import mlflow.pytorch

    path = _save(
        mlflow.pytorch.save_model,
        torch_module,
        tmp_path / "m",
        serialization_format=fmt,
        input_example=iris.array32[:4],
    )
    loaded = load_model(path)
    assert loaded.flavor == "pytorch"
    np.testing.assert_allclose(
        loaded.predict(iris.array32), torch_predict(torch_module, iris.array32), rtol=1e-5
    )


def test_pyfunc_python_model_uses_mlflows_loader(tmp_path: Path, iris: Iris) -> None:
    import mlflow.pyfunc

    path = tmp_path / "m"
    signature = mlflow.models.infer_signature(iris.X.head(2), params={"scale": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.pyfunc.save_model(str(path), python_model=SumModel(), signature=signature, **NO_REQS)
    loaded = load_model(path)
    assert loaded.flavor == "python_function" and loaded.capabilities.supports_params
    assert loaded.spec.signature is not None
    assert loaded.spec.signature.params == (ParamSpec("scale", "double", default=1.0),)
    np.testing.assert_allclose(loaded.predict(iris.X.head(3)), iris.X.head(3).sum(axis=1).to_numpy())
    np.testing.assert_allclose(
        loaded.predict(iris.X.head(1), params={"scale": 2.0}), [2 * iris.X.iloc[0].sum()]
    )


def test_pyfunc_python_model_without_mlflow_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc

    path = tmp_path / "m"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.pyfunc.save_model(str(path), python_model=SumModel(), **NO_REQS)
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc", None)  # as if mlflow were not installed

    with pytest.raises(MissingFlavorLibrary, match="pip install mlflow"):
        load_model(path)


def test_pyfunc_with_its_own_loader_module_needs_no_mlflow(
    tmp_path: Path, iris: Iris, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m"
    (path / "code").mkdir(parents=True)
    (path / "weights").mkdir()
    (path / "weights" / "w.txt").write_text("0.5")
    (path / "code" / "halfsum_loader.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path


            class HalfSum:
                def __init__(self, weight):
                    self.weight = weight

                def predict(self, model_input):
                    return model_input.sum(axis=1) * self.weight


            def _load_pyfunc(data_path):
                return HalfSum(float(Path(data_path, "w.txt").read_text()))
            """
        )
    )
    (path / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: halfsum_loader\n    code: code\n    data: weights\n"
    )
    for name in ("mlflow", "mlflow.pyfunc"):
        monkeypatch.setitem(sys.modules, name, None)

    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict(iris.X.head(2)), iris.X.head(2).sum(axis=1).to_numpy() * 0.5)
    assert not loaded.capabilities.supports_params


def test_skops_model_loads_without_importing_torch(tmp_path: Path, sk_model: Any) -> None:
    # skops.io finds its trusted types with scikit-learn's all_estimators(), whose package walk
    # imports PyTorch (seconds of cold start) unless the loader keeps it out
    pytest.importorskip("torch")
    import mlflow.sklearn

    path = _save(mlflow.sklearn.save_model, sk_model, tmp_path / "m", serialization_format="skops")
    script = textwrap.dedent(
        """
        import sys

        from modelyard.serving.flavors import load_model

        model = load_model(sys.argv[1])
        print(model.flavor, type(model.model).__name__, "torch" in sys.modules, "skops.io" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["sklearn", type(sk_model).__name__, "False", "True"]


def test_skops_trusts_the_same_types_with_torch_kept_out() -> None:
    # the array-library adapters that the import leaves out hold no estimator: skops' defaults match
    script = textwrap.dedent(
        """
        import json
        import sys

        if sys.argv[1] == "ours":
            from modelyard.serving.flavors.skops_io import import_skops_io

            import_skops_io(flavor="sklearn", extra="sklearn")
        from skops.io import _trusted_types as t

        names = t.SKLEARN_ESTIMATOR_TYPE_NAMES + t.SKLEARN_INTERNAL_TYPE_NAMES + t.NUMPY_DTYPE_TYPE_NAMES
        print(json.dumps(sorted(names)))
        """
    )
    pytest.importorskip("skops.io")
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, how], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        for how in ("ours", "plain")
    ]
    assert runs[0] == runs[1] and len(runs[0]) > 1000


def test_loading_a_skops_model_leaves_skops_defaults_for_other_loaders(tmp_path: Path, sk_model: Any) -> None:
    # the loader's way of importing skops.io must not change what skops trusts for anyone else in
    # the process (MLflow's own loader, a user's code): a later mlflow.sklearn.load_model still works
    import mlflow.sklearn
    from sklearn.tree import DecisionTreeClassifier

    other = DecisionTreeClassifier(max_depth=2).fit([[0.0], [1.0]], [0, 1])  # a class the first file lacks
    ours = _save(mlflow.sklearn.save_model, sk_model, tmp_path / "ours", serialization_format="skops")
    theirs = _save(
        mlflow.sklearn.save_model,
        other,
        tmp_path / "theirs",
        serialization_format="skops",
        skops_trusted_types=["sklearn.tree._tree.Tree"],
    )
    script = textwrap.dedent(
        """
        import sys

        import mlflow.sklearn

        from modelyard.serving.flavors import load_model

        print(type(load_model(sys.argv[1]).model).__name__, type(mlflow.sklearn.load_model(sys.argv[2])).__name__)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ours), str(theirs)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [type(sk_model).__name__, "DecisionTreeClassifier"]
