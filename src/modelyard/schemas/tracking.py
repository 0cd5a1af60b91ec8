"""Tracking wire schemas: experiments, runs (info, data, inputs, outputs), metrics, datasets, artifacts.

Repeated ``{key, value}`` fields (params, tags) are exposed as plain ``dict[str, str]`` and written back
as ``{key, value}`` lists, so ``run.data.params["lr"]`` works as it does with MLflow's own entities.
Metrics stay a list: a run's latest metrics can hold one key more than once (per model or dataset).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_serializer,
    model_validator,
)


def _kv_to_dict(raw: Any) -> Any:
    if isinstance(raw, list):
        return {str(item["key"]): "" if item.get("value") is None else str(item["value"]) for item in raw}
    return raw


def _dict_to_kv(items: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


KeyValues = Annotated[
    dict[str, str],
    BeforeValidator(_kv_to_dict),
    PlainSerializer(_dict_to_kv, return_type=list[dict[str, str]]),
]
"""A repeated ``{key, value}`` wire field, held as a dict."""


def metric_value_to_wire(value: float) -> float | str:
    """Protobuf JSON spells non-finite doubles as strings; plain JSON has no NaN or Infinity."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class WireModel(BaseModel):
    """Base of every wire schema: unknown fields ignored, numbers accepted where strings are expected."""

    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, coerce_numbers_to_str=True, defer_build=True
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict, empty fields omitted as protobuf JSON omits them."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Param(WireModel):
    key: str
    value: str = ""


class RunTag(WireModel):
    key: str
    value: str = ""


class ExperimentTag(WireModel):
    key: str
    value: str = ""


class InputTag(WireModel):
    key: str
    value: str = ""


class Metric(WireModel):
    key: str
    value: float
    timestamp: int = 0
    step: int = 0
    run_id: str | None = None
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    @field_serializer("value")
    def _value(self, value: float) -> float | str:
        return metric_value_to_wire(value)


class Experiment(WireModel):
    experiment_id: str
    name: str
    artifact_location: str = ""
    lifecycle_stage: str = "active"
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: KeyValues = Field(default_factory=dict)


class RunInfo(WireModel):
    run_id: str = ""
    run_name: str = ""
    experiment_id: str = ""
    user_id: str = ""
    status: str = "RUNNING"
    start_time: int | None = None
    end_time: int | None = None
    artifact_uri: str = ""
    lifecycle_stage: str = "active"

    @model_validator(mode="before")
    @classmethod
    def _run_uuid(cls, raw: Any) -> Any:
        # Older peers name the id only ``run_uuid``.
        if isinstance(raw, dict) and not raw.get("run_id") and raw.get("run_uuid"):
            return {**raw, "run_id": raw["run_uuid"]}
        return raw


class RunData(WireModel):
    metrics: list[Metric] = Field(default_factory=list)
    params: KeyValues = Field(default_factory=dict)
    tags: KeyValues = Field(default_factory=dict)

    @property
    def metric_values(self) -> dict[str, float]:
        """Latest value per metric key (the last one listed wins when a key repeats)."""
        return {m.key: m.value for m in self.metrics}

    def latest(self, key: str) -> Metric | None:
        """The latest point of metric ``key``, or None if it was never logged."""
        found = [m for m in self.metrics if m.key == key]
        return found[-1] if found else None


class Dataset(WireModel):
    name: str
    digest: str
    source_type: str
    source: str
    # ``schema`` would shadow a BaseModel attribute, so the field carries a trailing underscore.
    schema_: str | None = Field(default=None, alias="schema")
    profile: str | None = None


class DatasetInput(WireModel):
    dataset: Dataset
    tags: KeyValues = Field(default_factory=dict)


class ModelInput(WireModel):
    model_id: str


class ModelOutput(WireModel):
    model_id: str
    step: int = 0


class RunInputs(WireModel):
    dataset_inputs: list[DatasetInput] = Field(default_factory=list)
    model_inputs: list[ModelInput] = Field(default_factory=list)


class RunOutputs(WireModel):
    model_outputs: list[ModelOutput] = Field(default_factory=list)


class CodeVersion(WireModel):
    """Where a run's code came from (modelyard extension): git remote, commit, branch, uncommitted changes."""

    repo: str | None = None
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None


class Environment(WireModel):
    """What a run ran on (modelyard extension): Python version, platform, installed distributions."""

    python_version: str | None = None
    platform: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)


class Run(WireModel):
    info: RunInfo
    data: RunData = Field(default_factory=RunData)
    inputs: RunInputs = Field(default_factory=RunInputs)
    outputs: RunOutputs = Field(default_factory=RunOutputs)
    code_version: CodeVersion | None = None
    environment: Environment | None = None


class FileInfo(WireModel):
    """One entry of an artifact listing; ``path`` is relative to the run's artifact root."""

    path: str
    is_dir: bool = False
    file_size: int | None = None
