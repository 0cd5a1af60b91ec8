"""The MLflow tracking API's requests and answers (experiments, runs, metrics, artifacts, logged models),
as the OpenAPI document describes them.

Bodies follow MLflow's protos as the official client sends them; the limits are the ones the routes'
parsers enforce (``api/mlflow/wire.py``, ``domain.tracking``). GET parameters are query models: one field
per query parameter, a list field being a repeated parameter (``?run_ids=a&run_ids=b``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from modelyard.domain.tracking import (
    MAX_DATASET_DIGEST_LENGTH,
    MAX_DATASET_NAME_LENGTH,
    MAX_DATASET_PROFILE_LENGTH,
    MAX_DATASET_SCHEMA_LENGTH,
    MAX_DATASET_SOURCE_LENGTH,
    MAX_ENTITY_NAME_LENGTH,
    MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    MAX_KEY_LENGTH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_PARAMS_PER_BATCH,
    MAX_RUN_NAME_LENGTH,
    MAX_SOURCE_TYPE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS_PER_BATCH,
    MAX_USER_ID_LENGTH,
    METRIC_HISTORY_PAGE,
    SEARCH_EXPERIMENTS_MAX,
    SEARCH_RUNS_MAX,
)
from modelyard.schemas.api_types import Answer, Body, Int64, MetricNumber
from modelyard.schemas.tracking import Experiment, FileInfo, Metric, Run, RunInfo

MAX_ID_LENGTH = 64
RunStatus = Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]
ViewType = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]
Key = Annotated[
    str, Field(min_length=1, max_length=MAX_KEY_LENGTH, description="Letters, digits, _ - . / : and spaces.")
]
RunId = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, description="The run's id (32 hex digits).")
]
ExperimentId = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, description="The experiment's id (digits).")
]
PageToken = Annotated[str | None, Field(description="The next_page_token of the previous page.")]
Filter = Annotated[str | None, Field(description="A search filter in MLflow's grammar.")]


# ---- pieces --------------------------------------------------------------------------------------
class ParamIn(BaseModel):
    key: Key
    value: str = Field(default="", max_length=MAX_PARAM_VALUE_LENGTH)


class RunTagIn(BaseModel):
    key: Key
    value: str = Field(default="", max_length=MAX_TAG_VALUE_LENGTH)


class ExperimentTagIn(BaseModel):
    key: Key
    value: str = Field(default="", max_length=MAX_EXPERIMENT_TAG_VALUE_LENGTH)


class MetricIn(BaseModel):
    """One point of a metric: a value at a time (ms since the epoch) and a step."""

    key: Key
    value: MetricNumber
    timestamp: Int64
    step: Int64 = 0
    model_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH, description="A logged model's id.")
    dataset_name: str | None = Field(default=None, max_length=MAX_DATASET_NAME_LENGTH)
    dataset_digest: str | None = Field(default=None, max_length=MAX_DATASET_DIGEST_LENGTH)


class CodeVersionIn(BaseModel):
    """Where the run's code came from (modelyard extension)."""

    repo: str | None = Field(default=None, max_length=1000)
    commit: str | None = Field(default=None, max_length=1000)
    branch: str | None = Field(default=None, max_length=1000)
    dirty: bool | None = None


class EnvironmentIn(BaseModel):
    """What the run ran on (modelyard extension)."""

    python_version: str | None = Field(default=None, max_length=1000)
    platform: str | None = Field(default=None, max_length=1000)
    packages: dict[str, str] = Field(default_factory=dict, max_length=2000)


class DatasetIn(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_DATASET_NAME_LENGTH)
    digest: str = Field(min_length=1, max_length=MAX_DATASET_DIGEST_LENGTH)
    source_type: str = Field(min_length=1, max_length=MAX_SOURCE_TYPE_LENGTH)
    source: str = Field(min_length=1, max_length=MAX_DATASET_SOURCE_LENGTH)
    schema_: str | None = Field(default=None, alias="schema", max_length=MAX_DATASET_SCHEMA_LENGTH)
    profile: str | None = Field(default=None, max_length=MAX_DATASET_PROFILE_LENGTH)


class InputTagIn(BaseModel):
    key: str = Field(min_length=1)
    value: str = ""


class DatasetInputIn(BaseModel):
    dataset: DatasetIn
    tags: list[InputTagIn] = Field(default_factory=list)


