"""Registry objects in MLflow's wire format (``model_registry.proto`` as protobuf JSON), and the
request parsing the registry routes share.

Versions are strings on the wire (``"3"``); empty fields are omitted, as protobuf JSON does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request

from modelyard.api.body import json_body
from modelyard.api.mlflow.wire import kv_list
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.registry import ModelVersion, RegisteredModel


def model_version(v: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "current_stage": v.current_stage,
        "source": v.source,
        "status": v.status,
    }
    for key in ("user_id", "description", "run_id", "status_message", "run_link", "model_id"):
        value = getattr(v, key)
        if value:
            out[key] = value
    if v.tags:
        out["tags"] = kv_list(v.tags)
    if v.aliases:
        out["aliases"] = list(v.aliases)
    return out


def registered_model(m: RegisteredModel) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": m.name,
        "creation_timestamp": m.creation_timestamp,
        "last_updated_timestamp": m.last_updated_timestamp,
    }
    if m.user_id:
        out["user_id"] = m.user_id
    if m.description:
        out["description"] = m.description
    if m.latest_versions:
        out["latest_versions"] = [model_version(v) for v in m.latest_versions]
    if m.tags:
        out["tags"] = kv_list(m.tags)
    if m.aliases:
        out["aliases"] = [{"alias": a, "version": str(v)} for a, v in m.aliases.items()]
    return out


async def request_params(request: Request) -> Mapping[str, Any]:
    """A request's parameters: the query string, overlaid with the JSON body if there is one.

    MLflow's client sends GET parameters in the query and DELETE parameters in a JSON body; other
    clients (curl, browsers) often put DELETE parameters in the query. Both work.
    """
    if request.method == "GET":
        return request.query_params
    return {**request.query_params, **await json_body(request)}


def string_list(params: Mapping[str, Any], request: Request, name: str) -> list[str]:
    """A repeated string field: a JSON list in a body, or repeated query keys."""
    if request.method == "GET":
        return request.query_params.getlist(name)
    value = params.get(name) or []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise InvalidParameter(f"Invalid value for parameter '{name}': expected a list of strings.")
    return value


def flag(params: Mapping[str, Any], name: str) -> bool:
    """A bool field, as JSON ``true`` or a query string ``true``/``false``."""
    value = params.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise InvalidParameter(f"Invalid value {value!r} for parameter '{name}': expected true or false.")
