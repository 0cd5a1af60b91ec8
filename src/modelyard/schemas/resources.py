"""The resource API's fixed shapes, as the OpenAPI document describes them: ``_info``, the list query's
filter, multi-action bodies, and the bodies and answers of the ``deployment`` and ``quota`` resources
(whose bodies are JSON documents, not form fields). What differs per resource (its columns, its form
fields) is described from its declaration by ``api/resources/openapi.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from modelyard.domain.deployments import MAX_PREDICTORS, MAX_REPLICAS
from modelyard.domain.quotas import MAX_QUOTA_COUNT
from modelyard.schemas.api_types import Answer, StrictBody

ModelUri = Annotated[
    str,
    Field(
        pattern=r"^(models:/[^/@]+(/[1-9][0-9]*|@[A-Za-z0-9_-]+)|runs:/[0-9a-f]{32}/\S+)$",
        description="models:/<name>/<version>, models:/<name>@<alias> or runs:/<run_id>/<path>.",
    ),
]
DeploymentName = Annotated[
    str,
    Field(
        pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$",
        description="1-40 lowercase letters, digits and '-', starting with a letter (part of the endpoint's URL).",
    ),
]


class ResourceInfo(Answer):
    """``GET /<resource>/api/_info``: what a generic UI needs to draw the resource's pages."""

    name: str
    label: str
    description: str
    route_base: str
    primary_key: str
    columns: list[dict[str, Any]]
    list_columns: list[str]
    show_columns: list[str]
    label_columns: dict[str, str]
    add_columns: list[dict[str, Any]]
    edit_columns: list[dict[str, Any]]
    filters: dict[str, list[dict[str, str]]]
    actions: dict[str, dict[str, Any]]
    permissions: list[str]


# ---- deployments ---------------------------------------------------------------------------------
class Resources(StrictBody):
    cpu: float | str | None = Field(default=None, description="Cores: 0.5 or '500m'.")
    memory: float | str | None = Field(default=None, description="e.g. '512Mi', '2Gi' or a number of MiB.")
    gpu: int = Field(default=0, ge=0, le=64)


class Batching(StrictBody):
    max_batch_size: int = Field(default=0, ge=0, le=100_000, description="0: no batching.")
    max_batch_wait_ms: float = Field(default=5.0, ge=0, le=10_000)


class Predictor(StrictBody):
    name: str = Field(default="main", pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
    model: ModelUri
    replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    resources: Resources = Field(default_factory=Resources)
    instance_type: str = Field(default="", max_length=64)
    env: dict[str, str] = Field(default_factory=dict, description="NAME: value; MODELYARD_* are reserved.")
    traffic: int = Field(
        default=100, ge=0, le=100, description="Percent; the predictors' shares add up to 100."
    )
    batching: Batching = Field(default_factory=Batching)


class Endpoint(StrictBody):
    access: Literal["public", "private"] = "public"


class DeploymentSpecFields(StrictBody):
    display_name: str = Field(default="", max_length=250)
    description: str = Field(default="", max_length=4000)
    stage: Literal["staging", "production"] = "staging"
    stop: bool = False
    endpoint: Endpoint = Field(default_factory=Endpoint)


class CreateDeployment(DeploymentSpecFields):
    """``POST /deployment/api/``: a name, the owning group (default: the caller's) and the spec."""

    name: DeploymentName
    group: str | None = None
    predictors: list[Predictor] = Field(min_length=1, max_length=MAX_PREDICTORS)


class PredictorPatch(StrictBody):
    """A predictor in an update: matched to the current one by name; fields left out keep their values."""

    name: str | None = None
    model: ModelUri | None = None
    replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    resources: Resources | None = None
    instance_type: str | None = Field(default=None, max_length=64)
    env: dict[str, str] | None = None
    traffic: int | None = Field(default=None, ge=0, le=100)
    batching: Batching | None = None


class UpdateDeployment(StrictBody):
    """``PUT /deployment/api/<id>``: the fields given replace the current ones."""

    display_name: str | None = Field(default=None, max_length=250)
    description: str | None = Field(default=None, max_length=4000)
    stage: Literal["staging", "production"] | None = None
    stop: bool | None = None
    endpoint: Endpoint | None = None
    predictors: list[PredictorPatch] | None = Field(default=None, min_length=1, max_length=MAX_PREDICTORS)


class DeployModel(StrictBody):
    model: ModelUri
    name: DeploymentName | None = None
    group: str | None = None


class Scale(StrictBody):
    replicas: int = Field(ge=0, le=MAX_REPLICAS)
    predictor: str | None = Field(default=None, description="Needed when the deployment has several.")


class Restart(StrictBody):
    predictor: str | None = Field(
        default=None, description="Restart only this predictor's replicas; default: every predictor's."
    )


class Rollback(StrictBody):
    to: int = Field(default=1, ge=0, description="A history index: 1 is the spec before the current one.")


class Promote(StrictBody):
    name: DeploymentName
    overrides: dict[str, Any] | None = Field(
        default=None, description="Spec fields that differ in production."
    )


class CreateClientToken(StrictBody):
    name: str | None = Field(default=None, max_length=200)


class DeploymentStatus(Answer):
    phase: str
    message: str
    replicas: int
    available_replicas: int
    endpoint: str
    replicas_detail: list[dict[str, Any]]


class Deployment(Answer):
    """A deployment as ``DeploymentService`` shows it, with the URL of each protocol's endpoint."""

    id: int
    name: str
    group: str | None
    owner: str
    stage: str
    spec: dict[str, Any]
    models: dict[str, Any]
    status: DeploymentStatus
    history: list[dict[str, Any]]
    promoted_from: int | None
    created_at: int
    updated_at: int
    urls: dict[str, str]


class ClientToken(Answer):
    id: int
    name: str
    prefix: str


class RevokedToken(Answer):
    id: int
    revoked: bool


class LogLine(BaseModel):
    replica: str
    line: str


class LogLines(Answer):
    lines: list[LogLine]
    count: int


class LogsQuery(BaseModel):
    replica: str | None = Field(default=None, description="One replica's name; default: all.")
    tail: int | None = Field(
        default=None, ge=0, le=10_000, description="Lines from the end (default 100; 10 with follow)."
    )
    follow: bool | None = Field(
        default=None, description="Stream new lines as text/plain until the client hangs up."
    )
    all: bool | None = Field(
        default=None,
        description="Also the replicas that are gone (replaced, scaled down, failed); default: only "
        "the replicas the deployment has now.",
    )


# ---- quotas --------------------------------------------------------------------------------------
class EditQuota(StrictBody):
    """Fields left out keep their values; ``null`` removes a limit."""

    cpu: float | str | None = Field(default=None, description="Cores, e.g. 4 or '500m'.")
    memory: float | str | None = Field(default=None, description="e.g. '8Gi' or '512Mi'.")
    gpu: int | None = Field(default=None, ge=0, le=MAX_QUOTA_COUNT)
    deployments: int | None = Field(default=None, ge=0, le=MAX_QUOTA_COUNT)
    deployments_enabled: bool | None = None


class QuotaLimits(Answer):
    cpu: str | None
    memory: str | None
    gpu: int | None
    deployments: int | None
    deployments_enabled: bool


class QuotaUsage(Answer):
    cpu: str
    memory: str
    gpu: int
    deployments: int


class GroupQuota(Answer):
    group: str
    quota: QuotaLimits
    usage: QuotaUsage