class ModelInputIn(BaseModel):
    model_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)


class ModelOutputIn(BaseModel):
    model_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    step: Int64 = 0


# ---- experiments ---------------------------------------------------------------------------------
class CreateExperiment(Body):
    name: str = Field(min_length=1, max_length=MAX_ENTITY_NAME_LENGTH)
    artifact_location: str | None = Field(
        default=None,
        max_length=4096,
        description="Where the experiment's artifacts go; members may choose only under a configured root.",
    )
    tags: list[ExperimentTagIn] = Field(default_factory=list)
    project: int | str | None = Field(
        default=None, description="modelyard: the project (id or name); default: the actor's group's."
    )


class ExperimentIdBody(Body):
    experiment_id: ExperimentId


class UpdateExperiment(Body):
    experiment_id: ExperimentId
    new_name: str | None = Field(default=None, min_length=1, max_length=MAX_ENTITY_NAME_LENGTH)


class SetExperimentTag(Body):
    experiment_id: ExperimentId
    key: Key
    value: str = Field(default="", max_length=MAX_EXPERIMENT_TAG_VALUE_LENGTH)


class DeleteExperimentTag(Body):
    experiment_id: ExperimentId
    key: Key


class SearchExperiments(Body):
    max_results: int | None = Field(default=None, ge=1, le=SEARCH_EXPERIMENTS_MAX)
    filter: Filter = None
    order_by: list[str] = Field(default_factory=list)
    page_token: PageToken = None
    view_type: ViewType | None = None


class SearchExperimentsQuery(BaseModel):
    max_results: int | None = Field(default=None, ge=1, le=SEARCH_EXPERIMENTS_MAX)
    filter: Filter = None
    order_by: list[str] = Field(default_factory=list)
    page_token: PageToken = None
    view_type: ViewType | None = None


class ExperimentIdQuery(BaseModel):
    experiment_id: ExperimentId


class ExperimentNameQuery(BaseModel):
    experiment_name: str = Field(min_length=1, max_length=MAX_ENTITY_NAME_LENGTH)


class ExperimentIdAnswer(Answer):
    experiment_id: str


class ExperimentAnswer(Answer):
    experiment: Experiment


class ExperimentsPage(Answer):
    experiments: list[Experiment] = Field(default_factory=list)
    next_page_token: str | None = None


# ---- runs ----------------------------------------------------------------------------------------
class CreateRun(Body):
    experiment_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH, description="Default: '0'.")
    user_id: str | None = Field(default=None, max_length=MAX_USER_ID_LENGTH)
    start_time: Int64 | None = None
    tags: list[RunTagIn] = Field(default_factory=list, max_length=MAX_TAGS_PER_BATCH)
    run_name: str | None = Field(default=None, max_length=MAX_RUN_NAME_LENGTH)
    code_version: CodeVersionIn | None = None
    environment: EnvironmentIn | None = None


class UpdateRun(Body):
    run_id: RunId
    status: RunStatus | None = None
    end_time: Int64 | None = None
    run_name: str | None = Field(default=None, max_length=MAX_RUN_NAME_LENGTH)


class RunIdBody(Body):
    run_id: RunId


class LogMetric(Body):
    run_id: RunId
    key: Key
    value: MetricNumber
    timestamp: Int64
    step: Int64 = 0
    model_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    dataset_name: str | None = Field(default=None, max_length=MAX_DATASET_NAME_LENGTH)
    dataset_digest: str | None = Field(default=None, max_length=MAX_DATASET_DIGEST_LENGTH)


class LogParam(Body):
    run_id: RunId
    key: Key
    value: str = Field(default="", max_length=MAX_PARAM_VALUE_LENGTH)


class SetRunTag(Body):
    run_id: RunId
    key: Key
    value: str = Field(default="", max_length=MAX_TAG_VALUE_LENGTH)


class DeleteRunTag(Body):
    run_id: RunId
    key: Key


class LogBatch(Body):
    """Up to 1,000 metrics, 100 params and 100 tags in one transaction (MLflow's limits)."""

    run_id: RunId
    metrics: list[MetricIn] = Field(default_factory=list, max_length=MAX_METRICS_PER_BATCH)
    params: list[ParamIn] = Field(default_factory=list, max_length=MAX_PARAMS_PER_BATCH)
    tags: list[RunTagIn] = Field(default_factory=list, max_length=MAX_TAGS_PER_BATCH)


