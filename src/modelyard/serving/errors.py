"""Errors the model server answers with: each carries its HTTP status and an MLflow-style error code.

They are transport-neutral: the dataplane raises them, and the HTTP layer writes each protocol's own
error shape around the same status and message (Seldon's ``status`` object, V2's ``{"error"}``,
MLflow's ``{"error_code", "message"}``). Messages are written for the person who sent the request.
"""

from __future__ import annotations

from modelyard.domain.errors import DomainError, ErrorCode


class ServingError(DomainError):
    """Base: a request the server refuses, or could not answer."""

    status: int = 400
    code = ErrorCode.BAD_REQUEST


class BadRequest(ServingError):
    """The body cannot be read as the protocol's message (invalid JSON, missing fields, ragged rows...)."""


class SignatureMismatch(ServingError):
    """The data does not fit the model's signature: a missing column, a wrong type or shape."""

    code = ErrorCode.INVALID_PARAMETER_VALUE


class ModelRejectedInput(ServingError):
    """The model's own input validation refused the data (it raised ValueError or TypeError)."""


class PayloadTooLarge(ServingError):
    status = 413
    code = ErrorCode.REQUEST_LIMIT_EXCEEDED

    @classmethod
    def of(cls, size: int, limit: int) -> PayloadTooLarge:
        return cls(
            f"the request body ({size} bytes) is larger than this server's limit of {limit} bytes "
            "(--max-body-bytes)"
        )


class UnsupportedMediaType(ServingError):
    status = 415


class EndpointNotFound(ServingError):
    status = 404
    code = ErrorCode.ENDPOINT_NOT_FOUND


class ModelNotFound(ServingError):
    status = 404
    code = ErrorCode.RESOURCE_DOES_NOT_EXIST


class MethodNotAllowed(ServingError):
    status = 405
    code = ErrorCode.ENDPOINT_NOT_FOUND


class ModelNotReady(ServingError):
    status = 503
    code = ErrorCode.TEMPORARILY_UNAVAILABLE


class InternalError(ServingError):
    """A bug of the server's own: answered as a 500 so the process keeps serving."""

    status = 500
    code = ErrorCode.INTERNAL_ERROR


class ModelFailed(ServingError):
    """The model raised while predicting (anything but an input complaint)."""

    status = 500
    code = ErrorCode.INTERNAL_ERROR
