"""Tracking entities and the rules that hold whatever surface writes them.

Projects hold experiments; experiments hold runs; a run has immutable params, metrics with full
history (value, timestamp, step), tags, dataset inputs, logged-model outputs, a code version and an
environment. Limits are MLflow's so that the official client and modelyard agree on what is valid.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.values import INT64_MAX, INT64_MIN, check_int64, check_text

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
DEFAULT_PROJECT_NAME = "default"

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_BYTES = 1024 * 1024
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 5000
MAX_KEY_LENGTH = 250
MAX_ENTITY_NAME_LENGTH = 500
# A run's name is also its ``mlflow.runName`` tag: one limit for both, the name's.
MAX_RUN_NAME_LENGTH = 500
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 64
MAX_SOURCE_TYPE_LENGTH = 64
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_DATASET_SCHEMA_LENGTH = 1048575
MAX_DATASET_PROFILE_LENGTH = 16384
MAX_USER_ID_LENGTH = 256
SEARCH_RUNS_DEFAULT = 1000
SEARCH_RUNS_MAX = 50000
SEARCH_EXPERIMENTS_DEFAULT = 1000
SEARCH_EXPERIMENTS_MAX = 50000
METRIC_HISTORY_PAGE = 25000

PARENT_RUN_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
GIT_BRANCH_TAG = "mlflow.source.git.branch"
GIT_REPO_TAG = "mlflow.source.git.repoURL"

# A key is a relative path of safe characters: MLflow's rule, which also keeps keys usable as file names.
_KEY_RE = re.compile(r"^[/\w.\- :]*$")


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class LifecycleStage(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(StrEnum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def stages(self) -> tuple[LifecycleStage, ...]:
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)


class LoggedModelStatus(StrEnum):
    UNSPECIFIED = "LOGGED_MODEL_STATUS_UNSPECIFIED"
    PENDING = "LOGGED_MODEL_PENDING"
    READY = "LOGGED_MODEL_READY"
    FAILED = "LOGGED_MODEL_UPLOAD_FAILED"


@dataclass(slots=True)
class Project:
    id: int
    name: str
    description: str
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    project_id: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


MetricExtras = tuple[str | None, str | None, str | None]
"""A point's (model_id, dataset_name, dataset_digest)."""


@dataclass(slots=True)
class MetricPoints:
    """Points of one metric of one run as parallel columns, in history order: what a metric history
    page is. ``extras`` holds each point's model and dataset, or is None when no point has any (the
    common case, which then needs no per-point objects at all)."""

    key: str
    steps: list[int]
    timestamps: list[int]
    values: list[float]
    extras: list[MetricExtras] | None = None

    def __len__(self) -> int:
        return len(self.steps)

    def slice(self, start: int, stop: int) -> MetricPoints:
        extras = None if self.extras is None else self.extras[start:stop]
        return MetricPoints(
            self.key, self.steps[start:stop], self.timestamps[start:stop], self.values[start:stop], extras
        )

    @classmethod
    def of(cls, key: str, points: list[Metric]) -> MetricPoints:
        extras = [(p.model_id, p.dataset_name, p.dataset_digest) for p in points]
        return cls(
            key,
            [p.step for p in points],
            [p.timestamp for p in points],
            [p.value for p in points],
            extras if any(e != (None, None, None) for e in extras) else None,
        )


