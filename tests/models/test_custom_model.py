"""Custom model classes (Seldon language-wrapper style): packaged with their code, loaded isolated."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.domain.errors import InvalidParameter
from modelyard.models import load_model, save_model
from modelyard.serving.flavors import read_model_spec

SCORER = '''
from helpers import scale


class Scorer:
    """Scores rows as their scaled sum; class names and Seldon hooks included."""

    def __init__(self, factor):
        self.factor = factor
        self.loaded = False

    def load(self):
        self.loaded = True

    def predict(self, X, feature_names):
        self.last_names = list(feature_names)
        return scale(X, self.factor).sum(axis=1)

    def predict_proba(self, X):
        return [[0.25, 0.75] for _ in X]

    def class_names(self):
        return ["no", "yes"]

    def tags(self):
        return {"loaded": self.loaded, "factor": self.factor}

    def metrics(self):
        return [{"key": "calls", "type": "COUNTER", "value": 1}]

    def health_status(self):
        return {"ok": self.loaded}
'''
HELPERS = "import numpy as np\n\n\ndef scale(X, factor):\n    return np.asarray(X, dtype=float) * factor\n"


@pytest.fixture
def import_code() -> Iterator[Callable[[Path, str], Any]]:
    """Import a module from a directory the way a user's script would; forget it afterwards."""
    before = set(sys.modules)
    added: list[str] = []

    def do(directory: Path, module: str) -> Any:
        sys.path.insert(0, str(directory))
        added.append(str(directory))
        importlib.invalidate_caches()
        return importlib.import_module(module)

    yield do
    for entry in added:
        sys.path.remove(entry)
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write_code(root: Path, *, scorer: str = SCORER) -> Path:
    root.mkdir(parents=True)
    (root / "scorer.py").write_text(textwrap.dedent(scorer))
    (root / "helpers.py").write_text(HELPERS)
    return root


def test_custom_class_with_code_dir(tmp_path: Path, import_code: Callable[[Path, str], Any]) -> None:
    code = write_code(tmp_path / "src")
    model = import_code(code, "scorer").Scorer(factor=2.0)
    x = np.array([[1.0, 2.0], [3.0, 4.0]])

    save_model(model, tmp_path / "m", input_example=x, code_dir=code)
    for name in ("scorer", "helpers"):  # the loader must import the packaged copy, not these
        del sys.modules[name]
    path_before, modules_before = list(sys.path), set(sys.modules)

    spec = read_model_spec(tmp_path / "m")
    assert spec.flavor("modelyard_custom")["class"] == "scorer:Scorer"
    assert {p.name for p in (tmp_path / "m" / "code").iterdir()} == {"scorer.py", "helpers.py"}
    loaded = load_model(tmp_path / "m")

    assert sys.path == path_before and "scorer" not in sys.modules and set(sys.modules) >= modules_before
    np.testing.assert_allclose(loaded.predict(x), [6.0, 14.0])
    caps = loaded.capabilities
    assert caps.class_names == ("no", "yes")
    assert caps.supports_proba and caps.custom_tags and caps.custom_metrics and caps.custom_health
    assert loaded.tags() == {"loaded": True, "factor": 2.0}  # state restored, then load() called
    assert loaded.metrics() == [{"key": "calls", "type": "COUNTER", "value": 1}]
    assert loaded.health_status() == {"ok": True}
    assert loaded.predict_proba(x) == [[0.25, 0.75], [0.25, 0.75]]


def test_dataframe_columns_become_feature_names(
    tmp_path: Path, import_code: Callable[[Path, str], Any]
) -> None:
    import pandas as pd

    code = write_code(tmp_path / "src")
    save_model(import_code(code, "scorer").Scorer(factor=1.0), tmp_path / "m", code_dir=code)

    loaded = load_model(tmp_path / "m")
    frame = pd.DataFrame({"a": [1.0], "b": [2.0]})
    np.testing.assert_allclose(loaded.predict(frame), [3.0])
    assert loaded.obj.last_names == ["a", "b"]  # type: ignore[attr-defined]


def test_two_models_with_the_same_module_name_stay_apart(
    tmp_path: Path, import_code: Callable[[Path, str], Any]
) -> None:
    for n, factor in ((1, 1.0), (2, 10.0)):
        code = write_code(
            tmp_path / f"src{n}", scorer=SCORER.replace("self.factor).sum", f"self.factor + {n}).sum")
        )
        save_model(import_code(code, "scorer").Scorer(factor=factor), tmp_path / f"m{n}", code_dir=code)
        for name in ("scorer", "helpers"):
            del sys.modules[name]

    one, two = load_model(tmp_path / "m1"), load_model(tmp_path / "m2")
    x = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(one.predict(x), [2 * (1.0 * 1 + 1)])
    np.testing.assert_allclose(two.predict(x), [2 * (1.0 * 10 + 2)])


def test_single_source_file_and_stateless_class(
    tmp_path: Path, import_code: Callable[[Path, str], Any]
) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "echo_model.py").write_text(
        "class Echo:\n    def predict(self, X, feature_names):\n        return X\n"
    )
    save_model(import_code(code, "echo_model").Echo(), tmp_path / "m")

    assert [p.name for p in (tmp_path / "m" / "code").iterdir()] == ["echo_model.py"]
    assert "state" not in read_model_spec(tmp_path / "m").flavor("modelyard_custom")
    loaded = load_model(tmp_path / "m")
    assert loaded.predict([[1, 2]]) == [[1, 2]]
    assert not loaded.capabilities.supports_proba and loaded.capabilities.class_names is None
    assert loaded.tags() == {} and loaded.metrics() == [] and loaded.health_status() is None


def test_unpicklable_attribute_is_named(tmp_path: Path, import_code: Callable[[Path, str], Any]) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "locked.py").write_text(
        "import threading\n\n\nclass Locked:\n    def __init__(self):\n        self.lock = threading.Lock()\n"
        "        self.weights = [1, 2]\n\n    def predict(self, X, feature_names):\n        return X\n"
    )
    with pytest.raises(InvalidParameter, match=r"attribute\(s\) \['lock'\].*create them in load\(\)"):
        save_model(import_code(code, "locked").Locked(), tmp_path / "m")


def test_class_outside_code_dir_is_refused(tmp_path: Path, import_code: Callable[[Path, str], Any]) -> None:
    code = write_code(tmp_path / "src")
    other = tmp_path / "elsewhere"
    other.mkdir()
    with pytest.raises(InvalidParameter, match="outside code_dir"):
        save_model(import_code(code, "scorer").Scorer(factor=1.0), tmp_path / "m", code_dir=other)
