"""Seldon Core's v1 prediction protocol (the ``SeldonMessage``), as PrimeHub deployments answer it.

A request holds one of ``data`` (``{"names"?, "ndarray"}`` or ``{"names"?, "tensor": {"shape",
"values"}}``), ``strData``, ``binData`` (base64) or ``jsonData``, and optionally ``meta`` (``puid``,
``tags``, ``routing``, ``requestPath``, ``metrics``). The response answers in the request's form
(ndarray in, ndarray out; tensor in, tensor out); a string, bytes or JSON object from the model goes
back as ``strData``, ``binData`` or ``jsonData``. Output column ``names`` are the model's class names
when they fit the output's columns, else ``t:0..n-1`` (none for a 1-D output). ``meta`` echoes the
``puid`` (a new one when the request had none), merges the request's tags with the model's, and the
request's metrics with the model's custom metrics.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelyard.serving.codecs.jsonio import is_frame, is_series, is_shape
from modelyard.serving.errors import BadRequest
from modelyard.serving.payload import Payload, Raw, Rows

_FORMS = ("data", "strData", "binData", "jsonData")


@dataclass(frozen=True, slots=True)
class SeldonRequest:
    payload: Payload
    form: str  # "ndarray", "tensor", "strData", "binData" or "jsonData"
    puid: str
    tags: Mapping[str, Any] = field(default_factory=dict)
    metrics: Sequence[Any] = ()


def decode(document: Any) -> SeldonRequest:
    if not isinstance(document, dict):
        raise BadRequest(f"a Seldon message is a JSON object with one of {', '.join(_FORMS)}")
    present = [key for key in _FORMS if key in document]
    if len(present) != 1:
        raise BadRequest(
            f"a Seldon message holds exactly one of {', '.join(_FORMS)}; this one has "
            f"{present or 'none'} (fields: {sorted(document)})"
        )
    meta = document.get("meta") or {}
    if not isinstance(meta, dict):
        raise BadRequest("'meta' must be a JSON object")
    tags, metrics = meta.get("tags") or {}, meta.get("metrics") or []
    if not isinstance(tags, dict) or not isinstance(metrics, list):
        raise BadRequest("'meta.tags' must be an object and 'meta.metrics' a list")
    puid = meta.get("puid") or new_puid()
    key = present[0]
    value = document[key]
    if key == "data":
        payload, form = _data(value)
    elif key == "strData":
        if not isinstance(value, str):
            raise BadRequest("'strData' must be a string")
        payload, form = Raw(value), key
    elif key == "binData":
        payload, form = Raw(_base64(value)), key
    else:
        payload, form = Raw(value), key
    return SeldonRequest(payload, form, str(puid), tags, metrics)


def _data(data: Any) -> tuple[Payload, str]:
    if not isinstance(data, dict):
        raise BadRequest("'data' must be an object with 'ndarray' or 'tensor' (and optionally 'names')")
    names = data.get("names")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise BadRequest("'data.names' must be a list of strings")
    names = names or None
    if "ndarray" in data:
        rows = data["ndarray"]
        if not isinstance(rows, list):
            raise BadRequest("'data.ndarray' must be a (nested) list")
        return Rows(rows, names=names), "ndarray"
    if "tensor" in data:
        return Rows(_tensor(data["tensor"]), names=names), "tensor"
    if "tftensor" in data:
        raise BadRequest("'data.tftensor' is not supported; send 'data.ndarray' or 'data.tensor'")
    raise BadRequest("'data' must hold 'ndarray' or 'tensor'")


def _tensor(tensor: Any) -> np.ndarray:
    if not isinstance(tensor, dict) or not isinstance(tensor.get("values"), list):
        raise BadRequest("'data.tensor' must be an object with 'shape' and 'values' (a flat list of numbers)")
    shape = tensor.get("shape")
    values = tensor["values"]
    if not isinstance(shape, list) or not is_shape(shape):
        raise BadRequest("'data.tensor.shape' must be a list of non-negative integers")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise BadRequest("'data.tensor.values' must hold numbers only")
    if int(np.prod(shape)) != len(values):
        raise BadRequest(
            f"'data.tensor' has shape {shape} ({int(np.prod(shape))} values) but {len(values)} values"
        )
    return np.asarray(values).reshape(shape)


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise BadRequest("'binData' must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("'binData' is not valid base64") from None


def new_puid() -> str:
    # 26 hex characters, like Seldon's. A request id is no secret: the process's own generator
    # (reseeded in forked workers) spares every request the system call that secrets makes.
    return f"{random.getrandbits(104):026x}"


def encode(
    output: Any,
    request: SeldonRequest,
    *,
    class_names: Sequence[str] | None,
    tags: Mapping[str, Any],
    metrics: Sequence[Any],
    request_path: Mapping[str, str],
) -> dict[str, Any]:
    meta = {
        "puid": request.puid,
        "tags": {**request.tags, **tags},
        "routing": {},
        "requestPath": dict(request_path),
        "metrics": [*request.metrics, *metrics],
    }
    if isinstance(output, str):
        return {"strData": output, "meta": meta}
    if isinstance(output, bytes | bytearray):
        return {"binData": base64.b64encode(bytes(output)).decode("ascii"), "meta": meta}
    if isinstance(output, dict):
        return {"jsonData": output, "meta": meta}
    return {"data": data_message(output, form=request.form, class_names=class_names), "meta": meta}


def data_message(output: Any, *, form: str, class_names: Sequence[str] | None) -> dict[str, Any]:
    names: list[str] | None = None
    if is_frame(output):
        names, output = [str(c) for c in output.columns], output.to_numpy()
    elif is_series(output):
        output = output.to_numpy()
    array = output if isinstance(output, np.ndarray) else np.asarray(output)
    if names is None:
        names = output_names(array, class_names)
    if form == "tensor" and array.dtype.kind in "biuf":
        return {"names": names, "tensor": {"shape": list(array.shape), "values": array.ravel()}}
    return {"names": names, "ndarray": array}


def output_names(array: np.ndarray, class_names: Sequence[str] | None) -> list[str]:
    if array.ndim < 2:
        return []
    width = array.shape[1]
    if class_names is not None and len(class_names) == width:
        return list(class_names)
    return [f"t:{i}" for i in range(width)]


def error(status: int, message: str) -> dict[str, Any]:
    reason = "MICROSERVICE_BAD_DATA" if status < 500 else "MICROSERVICE_INTERNAL_ERROR"
    return {"status": {"code": status, "info": message, "reason": reason, "status": "FAILURE"}}
