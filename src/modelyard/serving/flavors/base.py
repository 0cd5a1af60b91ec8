"""The contract between the serving runtime and the model libraries: ``FlavorLoader`` and ``LoadedModel``.

A loader knows one flavor of the MLmodel format and the pip extra that installs its library; it
imports that library only inside ``load`` (through ``import_library``, which turns a missing library
into a ``MissingFlavorLibrary`` naming the extra). A loaded model declares what it can do in
``Capabilities`` once, at load time, so callers never probe it.

``predict`` takes what the serving side decodes a request into: a numpy array, a pandas DataFrame,
or a mapping of input name to array. It returns array-like results (a numpy array; models with
several named outputs may return a mapping or a DataFrame).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from modelyard.domain.errors import InvalidParameter, NotFound, NotImplementedFeature
from modelyard.domain.model_format import (
    MLMODEL_FILE,
    REQUIREMENTS_FILE,
    ModelSpec,
    parse_mlmodel,
    parse_requirements,
)
from modelyard.serving.packages import missing


class UnsupportedFlavor(InvalidParameter):
    """None of the model's flavors has a loader here."""


class MissingFlavorLibrary(NotImplementedFeature):
    """The flavor's library is not installed; the message names the pip extra that installs it."""

    def __init__(self, message: str, *, flavor: str, extra: str | None) -> None:
        super().__init__(message)
        self.flavor = flavor
        self.extra = extra


class ModelLoadError(InvalidParameter):
    """The model's files are there but its library could not load them (corrupt, wrong version...)."""


@dataclass(frozen=True)
class Capabilities:
    """What a loaded model can do, declared at load time.

    ``feature_names``: the input columns the model was fitted with, when it knows them.
    ``class_names``: names of the outputs of ``predict_proba`` (or of a custom model's outputs).
    ``custom_tags``/``custom_metrics``/``custom_health``: a custom model answers ``tags()``,
    ``metrics()`` and ``health_status()`` itself (Seldon wrapper style).
    """

    supports_proba: bool = False
    supports_params: bool = False
    class_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    custom_tags: bool = False
    custom_metrics: bool = False
    custom_health: bool = False


class LoadedModel(ABC):
    """A model in memory, ready to predict. Built by a FlavorLoader; thread-safety is the library's."""

    def __init__(self, *, flavor: str, spec: ModelSpec, capabilities: Capabilities) -> None:
        self.flavor = flavor
        self.spec = spec
        self.capabilities = capabilities

    @abstractmethod
    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        """Predict for a batch. ``params`` reach models with ``supports_params``; others ignore them,
        as MLflow does."""

    def predict_proba(self, inputs: Any) -> Any:
        """Class probabilities, one row per input row; only when ``capabilities.supports_proba``."""
        if not self.capabilities.supports_proba:
            raise NotImplementedFeature(f"this {self.flavor} model has no predict_proba")
        return self._predict_proba(inputs)

    def _predict_proba(self, inputs: Any) -> Any:
        raise NotImplementedFeature(f"this {self.flavor} model has no predict_proba")

    def tags(self) -> dict[str, Any]:
        """Tags to merge into a response's ``meta`` (custom models)."""
        return {}

    def metrics(self) -> list[dict[str, Any]]:
        """Custom metrics ``[{"key", "type", "value"}]`` after a prediction (custom models)."""
        return []

    def health_status(self) -> Any:
        """A custom model's own health answer; None when it has none."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} flavor={self.flavor!r} uuid={self.spec.model_uuid!r}>"


class FlavorLoader(ABC):
    """Loads models of one flavor. ``extra`` is the pip extra installing its libraries (None when
    nothing beyond modelyard is needed); ``preference``: lower wins when a model has several flavors."""

    flavor: ClassVar[str]
    extra: ClassVar[str | None]
    preference: ClassVar[int] = 50

    @abstractmethod
    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        """Load the model in ``model_dir`` whose MLmodel is ``spec`` (which has this flavor)."""

    def library(self, module: str, *, package: str | None = None) -> ModuleType:
        """Import ``module`` for this flavor, or fail naming the extra to install."""
        return import_library(module, flavor=self.flavor, extra=self.extra, package=package)

    def conf(self, spec: ModelSpec) -> Mapping[str, Any]:
        return spec.flavor(self.flavor)

    def model_file(self, model_dir: Path, conf: Mapping[str, Any], *keys: str) -> Path:
        """The file named by the first of ``keys`` present in the flavor config; it must exist."""
        for key in keys:
            name = conf.get(key)
            if isinstance(name, str) and name:
                path = model_dir / name
                if not path.exists():
                    raise ModelLoadError(
                        f"the {self.flavor} flavor names '{name}' (flavors.{self.flavor}.{key}) "
                        f"but {path} does not exist"
                    )
                return path
        raise InvalidParameter(f"MLmodel field 'flavors.{self.flavor}.{keys[0]}' is required")


def import_library(module: str, *, flavor: str, extra: str | None, package: str | None = None) -> ModuleType:
    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as exc:  # OSError: a wheel whose native library cannot load
        needed = getattr(exc, "name", None) or module
        if (
            needed.split(".")[0] != module.split(".", maxsplit=1)[0]
        ):  # the library is there; one it imports is not
            raise MissingFlavorLibrary(
                f"loading a model with the '{flavor}' flavor needs {package or module}, which cannot be "
                f"imported here: {missing(needed, what=package or module)}",
                flavor=flavor,
                extra=extra,
            ) from exc
        how = f"pip install 'modelyard[{extra}]'" if extra else f"pip install {package or module}"
        raise MissingFlavorLibrary(
            f"loading a model with the '{flavor}' flavor needs {package or module}, which is not "
            f"available here ({exc}); install it with: {how}",
            flavor=flavor,
            extra=extra,
        ) from exc


def read_model_spec(model_dir: str | Path) -> ModelSpec:
    """Read ``model_dir/MLmodel`` (and the requirements.txt beside it, if any)."""
    root = Path(model_dir)
    path = root / MLMODEL_FILE
    if not path.is_file():
        where = "does not exist" if not root.exists() else "has no MLmodel file"
        raise NotFound(f"model directory {root} {where}: a model directory holds an MLmodel file")
    spec = parse_mlmodel(path.read_text(encoding="utf-8"))
    requirements = root / REQUIREMENTS_FILE
    if requirements.is_file():
        spec = replace(spec, requirements=parse_requirements(requirements.read_text(encoding="utf-8")))
    return spec
