"""Flavor writers: turn a model object into flavor files in a model directory.

``writer_for(model)`` picks the writer from the model's type: the library a class comes from is read
from its module name before that library is imported, so detecting a scikit-learn model never
imports torch. XGBoost and LightGBM estimators are also scikit-learn estimators, so they are tried
first; anything else with a ``predict`` method is a custom model (``custom.py``).

Each native writer also writes MLflow's ``python_function`` flavor the way MLflow would
(``loader_module: mlflow.<flavor>``), so ``mlflow.pyfunc.load_model`` can load what modelyard logs.
"""

from __future__ import annotations

import importlib
import pickle
import platform
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import PYFUNC_FLAVOR
from modelyard.serving.flavors.pytorch import torchscript_deprecation_silenced

ENV_FILE = "python_env.yaml"


@dataclass
class Written:
    """What a writer produced: flavor configurations and the pip requirements to load them."""

    flavors: dict[str, dict[str, Any]]
    requirements: list[str] = field(default_factory=list)


class FlavorWriter(ABC):
    flavor: ClassVar[str]
    package: ClassVar[str]  # the top-level module the model's classes come from

    def accepts(self, model: Any) -> bool:
        return defined_in(model, self.package) and self.accepts_object(
            model, importlib.import_module(self.package)
        )

    @abstractmethod
    def accepts_object(self, model: Any, library: ModuleType) -> bool:
        """Whether this writer handles ``model`` (``library`` is the writer's package, imported)."""

    @abstractmethod
    def write(self, model: Any, *, model_dir: Path) -> Written: ...


def defined_in(model: Any, package: str) -> bool:
    return any(cls.__module__.split(".", 1)[0] == package for cls in type(model).__mro__)


def pyfunc_conf(loader_module: str, **conf: Any) -> dict[str, Any]:
    return {
        "loader_module": loader_module,
        "python_version": platform.python_version(),
        "env": {"virtualenv": ENV_FILE},
        **conf,
    }


def pinned(*distributions: str) -> list[str]:
    """``name==version`` for each installed distribution (local labels like ``+cpu`` dropped, as
    MLflow does, so the line installs from PyPI)."""
    pins = []
    for dist in distributions:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        pins.append(f"{dist}=={version.split('+', 1)[0]}")
    return pins


def _pickle_to(model: Any, path: Path) -> str:
    """Pickle ``model``; cloudpickle (when installed) for what pickle cannot (lambdas, local classes)."""
    try:
        payload, fmt = pickle.dumps(model), "pickle"
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        try:
            import cloudpickle
        except ImportError:
            raise InvalidParameter(
                f"cannot pickle the model ({exc}); pip install cloudpickle may help"
            ) from exc
        payload, fmt = cloudpickle.dumps(model), "cloudpickle"
    path.write_bytes(payload)
    return fmt


class SklearnWriter(FlavorWriter):
    flavor = "sklearn"
    package = "sklearn"

    def accepts_object(self, model: Any, library: ModuleType) -> bool:
        return callable(getattr(model, "predict", None))

    def write(self, model: Any, *, model_dir: Path) -> Written:
        import sklearn

        fmt = _pickle_to(model, model_dir / "model.pkl")
        return Written(
            flavors={
                self.flavor: {
                    "pickled_model": "model.pkl",
                    "serialization_format": fmt,
                    "sklearn_version": str(sklearn.__version__),
                    "code": None,
                },
                PYFUNC_FLAVOR: pyfunc_conf("mlflow.sklearn", model_path="model.pkl", predict_fn="predict"),
            },
            requirements=pinned(
                "scikit-learn", "numpy", "scipy", *(["cloudpickle"] if fmt == "cloudpickle" else [])
            ),
        )


class XGBoostWriter(FlavorWriter):
    flavor = "xgboost"
    package = "xgboost"

    def accepts_object(self, model: Any, library: ModuleType) -> bool:
        return isinstance(model, library.Booster | library.XGBModel)

    def write(self, model: Any, *, model_dir: Path) -> Written:
        import xgboost

        model.save_model(str(model_dir / "model.ubj"))
        cls = type(model)
        return Written(
            flavors={
                self.flavor: {
                    "data": "model.ubj",
                    "model_class": f"{cls.__module__}.{cls.__qualname__}",
                    "model_format": "ubj",
                    "xgb_version": str(xgboost.__version__),
                    "code": None,
                },
                PYFUNC_FLAVOR: pyfunc_conf("mlflow.xgboost", data="model.ubj"),
            },
            requirements=pinned("xgboost-cpu", "xgboost", "numpy", "scipy")
            + (pinned("scikit-learn") if not isinstance(model, xgboost.Booster) else []),
        )


