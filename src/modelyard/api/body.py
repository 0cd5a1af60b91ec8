"""Request parsing helpers shared by routers: fast JSON bodies with errors that name the problem."""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from modelyard.domain.errors import InvalidParameter


async def json_body(request: Request, *, allow_empty: bool = True) -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}`` (MLflow's client sends bodies on DELETE too)."""
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return {}
        raise InvalidParameter("The request body is empty; a JSON object was expected.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        data = _lenient_loads(raw, exc)
    if not isinstance(data, dict):
        raise InvalidParameter(f"The request body must be a JSON object, not {type(data).__name__}.")
    return data


def _lenient_loads(raw: bytes, exc: orjson.JSONDecodeError) -> Any:
    # Python's json.dumps writes NaN/Infinity literals, which orjson refuses; accept them as MLflow does.
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidParameter(f"Malformed JSON in the request body: {exc}") from None


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")