class LogInputs(Body):
    run_id: RunId
    datasets: list[DatasetInputIn] = Field(default_factory=list)
    models: list[ModelInputIn] = Field(default_factory=list)


class LogOutputs(Body):
    run_id: RunId
    models: list[ModelOutputIn] = Field(default_factory=list)


class SearchRuns(Body):
    experiment_ids: list[str] = Field(default_factory=list)
    filter: Filter = None
    run_view_type: ViewType | None = None
    max_results: int | None = Field(default=None, ge=1, le=SEARCH_RUNS_MAX)
    order_by: list[str] = Field(default_factory=list)
    page_token: PageToken = None


class RunIdQuery(BaseModel):
    run_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    run_uuid: str | None = Field(
        default=None, min_length=1, max_length=MAX_ID_LENGTH, description="Older name of run_id."
    )


class MetricHistoryQuery(RunIdQuery):
    metric_key: Key
    max_results: int | None = Field(default=None, ge=1, le=METRIC_HISTORY_PAGE)
    page_token: PageToken = None


class MetricHistoryBulkQuery(BaseModel):
    run_ids: list[str] = Field(default_factory=list, max_length=100)
    metric_key: Key
    start_step: Int64 | None = None
    end_step: Int64 | None = None
    max_results: int | None = Field(default=None, ge=1, le=1000)


class RunAnswer(Answer):
    run: Run


class RunInfoAnswer(Answer):
    run_info: RunInfo


class RunsPage(Answer):
    runs: list[Run] = Field(default_factory=list)
    next_page_token: str | None = None


class MetricsPage(Answer):
    metrics: list[Metric] = Field(default_factory=list)
    next_page_token: str | None = None


# ---- artifacts -----------------------------------------------------------------------------------
class ListRunArtifactsQuery(RunIdQuery):
    path: str | None = Field(default=None, max_length=1024, description="A directory under the run's root.")
    page_token: str | None = Field(default=None, description="Accepted; one page holds a whole directory.")


class ProxiedPathQuery(BaseModel):
    path: str | None = Field(default=None, max_length=1024, description="<experiment>/<run>/artifacts/...")


class RunArtifacts(Answer):
    root_uri: str
    files: list[FileInfo] = Field(default_factory=list)


class ProxiedFiles(Answer):
    files: list[FileInfo] = Field(default_factory=list)


# ---- logged models -------------------------------------------------------------------------------
LoggedModelStatus = Literal[
    "LOGGED_MODEL_STATUS_UNSPECIFIED",
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
]


class CreateLoggedModel(Body):
    experiment_id: ExperimentId
    name: str | None = Field(default=None, max_length=MAX_ENTITY_NAME_LENGTH)
    model_type: str | None = Field(default=None, max_length=500)
    source_run_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    params: list[ParamIn] = Field(default_factory=list)
    tags: list[RunTagIn] = Field(default_factory=list)


class SearchLoggedModels(Body):
    experiment_ids: list[str] = Field(default_factory=list)
    max_results: int | None = Field(default=None, ge=1, le=1000)
    page_token: PageToken = None
    filter: Filter = None


class FinalizeLoggedModel(Body):
    status: LoggedModelStatus


class LoggedModelTags(Body):
    tags: list[RunTagIn] = Field(default_factory=list)


class LoggedModelParams(Body):
    params: list[ParamIn] = Field(default_factory=list)


class KeyValue(BaseModel):
    key: str
    value: str = ""


class LoggedModelInfo(Answer):
    model_id: str
    experiment_id: str
    name: str
    creation_timestamp_ms: int
    last_updated_timestamp_ms: int
    artifact_uri: str
    status: LoggedModelStatus
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: list[KeyValue] = Field(default_factory=list)


class LoggedModelData(Answer):
    params: list[KeyValue] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)


class LoggedModel(Answer):
    info: LoggedModelInfo
    data: LoggedModelData


class LoggedModelAnswer(Answer):
    model: LoggedModel


class LoggedModelsPage(Answer):
    models: list[LoggedModel] = Field(default_factory=list)
    next_page_token: str | None = None


class ServerInfo(Answer):
    store_type: str
    workspaces_enabled: bool
    features_enabled: dict[str, bool] = Field(default_factory=dict)