@dataclass(slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class DatasetInput:
    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CodeVersion:
    """Where the code of a run came from; captured by the client, also derived from MLflow's git tags."""

    repo: str | None = None
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None


@dataclass(slots=True)
class Environment:
    python_version: str | None = None
    platform: str | None = None
    packages: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Run:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    model_outputs: list[tuple[str, int]] = field(default_factory=list)
    code_version: CodeVersion | None = None
    environment: Environment | None = None


@dataclass(slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp_ms: int
    last_updated_timestamp_ms: int
    status: str
    lifecycle_stage: str
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)


def validate_key(kind: str, key: Any) -> str:
    """A metric/param/tag key: non-empty, ≤ 250 chars, a relative path of safe characters."""
    if not isinstance(key, str) or key == "":
        raise InvalidParameter(f"Missing value for required parameter '{kind} key'.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameter(
            f"{kind.capitalize()} key '{key[:40]}...' had length {len(key)}, which exceeded length limit "
            f"of {MAX_KEY_LENGTH}"
        )
    if not _KEY_RE.match(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidParameter(
            f"Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), "
            "periods (.), spaces ( ), colon(:) and slashes (/), and may not start with '/' or contain '..'."
        )
    return key


def validate_value(kind: str, key: str, value: Any, limit: int) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if key == RUN_NAME_TAG:
        limit = min(limit, MAX_RUN_NAME_LENGTH)
    if len(text) > limit:
        raise InvalidParameter(
            f"{kind.capitalize()} value '{text[:40]}...' for key '{key}' had length {len(text)}, "
            f"which exceeded length limit of {limit}"
        )
    return check_text(f"{kind} value for key '{key}'", text)


def validate_text(field_name: str, value: Any, limit: int, *, required: bool = False) -> str | None:
    """An optional string parameter: a string of at most ``limit`` characters, or None."""
    if value is None or value == "":
        if required:
            raise InvalidParameter(f"Missing value for required parameter '{field_name}'.")
        return None if value is None else ""
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid value {value!r} for parameter '{field_name}': expected a string.")
    if len(value) > limit:
        raise InvalidParameter(
            f"Invalid value for parameter '{field_name}': it has {len(value)} characters, the limit is {limit}."
        )
    return check_text(field_name, value)


def validate_run_name(value: Any, field_name: str = "run_name") -> str | None:
    return validate_text(field_name, value, MAX_RUN_NAME_LENGTH)


def parse_metric_value(key: str, raw: Any) -> float:
    """Numbers, or the protobuf-JSON spellings 'NaN', 'Infinity', '-Infinity' the mlflow client sends."""
    if isinstance(raw, bool):
        raise InvalidParameter(f"Got invalid value {raw} for metric '{key}' (expected a number).")
    try:
        if isinstance(raw, int | float):
            return float(raw)
        if isinstance(raw, str) and len(raw) <= 400:
            return float(raw)
    except OverflowError:
        raise InvalidParameter(
            f"Got invalid value for metric '{key}': it is beyond the range of a 64-bit float (about 1.8e308)."
        ) from None
    except ValueError:
        pass
    shown = repr(raw) if not isinstance(raw, str | int) or len(str(raw)) <= 60 else f"'{str(raw)[:40]}...'"
    raise InvalidParameter(f"Got invalid value {shown} for metric '{key}' (expected a number).")


FLOAT_2_63 = float(2**63)


def parse_int(field_name: str, raw: Any, *, default: int | None = None) -> int:
    """int64 fields arrive as JSON numbers or (protobuf JSON) as strings of digits."""
    if raw is None:
        if default is None:
            raise InvalidParameter(f"Missing value for required parameter '{field_name}'.")
        return default
    if isinstance(raw, bool):
        raise InvalidParameter(f"Invalid value {raw!r} for parameter '{field_name}': expected an integer.")
    if isinstance(raw, int):
        return check_int64(field_name, raw)
    if isinstance(raw, float) and raw.is_integer():
        # JSON parsers read integers beyond 64 bits as floats: -2**63 - 1 arrives as -2.0**63, which must
        # not pass as the smallest int64
        if not -FLOAT_2_63 < raw < FLOAT_2_63:
            raise InvalidParameter(
                f"Invalid value {raw!r} for parameter '{field_name}': it must be a 64-bit integer, between "
                f"{INT64_MIN} and {INT64_MAX}."
            )
        return int(raw)
    if isinstance(raw, str) and len(raw) <= 40:
        try:
            return check_int64(field_name, int(raw))
        except ValueError:
            pass
    shown = repr(raw) if not isinstance(raw, str) or len(raw) <= 40 else f"'{raw[:40]}...'"
    raise InvalidParameter(f"Invalid value {shown} for parameter '{field_name}': expected an integer.")


def metric_to_wire(value: float) -> float | str:
    """JSON has no NaN/Infinity; protobuf JSON spells them as strings, which the mlflow client parses."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
