"""Client-side model packaging: write a model object in the MLmodel format and log it to a run.

``log_model(model, name, run=...)`` detects the flavor from the object (scikit-learn, XGBoost,
LightGBM, ONNX, torch, or a custom class with ``predict(X, feature_names)``), writes the flavor
files, MLmodel, requirements and input example into a temporary directory (signature inferred from
the example when not given, checked against it when given) and uploads it through the ``Client``.
``load_model(local_dir)`` loads such a directory back with the serving side's flavor loaders.
"""

from modelyard.models.save import ModelInfo, log_model, save_model
from modelyard.models.signature import check_example, infer_signature
from modelyard.serving.flavors import LoadedModel, load_model

__all__ = [
    "LoadedModel",
    "ModelInfo",
    "check_example",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
