"""Reading a resource request: the list query (``form_data`` JSON or plain query parameters) and bodies.

Only the transport's shape is checked here (JSON that parses, known keys, no repeated parameters);
what the values mean is checked by the resource service against the declaration.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from modelyard.api.body import json_body
from modelyard.domain.errors import InvalidParameter
from modelyard.services.resources import ListRequest

LIST_KEYS = ("filters", "page", "page_size", "order_column", "order_direction")
QUERY_KEYS = ("form_data", *LIST_KEYS)
_EXAMPLE = 'form_data={"filters": [{"col": "name", "opr": "ct", "value": "x"}], "page": 0, "page_size": 20}'


def _json(text: str, where: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(
            f"Malformed JSON in query parameter '{where}': {exc}. Example: {_EXAMPLE}"
        ) from None


def list_request(request: Request) -> ListRequest:
    """The list query: keys of the ``form_data`` JSON object, each overridden by a plain query parameter
    of the same name (``filters`` as JSON text, the others as text)."""
    params = request.query_params
    for key in params:
        if key not in QUERY_KEYS:
            raise InvalidParameter(
                f"Unknown query parameter '{key}'; the parameters are: {', '.join(QUERY_KEYS)}."
            )
        if len(params.getlist(key)) > 1:
            raise InvalidParameter(f"Query parameter '{key}' is given more than once; give it once.")
    query: dict[str, Any] = {}
    if "form_data" in params:
        form = _json(params["form_data"], "form_data")
        if not isinstance(form, dict):
            raise InvalidParameter(f"Query parameter 'form_data' must be a JSON object. Example: {_EXAMPLE}")
        for key in form:
            if key not in LIST_KEYS:
                raise InvalidParameter(
                    f"Unknown key '{key}' in form_data; the keys are: {', '.join(LIST_KEYS)}."
                )
        query.update(form)
    for key in LIST_KEYS:
        if key in params:
            query[key] = _json(params[key], key) if key == "filters" else params[key]
    return ListRequest(**query)


async def ids_body(request: Request) -> Any:
    """The ``ids`` of a multi-action body ``{"ids": [...]}``."""
    body = await json_body(request, allow_empty=False)
    for key in body:
        if key != "ids":
            raise InvalidParameter(
                f"Unknown key '{key}' in the body; a multi-action body is {{\"ids\": [...]}}."
            )
    return body.get("ids")
