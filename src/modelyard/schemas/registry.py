"""The MLflow model registry API's requests and answers (``model_registry.proto``), as the OpenAPI
document describes them. Versions are strings of digits on the wire (``"3"``); the limits are those of
``domain.registry``. DELETE routes take their parameters as a JSON body, as MLflow's client sends them
(the query string works too)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from modelyard.domain.registry import (
    MAX_ALIAS_LENGTH,
    MAX_MODEL_NAME_LENGTH,
    MAX_REGISTRY_TAG_VALUE_LENGTH,
    SEARCH_MODEL_VERSIONS_MAX,
    SEARCH_REGISTERED_MODELS_MAX,
)
from modelyard.domain.tracking import MAX_KEY_LENGTH
from modelyard.schemas.api_types import Answer, Body
from modelyard.schemas.tracking_api import KeyValue

ModelName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_MODEL_NAME_LENGTH, pattern=r"^[^/:]+$", description="No '/' or ':'."),
]
Version = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,9}$", description="A version number, e.g. '3'.")]
Alias = Annotated[str, Field(min_length=1, max_length=MAX_ALIAS_LENGTH, pattern=r"^[\w\-]+$")]
TagKey = Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH)]
TagValue = Annotated[str, Field(max_length=MAX_REGISTRY_TAG_VALUE_LENGTH)]
Stage = Literal["None", "Staging", "Production", "Archived"]
VersionStatus = Literal["PENDING_REGISTRATION", "FAILED_REGISTRATION", "READY"]


class RegistryTag(BaseModel):
    key: TagKey
    value: TagValue = ""


# ---- answers -------------------------------------------------------------------------------------
class ModelVersion(Answer):
    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    status: VersionStatus
    user_id: str | None = None
    description: str | None = None
    run_id: str | None = None
    status_message: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    tags: list[KeyValue] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)


class AliasEntry(BaseModel):
    alias: str
    version: str


class RegisteredModel(Answer):
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = Field(default_factory=list)
    tags: list[KeyValue] = Field(default_factory=list)
    aliases: list[AliasEntry] = Field(default_factory=list)


class RegisteredModelAnswer(Answer):
    registered_model: RegisteredModel


class RegisteredModelsPage(Answer):
    registered_models: list[RegisteredModel] = Field(default_factory=list)
    next_page_token: str | None = None


class ModelVersionAnswer(Answer):
    model_version: ModelVersion


class ModelVersionsPage(Answer):
    model_versions: list[ModelVersion] = Field(default_factory=list)
    next_page_token: str | None = None


class ModelVersions(Answer):
    model_versions: list[ModelVersion] = Field(default_factory=list)


class DownloadUri(Answer):
    artifact_uri: str


# ---- registered models ---------------------------------------------------------------------------
class CreateRegisteredModel(Body):
    name: ModelName
    description: str | None = None
    tags: list[RegistryTag] = Field(default_factory=list)
    group: str | None = Field(default=None, description="modelyard: the owning group; default: the actor's.")


class ModelNameBody(Body):
    name: ModelName


class ModelNameQuery(BaseModel):
    name: ModelName


class RenameRegisteredModel(Body):
    name: ModelName
    new_name: ModelName


class UpdateRegisteredModel(Body):
    name: ModelName
    description: str | None = None


class SearchQuery(BaseModel):
    filter: str | None = Field(default=None, description="A search filter in MLflow's grammar.")
    max_results: int | None = Field(default=None, ge=1, le=SEARCH_REGISTERED_MODELS_MAX)
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class SearchVersionsQuery(SearchQuery):
    max_results: int | None = Field(default=None, ge=1, le=SEARCH_MODEL_VERSIONS_MAX)


class LatestVersions(Body):
    name: ModelName
    stages: list[Stage] = Field(default_factory=list)


class LatestVersionsQuery(BaseModel):
    name: ModelName
    stages: list[Stage] = Field(default_factory=list)


class SetRegisteredModelTag(Body):
    name: ModelName
    key: TagKey
    value: TagValue = ""


class DeleteRegisteredModelTag(Body):
    name: ModelName
    key: TagKey


class SetAlias(Body):
    name: ModelName
    alias: Alias
    version: Version


class DeleteAlias(Body):
    name: ModelName
    alias: Alias


class AliasQuery(BaseModel):
    name: ModelName
    alias: Alias


# ---- model versions ------------------------------------------------------------------------------
class CreateModelVersion(Body):
    name: ModelName
    source: str = Field(
        min_length=1,
        max_length=4096,
        description="Where the model's files are: an artifact URI inside the run's or logged model's artifacts.",
    )
    run_id: str | None = Field(default=None, max_length=64)
    model_id: str | None = Field(default=None, max_length=64)
    tags: list[RegistryTag] = Field(default_factory=list)
    run_link: str | None = None
    description: str | None = None


class VersionBody(Body):
    name: ModelName
    version: Version


class VersionQuery(BaseModel):
    name: ModelName
    version: Version


class UpdateModelVersion(Body):
    name: ModelName
    version: Version
    description: str | None = None


class TransitionStage(Body):
    name: ModelName
    version: Version
    stage: Stage
    archive_existing_versions: bool = False


class SetModelVersionTag(Body):
    name: ModelName
    version: Version
    key: TagKey
    value: TagValue = ""


class DeleteModelVersionTag(Body):
    name: ModelName
    version: Version
    key: TagKey
