"""The benchmark's models and what is sent to them and checked in their answers.

Owns Model (a model trained by train_models.py, with its request rows and local predictions), the request
body of each protocol, how predictions are read back out of each protocol's response, and the comparison
with the local predictions that every server must pass before it is timed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Model:
    name: str
    dir: Path
    n_features: int
    n_classes: int
    rows: dict[str, list[list[float]]]
    expected: dict[str, list[Any]]

    @property
    def mlflow_dir(self) -> Path:
        return self.dir / "mlflow"

    @property
    def mlserver_dir(self) -> Path:
        return self.dir / "mlserver"

    @property
    def joblib_path(self) -> Path:
        return self.dir / "mlserver" / self.name / "model.joblib"


def load_models(models_dir: Path, names: list[str]) -> list[Model]:
    out = []
    for name in names:
        d = models_dir / name
        spec = json.loads((d / "requests.json").read_text())
        out.append(Model(name, d, spec["n_features"], spec["n_classes"], spec["rows"], spec["expected"]))
    return out


def body_for(proto: str, rows: list[list[float]]) -> bytes:
    if proto in ("mlflow", "bare"):
        # the model's signature is a float64 tensor (-1, F): `inputs` is MLflow's tensor input form
        doc: Any = {"inputs": rows}
    elif proto == "mlflow-split":
        # what pandas' df.to_dict(orient="split") gives, the other common /invocations form
        doc = {"dataframe_split": {"columns": [f"f{i}" for i in range(len(rows[0]))], "data": rows}}
    elif proto == "v2":
        doc = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [len(rows), len(rows[0])],
                    "datatype": "FP64",
                    "data": [v for row in rows for v in row],
                }
            ]
        }
    elif proto == "seldon":
        doc = {"data": {"ndarray": rows}}
    else:
        raise ValueError(proto)
    return json.dumps(doc).encode()


def _flatten(x: Any) -> list[Any]:
    if isinstance(x, list):
        return [v for item in x for v in _flatten(item)]
    return [x]


def _reshape(flat: list[Any], shape: list[int]) -> Any:
    if len(shape) <= 1:
        return flat
    step = len(flat) // shape[0]
    return [_reshape(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def extract_predictions(proto: str, payload: Any) -> Any:
    if proto in ("mlflow", "mlflow-split", "bare"):
        return payload["predictions"]
    if proto == "v2":
        outs = payload["outputs"]
        out = next((o for o in outs if o.get("name") == "predict"), outs[0])
        data = out["data"]
        return _reshape(_flatten(data), list(out.get("shape") or [len(_flatten(data))]))
    if proto == "seldon":
        data = payload["data"]
        if "ndarray" in data:
            return data["ndarray"]
        t = data["tensor"]
        return _reshape(list(t["values"]), list(t["shape"]))
    raise ValueError(proto)


def check_predictions(got: Any, expected: list[Any], n_classes: int) -> tuple[bool, str]:
    """Labels must equal the local predictions; class probabilities are accepted (argmax compared)."""
    note = ""
    if isinstance(got, dict):  # e.g. {"predict": [...]} style outputs
        got = next(iter(got.values()))
    if (
        isinstance(got, list)
        and got
        and all(isinstance(r, list) for r in got)
        and all(len(r) == n_classes for r in got)
        and n_classes > 1
    ):
        got = [max(range(n_classes), key=r.__getitem__) for r in got]
        note = " (probabilities; argmax compared)"
    flat = _flatten(got)
    if len(flat) != len(expected):
        return False, f"{len(flat)} predictions, expected {len(expected)}"
    try:
        bad = sum(1 for a, b in zip(flat, expected, strict=True) if float(a) != float(b))
    except (TypeError, ValueError):
        bad = sum(1 for a, b in zip(flat, expected, strict=True) if str(a) != str(b))
    if bad:
        return False, f"{bad}/{len(expected)} predictions differ from the local model{note}"
    return True, "ok" + note
