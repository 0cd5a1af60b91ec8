"""The registry of flavor loaders: which loader serves a model directory.

``FlavorRegistry`` holds loaders by flavor name; ``loader_for(spec)`` picks, among the flavors the
MLmodel lists, the one with a loader and the lowest ``preference`` (a native flavor before
``python_function``; MLmodel order breaks ties). ``default_registry()`` builds one with every
built-in loader; a caller (the model server, a test) builds its own and may register more.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import ModelSpec
from modelyard.serving.flavors.base import FlavorLoader, LoadedModel, UnsupportedFlavor, read_model_spec
from modelyard.serving.flavors.custom import CustomLoader
from modelyard.serving.flavors.lightgbm import LightGBMLoader
from modelyard.serving.flavors.onnx import OnnxLoader
from modelyard.serving.flavors.pyfunc import PyfuncLoader
from modelyard.serving.flavors.pytorch import PyTorchLoader
from modelyard.serving.flavors.sklearn import SklearnLoader
from modelyard.serving.flavors.xgboost import XGBoostLoader


class FlavorRegistry:
    def __init__(self, loaders: Iterable[FlavorLoader] = ()) -> None:
        self._loaders: dict[str, FlavorLoader] = {}
        for loader in loaders:
            self.register(loader)

    def register(self, loader: FlavorLoader) -> None:
        if loader.flavor in self._loaders:
            raise ValueError(f"a loader for flavor {loader.flavor!r} is already registered")
        self._loaders[loader.flavor] = loader

    @property
    def flavors(self) -> tuple[str, ...]:
        return tuple(sorted(self._loaders))

    def get(self, flavor: str) -> FlavorLoader:
        try:
            return self._loaders[flavor]
        except KeyError:
            raise UnsupportedFlavor(
                f"flavor {flavor!r} is not supported; supported flavors: {', '.join(self.flavors)}"
            ) from None

    def loader_for(self, spec: ModelSpec) -> FlavorLoader:
        candidates = [self._loaders[name] for name in spec.flavors if name in self._loaders]
        if not candidates:
            raise UnsupportedFlavor(
                f"the model's flavors ({', '.join(spec.flavors)}) are not supported; "
                f"supported flavors: {', '.join(self.flavors)}"
            )
        return min(candidates, key=lambda loader: loader.preference)  # min is stable: MLmodel order

    def load(self, model_dir: str | Path, *, flavor: str | None = None) -> LoadedModel:
        """Read the model directory's MLmodel and load it with ``flavor`` or the preferred loader."""
        root = Path(model_dir)
        spec = read_model_spec(root)
        if flavor is not None and flavor not in spec.flavors:
            raise InvalidParameter(f"the model has no {flavor!r} flavor (it has: {', '.join(spec.flavors)})")
        loader = self.get(flavor) if flavor is not None else self.loader_for(spec)
        return loader.load(model_dir=root, spec=spec)


def default_registry() -> FlavorRegistry:
    return FlavorRegistry(
        [
            CustomLoader(),
            SklearnLoader(),
            XGBoostLoader(),
            LightGBMLoader(),
            OnnxLoader(),
            PyTorchLoader(),
            PyfuncLoader(),
        ]
    )


def load_model(
    model_dir: str | Path, *, flavor: str | None = None, registry: FlavorRegistry | None = None
) -> LoadedModel:
    """Load a model directory with the built-in loaders (or ``registry``)."""
    return (registry or default_registry()).load(model_dir, flavor=flavor)
