"""The flavor-loader registry: choosing a loader, refusing what cannot be loaded, naming the fix."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.domain.errors import InvalidParameter, NotFound, NotImplementedFeature
from modelyard.domain.model_format import ModelSpec
from modelyard.models import save_model
from modelyard.serving.flavors import (
    Capabilities,
    FlavorLoader,
    FlavorRegistry,
    LoadedModel,
    MissingFlavorLibrary,
    ModelLoadError,
    UnsupportedFlavor,
    default_registry,
    load_model,
)
from tests.models.trained import Iris


def write_mlmodel(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "MLmodel").write_text(text)
    return root


class ConstantModel(LoadedModel):
    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        return np.full(len(inputs), 7)


class ConstantLoader(FlavorLoader):
    flavor = "constant"
    extra = None
    preference = 5

    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        return ConstantModel(flavor=self.flavor, spec=spec, capabilities=Capabilities())


def test_native_flavor_is_preferred_over_python_function(iris: Iris, sk_model: Any, tmp_path: Path) -> None:
    save_model(sk_model, tmp_path / "m")
    registry = default_registry()
    spec = load_model(tmp_path / "m").spec

    assert registry.loader_for(spec).flavor == "sklearn"
    assert list(spec.flavors) == ["python_function", "sklearn"]  # whatever the order in the file


def test_python_function_serves_a_model_with_only_unknown_native_flavors() -> None:
    spec = ModelSpec(flavors={"tensorflow": {}, "python_function": {"loader_module": "mlflow.tensorflow"}})
    assert default_registry().loader_for(spec).flavor == "python_function"


def test_unsupported_flavor_is_named(tmp_path: Path) -> None:
    write_mlmodel(tmp_path / "m", "flavors:\n  tensorflow:\n    saved_model_dir: tfmodel\n")
    with pytest.raises(
        UnsupportedFlavor, match=r"flavors \(tensorflow\) are not supported; supported flavors: .*sklearn"
    ):
        load_model(tmp_path / "m")


def test_asking_for_a_flavor_the_model_lacks(tmp_path: Path, sk_model: Any) -> None:
    save_model(sk_model, tmp_path / "m")
    with pytest.raises(InvalidParameter, match="no 'onnx' flavor"):
        load_model(tmp_path / "m", flavor="onnx")


def test_missing_directory_and_mlmodel(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFound, match="has no MLmodel file"):
        load_model(tmp_path / "empty")


def test_malformed_mlmodel_names_the_field(tmp_path: Path) -> None:
    write_mlmodel(tmp_path / "m", "flavors:\n  sklearn: [1]\n")
    with pytest.raises(InvalidParameter, match=r"'flavors\.sklearn' must be a mapping"):
        load_model(tmp_path / "m")


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    write_mlmodel(tmp_path / "m", "flavors:\n  sklearn:\n    pickled_model: model.pkl\n")
    with pytest.raises(ModelLoadError, match=r"names 'model.pkl' \(flavors.sklearn.pickled_model\)"):
        load_model(tmp_path / "m")


def test_corrupt_model_file_is_a_load_error(tmp_path: Path) -> None:
    root = write_mlmodel(tmp_path / "m", "flavors:\n  onnx:\n    data: model.onnx\n")
    (root / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelLoadError, match="onnxruntime could not load"):
        load_model(root)


@pytest.mark.parametrize(
    ("flavor", "module", "extra"),
    [
        ("sklearn", "sklearn", "sklearn"),
        ("xgboost", "xgboost", "xgboost"),
        ("lightgbm", "lightgbm", "lightgbm"),
        ("onnx", "onnxruntime", "onnx"),
        ("pytorch", "torch", "pytorch"),
    ],
)
def test_missing_library_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flavor: str, module: str, extra: str
) -> None:
    write_mlmodel(tmp_path / "m", f"flavors:\n  {flavor}:\n    data: model.bin\n")
    monkeypatch.setitem(sys.modules, module, None)  # an import of it now fails, as if not installed

    with pytest.raises(MissingFlavorLibrary, match=rf"pip install 'modelyard\[{extra}\]'") as caught:
        load_model(tmp_path / "m")
    assert caught.value.extra == extra and caught.value.flavor == flavor
    assert isinstance(caught.value, NotImplementedFeature)


def test_a_registered_loader_wins_by_preference(tmp_path: Path, sk_model: Any) -> None:
    root = write_mlmodel(
        tmp_path / "m", "flavors:\n  python_function:\n    loader_module: x\n  constant: {}\n"
    )
    registry = FlavorRegistry([*_builtin(), ConstantLoader()])

    loaded = registry.load(root)
    assert loaded.flavor == "constant"
    np.testing.assert_array_equal(loaded.predict([[1], [2]]), [7, 7])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ConstantLoader())


def test_models_without_proba_say_so(tmp_path: Path, iris: Iris) -> None:
    from sklearn.linear_model import LinearRegression

    save_model(LinearRegression().fit(iris.X, iris.y), tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert not loaded.capabilities.supports_proba and loaded.capabilities.class_names is None
    with pytest.raises(NotImplementedFeature, match="this sklearn model has no predict_proba"):
        loaded.predict_proba(iris.X)


def _builtin() -> list[FlavorLoader]:
    registry = default_registry()
    return [registry.get(name) for name in registry.flavors]
