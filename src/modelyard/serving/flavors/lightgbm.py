"""The ``lightgbm`` flavor: a ``Booster`` in LightGBM's text format, or a scikit-learn-style
``LGBMModel`` serialized like the sklearn flavor (``serialization_format``: pickle, cloudpickle, skops)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelyard.domain.model_format import ModelSpec
from modelyard.serving.flavors.base import Capabilities, FlavorLoader, LoadedModel
from modelyard.serving.flavors.sklearn import EstimatorModel, load_estimator

BOOSTER_CLASS = "lightgbm.basic.Booster"


class LGBMBoosterModel(LoadedModel):
    def __init__(self, booster: Any, *, spec: ModelSpec) -> None:
        self.booster = booster
        names = booster.feature_name()
        super().__init__(
            flavor="lightgbm",
            spec=spec,
            capabilities=Capabilities(feature_names=tuple(names) if names else None),
        )

    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.booster.predict(inputs)


class LightGBMLoader(FlavorLoader):
    flavor = "lightgbm"
    extra = "lightgbm"
    preference = 20

    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        lgb = self.library("lightgbm")
        conf = self.conf(spec)
        path = self.model_file(model_dir, conf, "data")
        if str(conf.get("model_class") or BOOSTER_CLASS) == BOOSTER_CLASS:
            return LGBMBoosterModel(lgb.Booster(model_file=str(path)), spec=spec)
        model = load_estimator(path, conf, flavor=self.flavor, extra=self.extra)
        return EstimatorModel(model, flavor=self.flavor, spec=spec)
