"""Signatures from data: inferring one from an input example, and checking an example against one.

A numpy array gives one tensor (its dtype, the batch dimension free); a mapping of arrays gives one
named tensor each; a pandas DataFrame, a list of records (dicts) or a mapping of column values
gives columns typed as MLflow types them. The example is also encoded here the way MLflow saves it
(``input_example.json`` plus the MLmodel's ``saved_input_example_info``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import InputExampleInfo
from modelyard.domain.model_signature import ColSpec, Schema, Signature, TensorSpec, schema_mismatches

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """The signature of a model taking ``model_input`` (and returning ``model_output``, if given)."""
    outputs = infer_schema(model_output) if model_output is not None else None
    return Signature(inputs=infer_schema(model_input), outputs=outputs)


def infer_schema(data: Any) -> Schema:
    if isinstance(data, np.ndarray):
        return Schema((_tensor(data),))
    if _is_dataframe(data):
        return Schema(tuple(_column_from_series(str(name), data[name]) for name in data.columns))
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.Series):
        return Schema(
            (_column_from_series(None, data),)
            if data.name is None
            else (_column_from_series(str(data.name), data),)
        )
    if isinstance(data, Mapping):
        if data and all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema(tuple(_tensor(v, name=str(k)) for k, v in data.items()))
        if any(isinstance(v, np.ndarray) for v in data.values()):
            raise InvalidParameter(
                "an input example mapping must hold only numpy arrays, or no arrays at all"
            )
        return Schema(tuple(_column_from_values(str(k), _as_list(v)) for k, v in data.items()))
    if isinstance(data, list | tuple) and data and all(isinstance(row, Mapping) for row in data):
        return _records_schema(data)
    if isinstance(data, list | tuple):
        try:
            return Schema((_tensor(np.asarray(data)),))
        except ValueError as exc:
            raise InvalidParameter(f"cannot infer a signature from this list: {exc}") from None
    raise InvalidParameter(
        f"cannot infer a signature from a {type(data).__name__}: give a numpy array, a pandas "
        "DataFrame, a list of records (dicts) or a dict of arrays"
    )


def infer_output_schema(output: Any, *, inputs: Schema) -> Schema:
    """The schema of a prediction; as MLflow reads it, a 1-D array answering column inputs is one
    unnamed column (labels, scores), anything else is inferred as data."""
    if not inputs.is_tensor_based and isinstance(output, np.ndarray) and output.ndim == 1:
        kind = _column_type_of_dtype(output.dtype)
        return Schema((ColSpec(type=kind) if kind else _column_from_values(None, output.tolist()),))
    return infer_schema(output)


def check_example(example: Any, signature: Signature) -> None:
    """InvalidParameter naming each column or tensor where ``example`` does not fit ``signature``."""
    observed = _observed_for(example, signature.inputs)
    problems = schema_mismatches(signature.inputs, observed)
    if problems:
        raise InvalidParameter("the input example does not match the signature: " + "; ".join(problems))


def encode_example(example: Any) -> tuple[Any, Any, InputExampleInfo]:
    """(what input_example.json holds, what serving_input_example.json holds, the MLmodel info)."""
    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE, "serving_input_path": SERVING_EXAMPLE_FILE}
    if _is_dataframe(example):
        frame = example.astype(object).where(example.notna(), None)
        split = {"columns": [str(c) for c in example.columns], "data": frame.to_numpy().tolist()}
        return (
            split,
            {"dataframe_split": split},
            InputExampleInfo(type="dataframe", pandas_orient="split", **info),
        )
    if isinstance(example, np.ndarray):
        data = _array_json(example)
    elif (
        isinstance(example, Mapping) and example and all(isinstance(v, np.ndarray) for v in example.values())
    ):
        data = {str(k): _array_json(v) for k, v in example.items()}
    else:
        data = json.loads(to_json(example))
        return data, {"inputs": data}, InputExampleInfo(type="json_object", **info)
    return data, {"inputs": data}, InputExampleInfo(type="ndarray", **info)


def to_json(value: Any) -> str:
    """JSON text for example data: numpy values as Python ones, NaN as null, bytes as base64."""
    return json.dumps(_clean(value), default=_json_default, allow_nan=False)


# -- inference helpers -------------------------------------------------------------------------------


def _is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _tensor(array: np.ndarray, name: str | None = None) -> TensorSpec:
    if array.ndim == 0:
        raise InvalidParameter("a tensor example needs at least one dimension (the batch)")
    return TensorSpec(dtype=_dtype_name(array.dtype), shape=(-1, *array.shape[1:]), name=name)


def _dtype_name(dtype: np.dtype[Any]) -> str:
    kinds = {"U": "str", "S": "bytes", "O": "object", "M": "datetime64[ns]"}
    return kinds.get(dtype.kind, dtype.name)


def _column_type_of_dtype(dtype: Any) -> str | None:
    """The column type of a numpy/pandas dtype; None when the values must be looked at (object)."""
    np_dtype = np.dtype(dtype) if isinstance(dtype, np.dtype) else getattr(dtype, "numpy_dtype", None)
    if np_dtype is None:
        name = str(dtype).lower()
        if name in ("string", "str") or name.startswith("string"):
            return "string"
        if name.startswith("datetime64"):
            return "datetime"
        return None
    kind, size = np_dtype.kind, np_dtype.itemsize
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer" if (size < 4 or (kind == "i" and size == 4)) else "long"
    if kind == "f":
        return "float" if size <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind == "U":
        return "string"
    if kind == "S":
        return "binary"
    return None


def _column_from_series(name: str | None, series: Any) -> ColSpec:
    kind = _column_type_of_dtype(series.dtype)
    if kind is not None:
        return ColSpec(type=kind, name=name)
    return _column_from_values(name, series.tolist())


def _column_from_values(name: str | None, values: Sequence[Any], *, required: bool = True) -> ColSpec:
    kinds = {_value_type(v) for v in values if not _is_missing(v)}
    if len(kinds) != 1:
        what = "no values" if not kinds else f"mixed types {sorted(kinds)}"
        raise InvalidParameter(f"cannot infer the type of column {name!r}: it has {what}")
    return ColSpec(type=kinds.pop(), name=name, required=required)


def _value_type(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, np.integer):
        return _column_type_of_dtype(value.dtype) or "long"
    if isinstance(value, int):
        return "long"
    if isinstance(value, np.floating):
        return _column_type_of_dtype(value.dtype) or "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "binary"
    if isinstance(value, dt.datetime | dt.date | np.datetime64):
        return "datetime"
    raise InvalidParameter(f"cannot infer a column type for a {type(value).__name__} value")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _records_schema(rows: Sequence[Mapping[str, Any]]) -> Schema:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(str(k) for k in row))
    columns = []
    for name in names:
        values = [row[name] for row in rows if name in row]
        columns.append(_column_from_values(name, values, required=len(values) == len(rows)))
    return Schema(tuple(columns))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _observed_for(example: Any, declared: Schema) -> Schema:
    """The example's schema in the declared schema's terms: a 2-D array against named columns is
    read as those columns in order; a table against a tensor signature as one array."""
    if declared.is_tensor_based and (_is_dataframe(example) or _is_records(example)):
        table = (
            example.to_numpy() if _is_dataframe(example) else np.asarray([list(r.values()) for r in example])
        )
        return infer_schema(table)
    if not declared.is_tensor_based and isinstance(example, np.ndarray):
        if example.ndim != 2:
            raise InvalidParameter(
                f"the input example does not match the signature: it declares {len(declared.items)} "
                f"columns but the example is an array of shape {example.shape}"
            )
        if example.shape[1] != len(declared.items):
            raise InvalidParameter(
                f"the input example does not match the signature: it declares {len(declared.items)} "
                f"columns but the example has {example.shape[1]}"
            )
        kind = _column_type_of_dtype(example.dtype)
        names = declared.names
        columns = [
            ColSpec(type=kind, name=name) if kind else _column_from_values(name, example[:, i].tolist())
            for i, name in enumerate(names)
        ]
        return Schema(tuple(columns))
    return infer_schema(example)


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(r, Mapping) for r in value)


# -- JSON encoding -----------------------------------------------------------------------------------


def _array_json(array: np.ndarray) -> Any:
    if array.dtype.kind == "f":
        return _clean(array.tolist())  # NaN to null
    return _clean(array.tolist())


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.ndarray):
        return _array_json(value)
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return _clean(value.item())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write a {type(value).__name__} into the input example")
