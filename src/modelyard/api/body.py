"""Request parsing helpers shared by routers: fast JSON bodies with errors that name the problem.

A body must be a JSON object (orjson parses it; a body with Python's ``NaN``/``Infinity`` literals is
read by the standard library instead, as MLflow does). What no route may receive is refused here, for
every route at once: text with a NUL character or a lone UTF-16 surrogate, and documents nested deeper
than ``MAX_JSON_DEPTH``. The depth walk costs as much as the parse, so the hot tracking routes, whose
parsers type-check every field they read (no sub-document reaches storage or an answer), skip it with
``deep=False``; the NUL scan is a byte search and always runs.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.values import MAX_JSON_DEPTH, check_json

_NUL = b"\\u0000"


async def json_body(request: Request, *, allow_empty: bool = True, deep: bool = True) -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}`` (MLflow's client sends bodies on DELETE too)."""
    return parse_json_object(await request.body(), allow_empty=allow_empty, deep=deep)


def parse_json_object(raw: bytes, *, allow_empty: bool = True, deep: bool = True) -> dict[str, Any]:
    if not raw.strip():
        if allow_empty:
            return {}
        raise InvalidParameter("The request body is empty; a JSON object was expected.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        data = _lenient_loads(raw, exc)
        deep = True  # the standard library lets through what orjson refuses: check everything
    if not isinstance(data, dict):
        raise InvalidParameter(f"The request body must be a JSON object, not {type(data).__name__}.")
    if deep:
        check_json(data)
    elif _NUL in raw:
        check_json(data, max_depth=1 << 30)  # only to name the field that holds the NUL
    return data


def _lenient_loads(raw: bytes, exc: orjson.JSONDecodeError) -> Any:
    reason = str(exc)
    if "depth" in reason or "recursion" in reason:
        raise InvalidParameter(
            f"The request body nests too deeply ({reason}); no request of this API nests more than "
            f"{MAX_JSON_DEPTH} levels."
        )
    if "surrogate" in reason:
        raise InvalidParameter(
            f"The request body holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which is "
            f"not Unicode text ({reason})."
        )
    if "UTF-8" in reason:
        raise InvalidParameter(f"The request body is not valid UTF-8 text ({reason}).")
    # Python's json.dumps writes NaN/Infinity literals, which orjson refuses; accept them as MLflow does.
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidParameter(f"Malformed JSON in the request body: {reason}") from None


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")
