"""The ``xgboost`` flavor: a model saved with XGBoost's own ``save_model`` (json, ubj or legacy binary).

``model_class`` says what to rebuild: ``xgboost.core.Booster`` (predicts on a DMatrix) or one of the
scikit-learn-style classes (``xgboost.sklearn.XGBClassifier``...). Only classes from the xgboost
package are instantiated.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import ModelSpec
from modelyard.serving.flavors.base import Capabilities, FlavorLoader, LoadedModel, ModelLoadError
from modelyard.serving.flavors.inputs import is_dataframe
from modelyard.serving.flavors.sklearn import EstimatorModel

BOOSTER_CLASS = "xgboost.core.Booster"


class XGBoosterModel(LoadedModel):
    def __init__(self, booster: Any, xgb: Any, *, spec: ModelSpec) -> None:
        self.booster = booster
        self._dmatrix = xgb.DMatrix
        names = booster.feature_names
        super().__init__(
            flavor="xgboost",
            spec=spec,
            capabilities=Capabilities(feature_names=tuple(names) if names else None),
        )

    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        import numpy as np

        data = inputs if is_dataframe(inputs) else np.asarray(inputs)
        return self.booster.predict(self._dmatrix(data, feature_names=self.capabilities.feature_names))


class XGBoostLoader(FlavorLoader):
    flavor = "xgboost"
    extra = "xgboost"
    preference = 20

    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        xgb = self.library("xgboost", package="xgboost-cpu")
        conf = self.conf(spec)
        path = self.model_file(model_dir, conf, "data")
        model_class = str(conf.get("model_class") or BOOSTER_CLASS)
        module_name, _, class_name = model_class.rpartition(".")
        if module_name.split(".")[0] != "xgboost":
            raise InvalidParameter(
                f"MLmodel field 'flavors.xgboost.model_class' is {model_class!r}; it must be an xgboost class"
            )
        cls = getattr(self.library(module_name, package="xgboost-cpu"), class_name, None)
        if not isinstance(cls, type):
            raise ModelLoadError(f"xgboost {xgb.__version__} has no class {model_class}")
        model = cls()
        try:
            model.load_model(str(path))
        except xgb.core.XGBoostError as exc:
            raise ModelLoadError(f"xgboost could not load {path}: {exc}") from exc
        if model_class == BOOSTER_CLASS:
            return XGBoosterModel(model, xgb, spec=spec)
        return EstimatorModel(model, flavor=self.flavor, spec=spec)