class LightGBMWriter(FlavorWriter):
    flavor = "lightgbm"
    package = "lightgbm"

    def accepts_object(self, model: Any, library: ModuleType) -> bool:
        return isinstance(model, library.Booster | library.LGBMModel)

    def write(self, model: Any, *, model_dir: Path) -> Written:
        import lightgbm

        cls = type(model)
        conf: dict[str, Any] = {"model_class": f"{cls.__module__}.{cls.__qualname__}", "code": None}
        if isinstance(model, lightgbm.Booster):
            model.save_model(str(model_dir / "model.lgb"))
            conf["data"] = "model.lgb"
            extra: list[str] = []
        else:
            conf["serialization_format"] = _pickle_to(model, model_dir / "model.pkl")
            conf["data"] = "model.pkl"
            extra = pinned("scikit-learn")
        conf["lgb_version"] = str(lightgbm.__version__)
        return Written(
            flavors={self.flavor: conf, PYFUNC_FLAVOR: pyfunc_conf("mlflow.lightgbm", data=conf["data"])},
            requirements=pinned("lightgbm", "numpy", "scipy") + extra,
        )


class OnnxWriter(FlavorWriter):
    flavor = "onnx"
    package = "onnx"

    def accepts_object(self, model: Any, library: ModuleType) -> bool:
        return isinstance(model, library.ModelProto)

    def write(self, model: Any, *, model_dir: Path) -> Written:
        import onnx

        onnx.checker.check_model(model)
        onnx.save_model(model, str(model_dir / "model.onnx"))
        return Written(
            flavors={
                self.flavor: {
                    "data": "model.onnx",
                    "onnx_version": str(onnx.__version__),
                    "providers": ["CPUExecutionProvider"],
                    "onnx_session_options": None,
                    "code": None,
                },
                PYFUNC_FLAVOR: pyfunc_conf("mlflow.onnx", data="model.onnx"),
            },
            requirements=pinned("onnx", "onnxruntime", "numpy"),
        )


class PyTorchWriter(FlavorWriter):
    """Saves TorchScript (``torch.jit.save``): it loads without the model's Python class. A plain
    ``nn.Module`` is compiled with ``torch.jit.script``; when that fails, trace it yourself.
    (torch 2.13 deprecates TorchScript for ``torch.export``; the loader reads both.)"""

    flavor = "pytorch"
    package = "torch"

    def accepts_object(self, model: Any, library: ModuleType) -> bool:
        return isinstance(model, library.nn.Module)

    def write(self, model: Any, *, model_dir: Path) -> Written:
        import torch

        scripted = model
        if not isinstance(model, torch.jit.ScriptModule):
            try:
                with torchscript_deprecation_silenced():
                    scripted = torch.jit.script(model)
            except Exception as exc:  # TorchScript's compiler raises many error types
                raise InvalidParameter(
                    f"cannot compile this {type(model).__name__} to TorchScript ({exc}); log "
                    "torch.jit.trace(model, example_input) or torch.jit.script(model) instead"
                ) from exc
        data = model_dir / "data"
        data.mkdir()
        with torchscript_deprecation_silenced():
            torch.jit.save(scripted, str(data / "model.pth"))
        pickle_module = "mlflow.pytorch.pickle_module"  # what MLflow's loader expects beside model.pth
        (data / "pickle_module_info.txt").write_text(pickle_module)
        return Written(
            flavors={
                self.flavor: {"model_data": "data", "pytorch_version": str(torch.__version__), "code": None},
                PYFUNC_FLAVOR: pyfunc_conf("mlflow.pytorch", data="data", pickle_module_name=pickle_module),
            },
            requirements=pinned("torch", "numpy"),
        )


def native_writers() -> list[FlavorWriter]:
    """In detection order: the gradient-boosting libraries before scikit-learn, whose base classes
    they extend."""
    return [XGBoostWriter(), LightGBMWriter(), OnnxWriter(), PyTorchWriter(), SklearnWriter()]


def env_file(requirements_file: str) -> str:
    """python_env.yaml as MLflow writes it: the Python version, the build tools, the requirements."""
    build = pinned("pip", "setuptools", "wheel")
    lines = [f"python: {platform.python_version()}", "build_dependencies:"]
    lines += [f"- {pin}" for pin in build] or ["- pip"]
    lines += ["dependencies:", f"- -r {requirements_file}", ""]
    return "\n".join(lines)
