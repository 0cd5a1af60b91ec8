"""Flavor loaders: one registry that turns a model directory into a ``LoadedModel``.

Each loader (``sklearn``, ``xgboost``, ``lightgbm``, ``onnx``, ``pytorch``, ``python_function``,
``modelyard_custom``) imports its library only when it loads a model, and fails with the pip extra
to install when the library is missing. The serving runtime asks ``default_registry()`` (or a
registry of its own) for the loader of a model's preferred flavor.
"""

from modelyard.serving.flavors.base import (
    Capabilities,
    FlavorLoader,
    LoadedModel,
    MissingFlavorLibrary,
    ModelLoadError,
    UnsupportedFlavor,
    import_library,
    read_model_spec,
)
from modelyard.serving.flavors.registry import FlavorRegistry, default_registry, load_model

__all__ = [
    "Capabilities",
    "FlavorLoader",
    "FlavorRegistry",
    "LoadedModel",
    "MissingFlavorLibrary",
    "ModelLoadError",
    "UnsupportedFlavor",
    "default_registry",
    "import_library",
    "load_model",
    "read_model_spec",
]
