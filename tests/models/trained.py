"""Real models trained in fixtures: tiny (iris, a few trees) so the whole set trains in about a second.

Imported by the conftests of tests/models and tests/serving.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest


@dataclass(frozen=True)
class Iris:
    X: pd.DataFrame
    y: pd.Series

    @property
    def array(self) -> np.ndarray:
        return self.X.to_numpy()

    @property
    def array32(self) -> np.ndarray:
        return self.X.to_numpy(dtype=np.float32)


@pytest.fixture(scope="session")
def iris() -> Iris:
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True, as_frame=True)
    return Iris(X=features, y=labels)


@pytest.fixture(scope="session")
def sk_model(iris: Iris) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300).fit(iris.X, iris.y)


@pytest.fixture(scope="session")
def xgb_model(iris: Iris) -> Any:
    import xgboost as xgb

    return xgb.XGBClassifier(n_estimators=4, max_depth=2, n_jobs=1).fit(iris.X, iris.y)


@pytest.fixture(scope="session")
def xgb_booster(iris: Iris) -> Any:
    import xgboost as xgb

    data = xgb.DMatrix(iris.array, label=iris.y.to_numpy())
    return xgb.train({"max_depth": 2, "nthread": 1}, data, num_boost_round=4)


@pytest.fixture(scope="session")
def lgb_model(iris: Iris) -> Any:
    import lightgbm as lgb

    return lgb.LGBMClassifier(n_estimators=4, num_leaves=4, n_jobs=1, verbose=-1).fit(iris.X, iris.y)


@pytest.fixture(scope="session")
def lgb_booster(iris: Iris) -> Any:
    import lightgbm as lgb

    data = lgb.Dataset(iris.array, label=iris.y.to_numpy())
    return lgb.train({"num_leaves": 4, "num_threads": 1, "verbose": -1}, data, num_boost_round=4)


@pytest.fixture(scope="session")
def onnx_model(iris: Iris) -> Any:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    plain = LogisticRegression(max_iter=300).fit(iris.array32, iris.y)
    return to_onnx(plain, iris.array32[:1], options={"zipmap": False}, target_opset=17)


@pytest.fixture(scope="session")
def torch_module() -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()


@pytest.fixture(scope="session")
def torch_script(torch_module: Any) -> Any:
    import torch

    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; it still loads everywhere
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(torch_module)


def torch_predict(module: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return module(torch.tensor(np.array(x), dtype=torch.float32)).numpy()
