"""The ``modelyard_custom`` flavor: a user's Python class in the style of Seldon's language wrapper.

The class has ``predict(X, feature_names)``; optionally ``predict_proba(X)``, ``load()``,
``class_names()``, ``tags()``, ``metrics()`` and ``health_status()``. Its code directory is
packaged with the model. The flavor config:

    modelyard_custom:
      code: code              # directory with the class's module(s), put on sys.path while loading
      class: scorer:Scorer    # module:Class inside that directory
      state: state.pkl        # optional: the pickled attributes of the logged instance

Loading imports the class from the packaged code (isolated: see ``code_path``), rebuilds the
instance from its saved attributes without calling ``__init__`` (or calls ``Class()`` when there is
no state), then calls ``load()``. Which optional methods exist is read once here and declared in
the capabilities.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import ModelSpec
from modelyard.serving.flavors.base import Capabilities, FlavorLoader, LoadedModel, ModelLoadError
from modelyard.serving.flavors.code_path import packaged_code
from modelyard.serving.flavors.inputs import is_dataframe

FLAVOR = "modelyard_custom"


class CustomModel(LoadedModel):
    def __init__(self, obj: Any, *, spec: ModelSpec) -> None:
        self.obj = obj
        self._has = {m for m in ("predict_proba", "tags", "metrics", "health_status") if _callable(obj, m)}
        names = obj.class_names() if _callable(obj, "class_names") else None
        super().__init__(
            flavor=FLAVOR,
            spec=spec,
            capabilities=Capabilities(
                supports_proba="predict_proba" in self._has,
                class_names=tuple(str(n) for n in names) if names is not None else None,
                custom_tags="tags" in self._has,
                custom_metrics="metrics" in self._has,
                custom_health="health_status" in self._has,
            ),
        )

    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        if is_dataframe(inputs):
            return self.obj.predict(inputs.to_numpy(), [str(c) for c in inputs.columns])
        return self.obj.predict(inputs, [])

    def _predict_proba(self, inputs: Any) -> Any:
        return self.obj.predict_proba(inputs.to_numpy() if is_dataframe(inputs) else inputs)

    def tags(self) -> dict[str, Any]:
        return dict(self.obj.tags()) if "tags" in self._has else {}

    def metrics(self) -> list[dict[str, Any]]:
        return list(self.obj.metrics()) if "metrics" in self._has else []

    def health_status(self) -> Any:
        return self.obj.health_status() if "health_status" in self._has else None


class CustomLoader(FlavorLoader):
    flavor = FLAVOR
    extra = None
    preference = 10  # the user's own class says exactly how to serve the model

    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        conf = self.conf(spec)
        code = self.model_file(model_dir, conf, "code")
        module_name, class_name = parse_class_ref(conf.get("class"))
        state = conf.get("state")
        with packaged_code([code]):
            try:
                cls = getattr(importlib.import_module(module_name), class_name, None)
            except ImportError as exc:
                raise ModelLoadError(
                    f"cannot import {module_name} from the model's code ({code}): {exc}"
                ) from exc
            if not isinstance(cls, type):
                raise ModelLoadError(f"{module_name} in the model's code has no class {class_name}")
            if state:
                obj: Any = object.__new__(cls)
                with self.model_file(model_dir, conf, "state").open("rb") as f:
                    obj.__dict__.update(pickle.load(f))
            else:
                obj = cls()
            if not _callable(obj, "predict"):
                raise ModelLoadError(f"{module_name}:{class_name} has no predict(X, feature_names) method")
            if _callable(obj, "load"):
                obj.load()
        return CustomModel(obj, spec=spec)


def parse_class_ref(ref: Any) -> tuple[str, str]:
    module_name, sep, class_name = str(ref or "").partition(":")
    if not sep or not all(p.isidentifier() for p in (*module_name.split("."), class_name)):
        raise InvalidParameter(f"MLmodel field 'flavors.{FLAVOR}.class' must be 'module:Class', got {ref!r}")
    return module_name, class_name


def _callable(obj: Any, name: str) -> bool:
    # The user's class is duck-typed (as in Seldon); read once at load, declared in Capabilities.
    return callable(getattr(obj, name, None))
