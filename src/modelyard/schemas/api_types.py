"""Building blocks of the request and answer schemas that the OpenAPI document is generated from.

The routes parse requests by hand (MLflow's error codes, cheap hot paths); these models describe what
those parsers accept in its canonical form (int64 as JSON numbers, ``{key, value}`` lists) and what the
answers hold, with the limits the parsers enforce. They are never used to parse a request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelyard.domain.values import INT64_MAX, INT64_MIN

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""A 64-bit integer (MLflow's int64): anything outside is refused, never clamped."""

NonNegativeInt64 = Annotated[int, Field(ge=0, le=INT64_MAX)]

MetricNumber = float | Literal["NaN", "Infinity", "-Infinity"]
"""A metric value: a JSON number, or protobuf JSON's spelling of a non-finite double."""


class Body(BaseModel):
    """A request body whose unknown fields are ignored (MLflow's clients send fields of newer versions)."""

    model_config = ConfigDict(extra="ignore")


class StrictBody(BaseModel):
    """A request body whose unknown fields are refused with a 400 that names them."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """An answer's schema: fields it may hold besides these are allowed (extensions, newer fields)."""

    model_config = ConfigDict(extra="allow")


class MlflowError(BaseModel):
    """Every refusal on the MLflow API (``/api/2.0/...``): MLflow's error code and a message to act on."""

    error_code: str = Field(
        description="e.g. INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, PERMISSION_DENIED"
    )
    message: str


class ResourceError(BaseModel):
    """Every refusal on the resource API and the platform's other routes: the envelope with a non-zero
    ``status`` (the HTTP status) and a message that names the field and the problem."""

    status: int = Field(description="The HTTP status of the answer (never 0).")
    message: str
    error_code: str | None = Field(default=None, description="The error's code, as on the MLflow API.")
    result: dict[str, object] = Field(default_factory=dict)


class Empty(BaseModel):
    """An answer with nothing to say but success: ``{}``."""

    model_config = ConfigDict(extra="forbid")
