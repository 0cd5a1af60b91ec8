"""The ``sklearn`` flavor: a pickled (pickle, cloudpickle) or skops-serialized scikit-learn estimator."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import ModelSpec
from modelyard.serving.flavors.base import Capabilities, FlavorLoader, LoadedModel, import_library
from modelyard.serving.flavors.inputs import FeatureAligner
from modelyard.serving.flavors.skops_io import import_skops_io

SERIALIZATION_FORMATS = ("pickle", "cloudpickle", "skops")


class EstimatorModel(LoadedModel):
    """Any model with scikit-learn's API (``predict``, maybe ``predict_proba``, ``classes_``)."""

    def __init__(self, model: Any, *, flavor: str, spec: ModelSpec) -> None:
        self.model = model
        self._align = FeatureAligner.for_model(model)
        super().__init__(flavor=flavor, spec=spec, capabilities=estimator_capabilities(model, self._align))

    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.model.predict(self._align(inputs))

    def _predict_proba(self, inputs: Any) -> Any:
        return self.model.predict_proba(self._align(inputs))


def estimator_capabilities(model: Any, align: FeatureAligner) -> Capabilities:
    # Declared once here from scikit-learn's conventions, so nobody probes the model later.
    classes = getattr(model, "classes_", None)
    return Capabilities(
        supports_proba=callable(getattr(model, "predict_proba", None)),
        class_names=tuple(str(c) for c in classes) if classes is not None else None,
        feature_names=align.feature_names,
    )


def load_estimator(path: Path, conf: Mapping[str, Any], *, flavor: str, extra: str | None) -> Any:
    """Deserialize per ``conf['serialization_format']`` (MLflow's default when absent: pickle)."""
    fmt = conf.get("serialization_format", "pickle")
    if fmt not in SERIALIZATION_FORMATS:
        raise InvalidParameter(
            f"MLmodel field 'flavors.{flavor}.serialization_format' is {fmt!r}; "
            f"expected one of {', '.join(SERIALIZATION_FORMATS)}"
        )
    if fmt == "skops":
        skops_io = import_skops_io(flavor=flavor, extra=extra)
        trusted = conf.get("skops_trusted_types")
        return skops_io.load(path, trusted=list(trusted) if trusted else None)
    if fmt == "cloudpickle":  # cloudpickle's output needs cloudpickle importable to unpickle
        import_library("cloudpickle", flavor=flavor, extra=extra)
    with path.open("rb") as f:
        return pickle.load(f)  # a model file is code its owner chose to run


class SklearnLoader(FlavorLoader):
    flavor = "sklearn"
    extra = "sklearn"
    preference = 20

    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        self.library("sklearn", package="scikit-learn")
        conf = self.conf(spec)
        path = self.model_file(model_dir, conf, "pickled_model")
        model = load_estimator(path, conf, flavor=self.flavor, extra=self.extra)
        return EstimatorModel(model, flavor=self.flavor, spec=spec)
