"""MLflow wire format: domain objects to protobuf-JSON dicts and back.

Empty fields are omitted (as protobuf JSON does), int64 values are JSON numbers, NaN/Infinity are
spelled as protobuf JSON spells them. Parsing accepts what the official client sends: key/value lists,
int64 as numbers or digit strings, repeated query parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.tracking import (
    MAX_DATASET_DIGEST_LENGTH,
    MAX_DATASET_NAME_LENGTH,
    MAX_DATASET_PROFILE_LENGTH,
    MAX_DATASET_SCHEMA_LENGTH,
    MAX_DATASET_SOURCE_LENGTH,
    MAX_SOURCE_TYPE_LENGTH,
    Dataset,
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    MetricPoints,
    Run,
    metric_to_wire,
    parse_int,
    parse_metric_value,
    validate_text,
)
from modelyard.domain.values import INT64_MAX, INT64_MIN


def kv_list(items: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


def experiment(e: Experiment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
    }
    if e.tags:
        out["tags"] = kv_list(e.tags)
    return out


def metric(m: Metric, *, with_run: bool = False) -> dict[str, Any]:
    value: float | str = m.value
    if m.value - m.value:  # NaN or an infinity: x - x is 0.0 for every finite float
        value = metric_to_wire(m.value)
    out: dict[str, Any] = {"key": m.key, "value": value, "timestamp": m.timestamp, "step": m.step}
    if with_run and m.run_id:
        out["run_id"] = m.run_id
    if m.model_id:
        out["model_id"] = m.model_id
    if m.dataset_name:
        out["dataset_name"] = m.dataset_name
    if m.dataset_digest:
        out["dataset_digest"] = m.dataset_digest
    return out


def metric_points(points: MetricPoints) -> list[dict[str, Any]]:
    """A history page's points, as ``metric`` writes each (a 10,000-point page, ~3 ms)."""
    key = points.key
    columns = zip(points.steps, points.timestamps, points.values, strict=True)
    if points.extras is None and all(map(math.isfinite, points.values)):
        return [{"key": key, "value": v, "timestamp": t, "step": s} for s, t, v in columns]
    extras = points.extras or [(None, None, None)] * len(points)
    return [
        metric(Metric(key, v, t, s, None, *extra)) for (s, t, v), extra in zip(columns, extras, strict=True)
    ]


def _dataset(d: Dataset) -> dict[str, Any]:
    out = {"name": d.name, "digest": d.digest, "source_type": d.source_type, "source": d.source}
    if d.schema:
        out["schema"] = d.schema
    if d.profile:
        out["profile"] = d.profile
    return out


def run(r: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": r.run_id,
        "run_uuid": r.run_id,
        "run_name": r.run_name,
        "experiment_id": r.experiment_id,
        "user_id": r.user_id,
        "status": r.status,
        "start_time": r.start_time,
        "artifact_uri": r.artifact_uri,
        "lifecycle_stage": r.lifecycle_stage,
    }
    if r.end_time is not None:
        info["end_time"] = r.end_time
    data: dict[str, Any] = {}
    if r.metrics:
        data["metrics"] = [metric(m) for m in r.metrics]
    if r.params:
        data["params"] = kv_list(r.params)
    if r.tags:
        data["tags"] = kv_list(r.tags)
    inputs: dict[str, Any] = {}
    if r.dataset_inputs:
        inputs["dataset_inputs"] = [
            {**({"tags": kv_list(di.tags)} if di.tags else {}), "dataset": _dataset(di.dataset)}
            for di in r.dataset_inputs
        ]
    if r.model_inputs:
        inputs["model_inputs"] = [{"model_id": m} for m in r.model_inputs]
    out: dict[str, Any] = {"info": info, "data": data, "inputs": inputs}
    if r.model_outputs:
        out["outputs"] = {"model_outputs": [{"model_id": m, "step": s} for m, s in r.model_outputs]}
    # modelyard extensions (the mlflow client ignores fields it does not know)
    if r.code_version is not None:
        out["code_version"] = {k: v for k, v in vars_of(r.code_version).items() if v is not None}
    if r.environment is not None:
        out["environment"] = {k: v for k, v in vars_of(r.environment).items() if v not in (None, {})}
    return out


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def logged_model(m: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_timestamp_ms,
        "last_updated_timestamp_ms": m.last_updated_timestamp_ms,
        "artifact_uri": m.artifact_location,
        "status": m.status,
    }
    for key in ("model_type", "source_run_id", "status_message"):
        value = getattr(m, key)
        if value:
            info[key] = value
    if m.tags:
        info["tags"] = kv_list(m.tags)
    data: dict[str, Any] = {}
    if m.params:
        data["params"] = kv_list(m.params)
    if m.metrics:
        data["metrics"] = [metric(x, with_run=True) for x in m.metrics]
    return {"info": info, "data": data}


# ---- parsing ------------------------------------------------------------------------------------


def require_str(body: Mapping[str, Any], name: str, *, aliases: tuple[str, ...] = ()) -> str:
    for key in (name, *aliases):
        value = body.get(key)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise InvalidParameter(f"Invalid value {value!r} for parameter '{name}': expected a string.")
            return value
    raise InvalidParameter(f"Missing value for required parameter '{name}'.")


def optional_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid value {value!r} for parameter '{name}': expected a string.")
    return value


