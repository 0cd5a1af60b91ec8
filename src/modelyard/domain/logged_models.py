"""The filter language for logged models, and its evaluation on loaded models.

Logged models per experiment are few (one per ``log_model`` call), so filters are evaluated in
Python on the loaded models rather than translated to SQL.
"""

from __future__ import annotations

import math
import re
from typing import Any

from modelyard.domain.search import (
    KEY_VALUE_OPS,
    LIST_OPS,
    NUMERIC_OPS,
    TEXT_OPS,
    Comparison,
    Entity,
    Field,
    Grammar,
    Kind,
    Op,
)
from modelyard.domain.tracking import LoggedModel

_TEXT = Field(Kind.STRING, TEXT_OPS | LIST_OPS)
_TIME = Field(Kind.NUMBER, NUMERIC_OPS, whole=True)

LOGGED_MODELS = Grammar(
    subject="logged models",
    prefixes={
        "attributes": Entity.ATTRIBUTE,
        "attribute": Entity.ATTRIBUTE,
        "attr": Entity.ATTRIBUTE,
        "metrics": Entity.METRIC,
        "metric": Entity.METRIC,
        "params": Entity.PARAM,
        "param": Entity.PARAM,
        "tags": Entity.TAG,
        "tag": Entity.TAG,
    },
    open_keys={
        Entity.METRIC: Field(Kind.NUMBER, NUMERIC_OPS),
        Entity.PARAM: Field(Kind.STRING, KEY_VALUE_OPS),
        Entity.TAG: Field(Kind.STRING, KEY_VALUE_OPS),
    },
    closed_keys={
        Entity.ATTRIBUTE: {
            "name": _TEXT,
            "model_id": _TEXT,
            "source_run_id": _TEXT,
            "status": _TEXT,
            "model_type": _TEXT,
            "creation_timestamp": _TIME,
            "last_updated_timestamp": _TIME,
        }
    },
    orderable=frozenset({Entity.ATTRIBUTE}),
    aliases={"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"},
)


def _like(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _test(actual: Any, op: Op, expected: Any) -> bool:
    if op is Op.IS_NULL:
        return actual is None
    if op is Op.IS_NOT_NULL:
        return actual is not None
    if actual is None:
        return False
    if op in (Op.IN, Op.NOT_IN):
        return (actual in expected) == (op is Op.IN)
    if op in (Op.LIKE, Op.ILIKE):
        return bool(_like(str(expected), ignore_case=op is Op.ILIKE).fullmatch(str(actual)))
    if isinstance(actual, float) and math.isnan(actual):
        return False
    comparisons = {
        Op.EQ: actual == expected,
        Op.NE: actual != expected,
        Op.LT: actual < expected,
        Op.LE: actual <= expected,
        Op.GT: actual > expected,
        Op.GE: actual >= expected,
    }
    return bool(comparisons[op])


def _value(model: LoggedModel, clause: Comparison) -> Any:
    if clause.entity is Entity.TAG:
        return model.tags.get(clause.key)
    if clause.entity is Entity.PARAM:
        return model.params.get(clause.key)
    if clause.entity is Entity.METRIC:
        points = [m for m in model.metrics if m.key == clause.key]
        return max(points, key=lambda m: (m.step, m.timestamp)).value if points else None
    attrs = {
        "name": model.name,
        "model_id": model.model_id,
        "source_run_id": model.source_run_id,
        "status": model.status,
        "model_type": model.model_type,
        "creation_timestamp": model.creation_timestamp_ms,
        "last_updated_timestamp": model.last_updated_timestamp_ms,
    }
    return attrs[clause.key]


def matches(model: LoggedModel, filters: list[Comparison]) -> bool:
    return all(_test(_value(model, c), c.op, c.value) for c in filters)
