"""Models and clients for the serving runtime's tests (fixtures only: this module has no tests).

Real models: the iris LogisticRegression (saved by modelyard with its input example, so it has a
column signature), and custom Seldon-style classes written into a model directory by hand: a
scorer with class names, tags, custom metrics, health and feedback; a model with a typed signature
(double, long, string columns and a parameter); a float32 tensor model; a sleeper for drain tests.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelyard.models import save_model
from modelyard.serving.dataplane import DataPlane, SeldonMethod
from modelyard.serving.rest import DEFAULT_MAX_BODY, ServingApp
from modelyard.serving.runtime import ModelRuntime, RuntimeOptions
from tests.models.trained import Iris

IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]

SCORER = """
import numpy as np


class Scorer:
    def __init__(self):
        self.calls = 0
        self.names = []
        self.feedback = []

    def predict(self, X, feature_names):
        if isinstance(X, str):
            return X.upper()
        if isinstance(X, bytes):
            return X[::-1]
        if isinstance(X, dict):
            return {"keys": sorted(X)}
        self.calls += 1
        self.names = list(feature_names)
        X = np.asarray(X, dtype=float)
        if (X < 0).any():
            raise RuntimeError("negative values break this model")
        if (X > 1000).any():
            raise ValueError("values above 1000 are out of range")
        total = X.sum(axis=1)
        return np.column_stack([total, total * 2])

    def class_names(self):
        return ["sum", "double"]

    def tags(self):
        return {"model": "scorer", "features": self.names}

    def metrics(self):
        return [
            {"key": "scorer_calls", "type": "COUNTER", "value": 1},
            {"key": "scorer_total_calls", "type": "GAUGE", "value": self.calls},
        ]

    def health_status(self):
        return {"healthy": True, "calls": self.calls}

    def send_feedback(self, features, feature_names, reward, truth):
        self.feedback.append(reward)
        return None
"""

TYPED = """
import numpy as np


class Typed:
    def predict(self, X, feature_names):
        # X comes as an array with the column names beside it
        names = list(feature_names)
        a = X[:, names.index("a")].astype(float)
        b = X[:, names.index("b")].astype(float)
        return a + b
"""

TENSOR = """
import numpy as np


class Tensor:
    def predict(self, X, feature_names):
        return np.asarray(X).sum(axis=1).astype("float32")
"""

SLEEPER = """
import time

import numpy as np


class Sleeper:
    def predict(self, X, feature_names):
        X = np.asarray(X, dtype=float)
        time.sleep(float(X[0][0]))
        return X[:, 0]
"""


def custom_model(
    root: Path, source: str, cls: str, *, signature: dict[str, Any] | None = None, example: Any = None
) -> Path:
    """A ``modelyard_custom`` model directory with ``cls`` from ``source`` (no pickled state)."""
    (root / "code").mkdir(parents=True)
    module = cls.lower()
    (root / "code" / f"{module}.py").write_text(textwrap.dedent(source))
    lines = [
        "flavors:",
        "  modelyard_custom:",
        "    code: code",
        f"    class: {module}:{cls}",
    ]
    if signature is not None:
        lines.append("signature:")
        lines += [f"  {key}: '{json.dumps(value)}'" for key, value in signature.items()]
    if example is not None:
        (root / "serving_input_example.json").write_text(json.dumps(example))
        (root / "input_example.json").write_text(json.dumps(example))
        lines += [
            "saved_input_example_info:",
            "  artifact_path: input_example.json",
            "  serving_input_path: serving_input_example.json",
            "  type: json_object",
        ]
    (root / "MLmodel").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="session")
def iris_dir(tmp_path_factory: pytest.TempPathFactory, iris: Iris, sk_model: Any) -> Path:
    path = tmp_path_factory.mktemp("serving") / "iris"
    save_model(sk_model, path, input_example=iris.X.head(2))
    return path


@pytest.fixture(scope="session")
def scorer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return custom_model(tmp_path_factory.mktemp("serving") / "scorer", SCORER, "Scorer")


@pytest.fixture(scope="session")
def typed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    signature = {
        "inputs": [
            {"type": "double", "name": "a", "required": True},
            {"type": "long", "name": "b", "required": True},
            {"type": "string", "name": "c", "required": True},
        ],
        "params": [{"name": "threshold", "type": "double", "default": 0.5, "shape": None}],
    }
    example = {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1.5, 2, "x"]]}}
    return custom_model(
        tmp_path_factory.mktemp("serving") / "typed", TYPED, "Typed", signature=signature, example=example
    )


@pytest.fixture(scope="session")
def tensor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    signature = {"inputs": [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]}
    return custom_model(tmp_path_factory.mktemp("serving") / "tensor", TENSOR, "Tensor", signature=signature)


@pytest.fixture(scope="session")
def sleeper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    signature = {"inputs": [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 1]}}]}
    return custom_model(
        tmp_path_factory.mktemp("serving") / "sleeper", SLEEPER, "Sleeper", signature=signature
    )


@contextmanager
def serving(
    model_dir: Path,
    *,
    name: str = "m",
    version: str | None = None,
    options: RuntimeOptions | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    seldon_method: SeldonMethod = "predict",
) -> Iterator[tuple[TestClient, ModelRuntime]]:
    """The app over a loaded runtime, through a test client that runs its lifespan."""
    runtime = ModelRuntime(model_dir, name=name, version=version, options=options)
    runtime.load()
    app = ServingApp(DataPlane(runtime, seldon_method=seldon_method), max_body_bytes=max_body_bytes)
    with TestClient(app) as client:
        yield client, runtime
