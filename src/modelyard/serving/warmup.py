"""The warm-up request: what the runtime predicts once before it reports ready.

First choice: the model's saved serving example (``serving_input_example.json``, an MLflow scoring
request), decoded exactly as a request to ``/invocations`` would be, so warm-up also proves that the
example passes the signature. Then the raw ``input_example.json``. Without an example, one row built
from the signature (zeros, ``False``, empty strings). Without either: no warm-up.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from modelyard.domain.model_format import ModelSpec
from modelyard.domain.model_signature import ColSpec, TensorSpec
from modelyard.serving.codecs import mlflow as mlflow_codec
from modelyard.serving.payload import Payload, Rows, Table
from modelyard.serving.signature import InputEnforcer

_ZERO: dict[str, Any] = {
    "double": 0.0,
    "float": 0.0,
    "long": 0,
    "integer": 0,
    "boolean": False,
    "string": "",
    "binary": "",
    "datetime": "1970-01-01T00:00:00",
}


def warmup_payload(model_dir: Path, spec: ModelSpec, enforcer: InputEnforcer) -> Payload | None:
    info = spec.saved_input_example_info
    if info is not None:
        serving = model_dir / info.serving_input_path if info.serving_input_path else None
        if serving is not None and serving.is_file():
            payload, _params = mlflow_codec.decode_json(_read(serving))
            return payload
        example = model_dir / info.artifact_path
        if example.is_file():
            return _from_example(_read(example), info.type, info.pandas_orient)
    if spec.signature is not None:
        return _from_signature(spec)
    return None


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _from_example(data: Any, kind: str, orient: str | None) -> Payload:
    if kind == "dataframe" and orient in (None, "split") and isinstance(data, dict):
        return Rows(data.get("data", []), names=data.get("columns"))
    if kind == "dataframe" and isinstance(data, list):
        return mlflow_codec.records(data)
    if isinstance(data, dict) and not any(isinstance(v, list) for v in data.values()):
        return Table({k: [v] for k, v in data.items()})
    if isinstance(data, dict):
        return Table(data)
    return Rows(data)


def _from_signature(spec: ModelSpec) -> Payload | None:
    items = spec.signature.inputs.items if spec.signature is not None else ()
    if not items:
        return None
    if isinstance(items[0], ColSpec):
        columns = [c for c in items if isinstance(c, ColSpec)]
        if any(c.type not in _ZERO for c in columns):
            return None  # nested types: no obvious neutral value, skip the warm-up
        if columns[0].name is None:
            return Rows([[_ZERO[c.type] for c in columns]])
        return Table({str(c.name): [_ZERO[c.type]] for c in columns})
    tensors = [t for t in items if isinstance(t, TensorSpec)]
    built = {str(t.name or "input"): _zeros(t) for t in tensors}
    if len(built) == 1 and tensors[0].name is None:
        return Rows(next(iter(built.values())))
    return Table(built)


def _zeros(spec: TensorSpec) -> Any:
    import numpy as np

    shape = tuple(1 if d == -1 else d for d in spec.shape) or (1,)
    if spec.dtype in ("str", "bytes", "object"):
        return np.full(shape, "", dtype=object)
    if math.prod(shape) > 1_000_000:
        shape = (1, *shape[1:])
    return np.zeros(shape, dtype=spec.dtype)
