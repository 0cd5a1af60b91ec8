"""The ``python_function`` flavor (MLflow's pyfunc), for models that have no native flavor here.

Two conventions from the MLmodel's ``loader_module``:
- a module of the model's own (shipped in its ``code`` directory): imported here, without MLflow,
  and its ``_load_pyfunc(data_path)`` returns an object with ``predict(model_input[, params])``;
- an ``mlflow.*`` module (``mlflow.pyfunc.model`` for a pickled ``PythonModel``, or a flavor with no
  loader here): that needs MLflow's own loader, used when ``mlflow`` is importable; otherwise the
  error says ``pip install mlflow``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelyard.domain.model_format import PYFUNC_FLAVOR, ModelSpec
from modelyard.serving.flavors.base import Capabilities, FlavorLoader, LoadedModel, ModelLoadError
from modelyard.serving.flavors.code_path import packaged_code
from modelyard.serving.flavors.inputs import to_python


class PyfuncModel(LoadedModel):
    def __init__(self, model: Any, *, spec: ModelSpec, takes_params: bool) -> None:
        self.model = model
        super().__init__(
            flavor=PYFUNC_FLAVOR, spec=spec, capabilities=Capabilities(supports_params=takes_params)
        )

    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        if params and self.capabilities.supports_params:
            return to_python(self.model.predict(inputs, params=dict(params)))
        return to_python(self.model.predict(inputs))


class PyfuncLoader(FlavorLoader):
    flavor = PYFUNC_FLAVOR
    extra = None
    preference = 90  # a native flavor, when the model has one, loads without the pyfunc wrapper

    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        conf = self.conf(spec)
        loader_module = str(conf["loader_module"])
        if loader_module.split(".", 1)[0] == "mlflow":
            pyfunc = self.library("mlflow.pyfunc", package="mlflow")
            try:
                model = pyfunc.load_model(str(model_dir))
            except Exception as exc:  # MLflow wraps every failure in its own exception types
                raise ModelLoadError(f"MLflow's pyfunc loader could not load {model_dir}: {exc}") from exc
            return PyfuncModel(model, spec=spec, takes_params=True)
        code = [self.model_file(model_dir, conf, "code")] if conf.get("code") else []
        data = self.model_file(model_dir, conf, "data") if conf.get("data") else model_dir
        with packaged_code(code):
            try:
                module = importlib.import_module(loader_module)
            except ImportError as exc:
                raise ModelLoadError(
                    f"cannot import the model's loader_module {loader_module!r}: {exc}"
                    + (" (pip install mlflow if the model's code needs it)" if exc.name == "mlflow" else "")
                ) from exc
            load_pyfunc = getattr(module, "_load_pyfunc", None)
            if not callable(load_pyfunc):
                raise ModelLoadError(
                    f"loader_module {loader_module!r} has no _load_pyfunc(data_path) function"
                )
            model = load_pyfunc(str(data))
        return PyfuncModel(model, spec=spec, takes_params=_takes_params(model.predict))


def _takes_params(predict: Any) -> bool:
    try:
        return "params" in inspect.signature(predict).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
