"""How the client spells request fields on the wire: ``{key, value}`` lists, JSON-text fields, view
types, timestamps, and the source type of a dataset guessed from its URI."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

_VIEW_TYPES = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}
_SOURCE_TYPES = {"http": "http", "https": "http", "s3": "s3", "gs": "gs", "hf": "hugging_face"}


def now_ms() -> int:
    return int(time.time() * 1000)


def view_type(view: str) -> str:
    """``active|deleted|all`` (or MLflow's ``ACTIVE_ONLY|DELETED_ONLY|ALL``) as the wire spells it."""
    wire = _VIEW_TYPES.get(view.lower(), view.upper())
    if wire not in _VIEW_TYPES.values():
        raise ValueError(f"view must be one of active, deleted, all; got {view!r}")
    return wire


def text(value: Any) -> str:
    """Params and tags are strings on the wire; other values are sent as their ``str()``."""
    return value if isinstance(value, str) else str(value)


def key_values(items: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": text(v)} for k, v in (items or {}).items()]


def json_text(value: str | Mapping[str, Any] | None) -> str | None:
    """A field the wire carries as JSON text (dataset schema, profile): a dict is serialized."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def source_type(source: str) -> str:
    """``s3``, ``http``, ``gs``, ``hugging_face`` from the URI scheme; ``local`` for anything else."""
    scheme = source.split("://", 1)[0].lower() if "://" in source else ""
    return _SOURCE_TYPES.get(scheme, "local")
