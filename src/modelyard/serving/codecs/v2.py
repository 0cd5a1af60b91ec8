"""The Open Inference Protocol (V2: KServe, Triton, MLServer), REST form.

An infer request ``{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "parameters"?,
"data"}], "outputs"?: [{"name", "parameters"?}]}`` decodes into typed tensors: the datatype says
the dtype, so the data must fit it (no float in an INT tensor, no number in a BYTES one, every value
in range) and hold exactly ``prod(shape)`` values, flat (row-major) or nested. Outputs are written
flat with their shape and datatype. BYTES travel as UTF-8 strings (or base64 with the input
parameter ``content_type: "base64"``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.domain.model_signature import ColSpec, Schema, TensorSpec
from modelyard.serving.codecs.jsonio import is_frame, is_series, is_shape
from modelyard.serving.errors import BadRequest
from modelyard.serving.payload import Tensors

NUMPY_OF: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
_V2_OF_COLUMN = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}
_RESERVED_PARAMETERS = frozenset({"content_type", "headers"})
_DTYPES: dict[str, np.dtype[Any]] = {name: np.dtype(dtype) for name, dtype in NUMPY_OF.items()}


@dataclass(frozen=True, slots=True)
class InferRequest:
    id: str | None
    payload: Tensors
    parameters: dict[str, Any]
    outputs: tuple[str, ...]


def decode(document: Any) -> InferRequest:
    if not isinstance(document, dict):
        raise BadRequest("an inference request is a JSON object with 'inputs'")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("'inputs' must be a non-empty list of tensors {name, shape, datatype, data}")
    tensors: dict[str, np.ndarray] = {}
    for index, spec in enumerate(inputs):
        name, array = _input(spec, index)
        if name in tensors:
            raise BadRequest(f"input '{name}' appears twice")
        tensors[name] = array
    parameters = document.get("parameters")
    if parameters:  # most requests have none (and no outputs): no copies, no checks then
        if not isinstance(parameters, dict):
            raise BadRequest("'parameters' must be a JSON object")
        parameters = {k: v for k, v in parameters.items() if k not in _RESERVED_PARAMETERS}
    else:
        parameters = {}
    outputs = document.get("outputs")
    names: tuple[str, ...] = ()
    if outputs:
        if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise BadRequest("'outputs' must be a list of objects with a 'name'")
        names = tuple(o["name"] for o in outputs)
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest("'id' must be a string")
    return InferRequest(id=request_id, payload=Tensors(tensors), parameters=parameters, outputs=names)


def _input(spec: Any, index: int) -> tuple[str, np.ndarray]:
    if not isinstance(spec, dict):
        raise BadRequest(f"inputs[{index}] must be an object {{name, shape, datatype, data}}")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"inputs[{index}] needs a 'name'")
    datatype = spec.get("datatype")
    if datatype not in _DTYPES:
        raise BadRequest(f"input '{name}': datatype {datatype!r} is not one of {', '.join(NUMPY_OF)}")
    shape = spec.get("shape")
    if not isinstance(shape, list) or not is_shape(shape):
        raise BadRequest(f"input '{name}': 'shape' must be a list of non-negative integers")
    if "data" not in spec:
        raise BadRequest(f"input '{name}' has no 'data'")
    params = spec.get("parameters")
    base64_bytes = isinstance(params, dict) and params.get("content_type") == "base64"
    array = _array(spec["data"], datatype, name, base64_bytes=base64_bytes)
    expected = math.prod(shape)
    if array.size != expected:
        raise BadRequest(f"input '{name}': shape {shape} needs {expected} values, the data has {array.size}")
    return name, array.reshape(shape)


def _array(data: Any, datatype: str, name: str, *, base64_bytes: bool) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]
    if datatype == "BYTES":
        return _bytes(data, name, base64_bytes=base64_bytes)
    try:
        array = np.asarray(data)
    except (ValueError, TypeError):
        raise BadRequest(f"input '{name}': 'data' is not a rectangular (nested) list of values") from None
    kind = array.dtype.kind
    want = _DTYPES[datatype]
    if want.kind in "iu" and kind in "fO":  # maybe integers beyond int64 (numpy made them float/object)
        return _big_integers(data, datatype, want, name)
    if kind in "USO":
        what = "null values" if any(v is None for v in array.flat) else "strings or mixed values"
        raise BadRequest(
            f"input '{name}' is {datatype} but its data holds {what}; send numbers (or use BYTES)"
        )
    if want.kind == "b":
        if kind != "b":
            raise BadRequest(f"input '{name}' is BOOL but its data holds numbers; send true/false")
        return array
    if kind == "b":
        raise BadRequest(f"input '{name}' is {datatype} but its data holds booleans")
    if want.kind == "f":
        if want.itemsize == 8:  # JSON numbers are doubles already
            return array.astype(want, copy=False)
        with np.errstate(over="ignore"):
            converted = array.astype(want)
        if not np.isfinite(converted).all():
            raise BadRequest(f"input '{name}': values out of the {datatype} range")
        return converted
    info = np.iinfo(want)
    if array.size and (int(array.min()) < info.min or int(array.max()) > info.max):
        raise BadRequest(f"input '{name}': values out of the {datatype} range [{info.min}, {info.max}]")
    return array.astype(want, copy=False)


def _big_integers(data: list[Any], datatype: str, want: np.dtype[Any], name: str) -> np.ndarray:
    flat = _flatten(data)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        what = "null values" if any(v is None for v in flat) else "non-integer values"
        raise BadRequest(f"input '{name}' is {datatype} but its data holds {what}")
    info = np.iinfo(want)
    if flat and (min(flat) < info.min or max(flat) > info.max):
        raise BadRequest(f"input '{name}': values out of the {datatype} range [{info.min}, {info.max}]")
    return np.asarray(flat, dtype=want)


def _bytes(data: list[Any], name: str, *, base64_bytes: bool) -> np.ndarray:
    flat = _flatten(data)
    if not all(isinstance(v, str) for v in flat):
        raise BadRequest(f"input '{name}' is BYTES but its data holds non-string values; send strings")
    values: list[Any] = flat
    if base64_bytes:
        try:
            values = [base64.b64decode(v, validate=True) for v in flat]
        except (binascii.Error, ValueError):
            raise BadRequest(
                f"input '{name}': content_type is base64 but a value is not valid base64"
            ) from None
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _flatten(data: list[Any]) -> list[Any]:
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


# -- responses -------------------------------------------------------------------------------------------


def datatype_of(array: np.ndarray) -> str:
    return _datatype(array.dtype)


@functools.cache  # on every response: a dtype's datatype is worked out once
def _datatype(dtype: np.dtype[Any]) -> str:
    kind = dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'U' if kind == 'u' else ''}INT{dtype.itemsize * 8}"
    if kind == "f":
        return f"FP{dtype.itemsize * 8}"
    return "BYTES"


def output_tensor(name: str, value: Any) -> dict[str, Any]:
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    datatype = datatype_of(array)
    data: Any = array.ravel() if datatype != "BYTES" else [_text(v) for v in array.ravel().tolist()]
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def _text(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    return value if isinstance(value, str) else str(value)


def metadata_tensors(schema: Schema | None, *, default_name: str) -> list[dict[str, Any]]:
    """V2 tensor metadata for a signature's inputs or outputs: a column is a [-1] tensor."""
    if schema is None:
        return []
    out = []
    items: tuple[ColSpec | TensorSpec, ...] = schema.items
    for index, item in enumerate(items):
        name = item.name or (default_name if len(schema.items) == 1 else f"{default_name}-{index}")
        if isinstance(item, TensorSpec):
            out.append({"name": name, "datatype": _v2_of_numpy(item.dtype), "shape": list(item.shape)})
        elif isinstance(item, ColSpec):
            out.append({"name": name, "datatype": _V2_OF_COLUMN.get(item.type, "BYTES"), "shape": [-1]})
    return out


def _v2_of_numpy(dtype: str) -> str:
    try:
        return datatype_of(np.empty(0, dtype=dtype))
    except TypeError:
        return "BYTES"


def error(message: str) -> dict[str, Any]:
    return {"error": message}


def named_outputs(output: Any, *, default: str) -> Mapping[str, Any]:
    """A model output as named tensors: a mapping as is, a DataFrame by column, else one tensor."""
    if type(output) is np.ndarray:  # the common case, before the slower checks
        return {default: output}
    if isinstance(output, Mapping):
        return output
    if is_frame(output):
        return {str(c): output[c].to_numpy() for c in output.columns}
    if is_series(output):
        return {default: output.to_numpy()}
    return {default: output}


def requested(names: Sequence[str], available: Sequence[str]) -> None:
    unknown = [n for n in names if n not in available]
    if unknown:
        raise BadRequest(f"unknown output(s) {unknown}; this model has outputs {list(available)}")
