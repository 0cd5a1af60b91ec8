"""Wire schemas: the JSON shapes of the tracking API as pydantic models, shared by server and client.

These mirror MLflow's protobuf JSON (snake_case fields, ``{key, value}`` lists, int64 as numbers,
empty fields omitted) plus modelyard's two extensions on a run, ``code_version`` and
``environment``. They are pure data: no I/O, nothing of ours imported but ``modelyard.schemas``.
Parsing is lenient the way the official client is: unknown fields are ignored, int64 may arrive as
a string of digits, and metric values may be spelled ``"NaN"`` / ``"Infinity"``.

The other modules describe the API's requests and answers for its OpenAPI document
(``tracking_api``, ``registry``, ``resources``, with ``api_types``); they take their limits from
``modelyard.domain``, where the request parsers take them too.
"""

from modelyard.schemas.tracking import (
    CodeVersion,
    Dataset,
    DatasetInput,
    Environment,
    Experiment,
    ExperimentTag,
    FileInfo,
    InputTag,
    Metric,
    ModelInput,
    ModelOutput,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunTag,
)

__all__ = [
    "CodeVersion",
    "Dataset",
    "DatasetInput",
    "Environment",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InputTag",
    "Metric",
    "ModelInput",
    "ModelOutput",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunOutputs",
    "RunTag",
]
