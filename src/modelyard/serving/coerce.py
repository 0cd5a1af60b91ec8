"""Turning JSON values and decoded arrays into what a signature declares: observed types, conversions.

JSON has no dtypes: a column of JSON numbers is read by numpy (``json_column``, ``json_tensor``), and
``observed_column_type``/``observed_tensor_dtype`` say what it *is* in the signature's own terms (a
JSON integer is an int32 when its values fit one, a JSON float a float32 when one is declared), so
that ``schema_mismatches`` can judge it. ``convert_column``/``cast_tensor`` then make it the declared
dtype. The signature enforcer (``signature.py``) is the only user.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelyard.domain.model_signature import NESTED_COLUMN_TYPES, ColSpec, ParamSpec
from modelyard.serving.errors import BadRequest, SignatureMismatch

COLUMN_DTYPES: dict[str, str] = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}
INT32 = (-(2**31), 2**31 - 1)


# -- observed types ----------------------------------------------------------------------------------


def observed_column_type(
    values: np.ndarray, declared: str | None, *, typed: bool, known_fit: bool | None = None
) -> str:
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind == "b":
        return "boolean"
    if kind in "iu":
        if typed:
            return "integer" if (kind == "i" and size <= 4) or (kind == "u" and size <= 2) else "long"
        fits = known_fit if known_fit is not None else fits_int32(values)
        if declared in ("integer", "float") and fits:
            return "integer"  # a JSON number has no width: it is an int32 when its values fit one
        return "long"
    if kind == "f":
        if typed:
            return "float" if size <= 4 else "double"
        return "float" if declared == "float" else "double"
    if kind == "U":
        return "string"
    if kind == "S":
        return "binary"
    if kind == "M":
        return "datetime"
    if declared in NESTED_COLUMN_TYPES:
        return declared
    return _object_type(values, declared)


def _object_type(values: np.ndarray, declared: str | None) -> str:
    sample = next((v for v in values.flat if v is not None), None)
    if isinstance(sample, str):
        if declared == "datetime" and _parses_as_datetime(values):
            return "datetime"
        return "binary" if declared == "binary" else "string"
    if isinstance(sample, bytes | bytearray):
        return "binary"
    return declared if declared in NESTED_COLUMN_TYPES else "object"


def observed_tensor_dtype(array: np.ndarray, declared: str, *, typed: bool) -> str:
    kind = array.dtype.kind
    if kind in "USO":
        return "str" if kind == "U" or _all_strings(array) else "object"
    if typed:
        return _dtype_name(array.dtype)
    want = _numpy_dtype(declared)
    if want is None:
        return _dtype_name(array.dtype)
    if kind == "f" and want.kind == "f":
        return declared
    if kind in "iu" and want.kind in "iuf":
        if want.kind == "f":
            return declared
        info = np.iinfo(want)
        if array.size == 0 or (int(array.min()) >= info.min and int(array.max()) <= info.max):
            return declared
        return "int64" if int(array.min()) < 0 else "uint64"
    return _dtype_name(array.dtype)


def fits_int32(values: np.ndarray) -> bool:
    return values.size == 0 or (INT32[0] <= int(values.min()) and int(values.max()) <= INT32[1])


# -- JSON values to arrays -----------------------------------------------------------------------------


def json_column(values: Any, name: str) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values
    if not isinstance(values, list):
        values = [values]
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):
        array = _objects(values)
    if array.dtype.kind != "O" and array.ndim == 1:
        return array
    if array.ndim != 1:
        return _objects(values)  # nested values (arrays, objects): for nested column types
    non_null = [v for v in values if v is not None]
    if not non_null:  # only nulls: missing numbers, as pandas reads them
        return np.full(len(values), math.nan)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in non_null):
        # JSON has no NaN, so a NaN in a float column from JSON always was a null
        return np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)
    kinds = {type(v).__name__ for v in non_null}
    if len(kinds) > 1 and not kinds <= {"str"}:
        raise BadRequest(f"column '{name}' mixes values of types {sorted(kinds)}: send one type per column")
    return array


def json_tensor(values: Any, name: str) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"'{name}' is not a rectangular array (rows of different lengths?): {exc}") from None
    if array.dtype.kind == "O" and any(v is None for v in array.flat):
        raise BadRequest(f"'{name}' holds null values; send numbers (JSON has no NaN)")
    return array


def _objects(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def transpose(rows: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    if isinstance(rows, np.ndarray):
        if rows.ndim != 2 or rows.shape[1] != len(names):
            raise BadRequest(f"the data has shape {tuple(rows.shape)} but {len(names)} names")
        return {str(n): rows[:, i] for i, n in enumerate(names)}
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == len(names) for r in rows):
        raise BadRequest(f"each row must be a list of {len(names)} values, one per name in {list(names)}")
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return {str(n): json_column(list(c), str(n)) for n, c in zip(names, columns, strict=True)}


# -- parameters ---------------------------------------------------------------------------------------

_PARAM_CHECKS: dict[str, Any] = {
    "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and INT32[0] <= v <= INT32[1],
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "binary": lambda v: isinstance(v, str),
    "datetime": lambda v: isinstance(v, str),
}


def check_param(spec: ParamSpec, value: Any) -> Any:
    check = _PARAM_CHECKS.get(spec.type, lambda v: True)
    values = value if spec.shape is not None and isinstance(value, list) else [value]
    if spec.shape is not None and not isinstance(value, list):
        raise SignatureMismatch(
            f"parameter '{spec.name}': the signature declares a list of {spec.type}, got {value!r}"
        )
    bad = [v for v in values if not check(v)]
    if bad:
        raise SignatureMismatch(
            f"parameter '{spec.name}': the signature declares {spec.type}, got {bad[0]!r}"
        )
    return value


# -- conversion ---------------------------------------------------------------------------------------


def convert_column(values: np.ndarray, spec: ColSpec, name: str) -> np.ndarray:
    target = COLUMN_DTYPES.get(spec.type)
    if target is None or target == "object":
        return values
    try:
        return np.asarray(values).astype(target, copy=False)
    except (ValueError, TypeError) as exc:
        raise SignatureMismatch(f"column '{name}': cannot convert the values to {spec.type}: {exc}") from None


def cast_tensor(array: np.ndarray, dtype: str) -> np.ndarray:
    want = _numpy_dtype(dtype)
    if want is None or array.dtype == want:
        return array
    return array.astype(want, copy=False)


@functools.cache
def _dtype_name(dtype: np.dtype[Any]) -> str:
    return dtype.name  # numpy works the name out anew on each access, slowly


@functools.cache
def _numpy_dtype(name: str) -> np.dtype[Any] | None:
    """The numpy dtype of a signature's tensor dtype name; None for strings and objects."""
    return None if name in ("str", "bytes", "object") else np.dtype(name)


def frame(columns: dict[str, np.ndarray]) -> Any:
    import pandas as pd  # only for mixed-type tables and models that read column names

    return pd.DataFrame({name: np.asarray(values) for name, values in columns.items()})


def common_rows(arrays: dict[str, np.ndarray]) -> int:
    lengths = {len(a) if a.ndim else 1 for a in arrays.values()}
    if len(lengths) > 1:
        raise BadRequest(f"inputs have different numbers of rows: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _parses_as_datetime(values: np.ndarray) -> bool:
    try:
        np.asarray(values, dtype="datetime64[ns]")
    except (ValueError, TypeError):
        return False
    return True


def _all_strings(array: np.ndarray) -> bool:
    return all(isinstance(v, str) for v in array.flat)