def optional_id_or_name(body: dict[str, Any], name: str) -> int | str | None:
    """An optional reference to an object by its id (an integer) or its name."""
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_int(name, value)
    raise InvalidParameter(f"Invalid value {value!r} for parameter '{name}': expected an id or a name.")


def string_list(body: dict[str, Any], name: str) -> list[str]:
    """An optional list of strings (``experiment_ids``, ``order_by``)."""
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidParameter(f"Invalid value for parameter '{name}': expected a list of strings.")
    return value


def id_list(body: dict[str, Any], name: str) -> list[str]:
    """An optional list of ids (``experiment_ids``), as strings or numbers."""
    value = body.get(name) or []
    if not isinstance(value, list) or not all(
        isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)) for item in value
    ):
        raise InvalidParameter(f"Invalid value for parameter '{name}': expected a list of ids.")
    return [str(item) for item in value]


def optional_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    return None if value is None else parse_int(name, value)


def key_values(body: dict[str, Any], name: str) -> list[tuple[str, Any]]:
    """A repeated ``{key, value}`` field as (key, value) pairs, in order."""
    items = body.get(name) or []
    if not isinstance(items, list):
        raise InvalidParameter(
            f"Invalid value for parameter '{name}': expected a list of {{key, value}} objects."
        )
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidParameter(
                f"Invalid value for parameter '{name}[{i}]': expected an object with a string 'key'."
            )
        value = item.get("value")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidParameter(f"Invalid value for parameter '{name}[{i}].value': expected a string.")
        out.append((item["key"], "" if value is None else str(value)))
    return out


MAX_ID_LENGTH = 64  # run ids are 32 hex digits, logged model ids "m-" and 32


def parse_metric(item: Any, where: str) -> Metric:
    if not isinstance(item, dict):
        raise InvalidParameter(f"Invalid value for parameter '{where}': expected a metric object.")
    key = item.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidParameter(f"Missing value for required parameter '{where}.key'.")
    if "value" not in item or item["value"] is None:
        raise InvalidParameter(f"Missing value for required parameter '{where}.value' (metric '{key}').")
    if item.get("timestamp") is None:
        raise InvalidParameter(f"Missing value for required parameter '{where}.timestamp' (metric '{key}').")
    return Metric(
        key=key,
        value=parse_metric_value(key, item["value"]),
        timestamp=parse_int(f"{where}.timestamp", item["timestamp"]),
        step=parse_int(f"{where}.step", item.get("step"), default=0),
        model_id=validate_text(f"{where}.model_id", item.get("model_id"), MAX_ID_LENGTH) or None,
        dataset_name=validate_text(f"{where}.dataset_name", item.get("dataset_name"), MAX_DATASET_NAME_LENGTH)
        or None,
        dataset_digest=validate_text(
            f"{where}.dataset_digest", item.get("dataset_digest"), MAX_DATASET_DIGEST_LENGTH
        )
        or None,
    )


def parse_metrics(body: dict[str, Any]) -> list[Metric]:
    items = body.get("metrics") or []
    if not isinstance(items, list):
        raise InvalidParameter("Invalid value for parameter 'metrics': expected a list of metric objects.")
    out = []
    low, high = INT64_MIN, INT64_MAX
    item: Any
    value: Any
    for i, item in enumerate(items):
        # Fast path for the common, well-typed point holding only key, value, timestamp and (maybe) step;
        # anything else (a model id, a dataset, a wrong type) takes the checked path.
        if (
            type(item) is dict
            and (len(item) == 3 or (len(item) == 4 and "step" in item))
            and type(key := item.get("key")) is str
            and (
                (kind := type(value := item.get("value"))) is float or (kind is int and low <= value <= high)
            )
            and type(stamp := item.get("timestamp")) is int
            and type(step := item.get("step", 0)) is int
            and key
            and low <= stamp <= high
            and low <= step <= high
        ):
            out.append(Metric(key, float(value), stamp, step))
        else:
            out.append(parse_metric(item, f"metrics[{i}]"))
    return out


def parse_dataset_inputs(body: dict[str, Any]) -> list[DatasetInput]:
    items = body.get("datasets") or []
    if not isinstance(items, list):
        raise InvalidParameter("Invalid value for parameter 'datasets': expected a list.")
    out = []
    for i, item in enumerate(items):
        ds = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(ds, dict):
            raise InvalidParameter(f"Missing value for required parameter 'datasets[{i}].dataset'.")
        where = f"datasets[{i}].dataset"
        out.append(
            DatasetInput(
                dataset=Dataset(
                    name=validate_text(f"{where}.name", ds.get("name"), MAX_DATASET_NAME_LENGTH) or "",
                    digest=validate_text(f"{where}.digest", ds.get("digest"), MAX_DATASET_DIGEST_LENGTH)
                    or "",
                    source_type=validate_text(
                        f"{where}.source_type", ds.get("source_type"), MAX_SOURCE_TYPE_LENGTH
                    )
                    or "",
                    source=validate_text(f"{where}.source", ds.get("source"), MAX_DATASET_SOURCE_LENGTH)
                    or "",
                    schema=validate_text(f"{where}.schema", ds.get("schema"), MAX_DATASET_SCHEMA_LENGTH),
                    profile=validate_text(f"{where}.profile", ds.get("profile"), MAX_DATASET_PROFILE_LENGTH),
                ),
                tags=dict(key_values(item, "tags")),
            )
        )
    return out
