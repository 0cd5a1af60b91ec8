"""JSON in and out of the hot path: orjson, with numpy arrays written natively and clear errors.

``loads`` turns every way a body can fail to be JSON into one ``BadRequest`` that says what was
wrong (truncated, not UTF-8, NaN/Infinity, which JSON does not have). ``dumps`` writes numpy arrays
and scalars without ``tolist()`` (orjson serializes contiguous numeric arrays in C; anything else
falls back to ``_default``); NaN and infinities in outputs become ``null``, as JSON requires.
"""

from __future__ import annotations

import base64
import datetime as dt
import sys
from typing import Any

import numpy as np
import orjson

from modelyard.serving.errors import BadRequest

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(_why_not_json(body, exc)) from None


def dumps(document: Any) -> bytes:
    return orjson.dumps(document, default=_default, option=_OPTIONS)


def is_frame(value: Any) -> bool:
    """A pandas DataFrame (pandas is not imported for this: a frame exists only once it is)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def is_series(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.Series | pandas.Index)


def is_shape(shape: list[Any]) -> bool:
    """A tensor shape: non-negative integers (booleans are not)."""
    for d in shape:  # noqa: SIM110  (a plain loop: this runs on every request, all() is slower)
        if type(d) is not int or d < 0:
            return False
    return True


def _why_not_json(body: bytes, exc: orjson.JSONDecodeError) -> str:
    if not body.strip():
        return "the request body is empty; send a JSON document"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "the request body is not UTF-8 text; send JSON encoded as UTF-8"
    if any(token in body for token in (b"NaN", b"Infinity")):
        return (
            "the request body is not valid JSON: NaN and Infinity are not JSON values "
            f"(send null for a missing value) ({exc})"
        )
    if exc.pos >= len(body.rstrip()):
        return f"the request body is not valid JSON: it ends too early (truncated?) ({exc})"
    return f"the request body is not valid JSON: {exc}"


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            return [_default(v) if isinstance(v, bytes | np.ndarray) else v for v in value.tolist()]
        if value.dtype.kind == "M":
            return np.datetime_as_string(value).tolist()
        return value.tolist()  # non-contiguous, or a dtype orjson does not write itself
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.date):
        return value.isoformat()
    if is_series(value):
        return value.to_numpy()
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")
