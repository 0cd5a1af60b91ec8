"""Domain errors. Each carries an MLflow-style error code; one API handler maps codes to HTTP."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
    BAD_REQUEST = "BAD_REQUEST"
    RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
    RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
    ABORTED = "ABORTED"
    REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class DomainError(Exception):
    """Base of every error a user can cause. ``message`` is written for a person."""

    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(DomainError):
    code = ErrorCode.INVALID_PARAMETER_VALUE


class NotFound(DomainError):
    code = ErrorCode.RESOURCE_DOES_NOT_EXIST


class HiddenNotFound(NotFound):
    """A resource that exists but that the caller may not see: answered exactly like a missing one,
    and audited as a refused attempt (``group_id`` says whose resource it was)."""

    def __init__(self, message: str, *, group_id: int | None = None) -> None:
        super().__init__(message)
        self.group_id = group_id


class AlreadyExists(DomainError):
    code = ErrorCode.RESOURCE_ALREADY_EXISTS


class Conflict(DomainError):
    code = ErrorCode.RESOURCE_CONFLICT


class PermissionDenied(DomainError):
    code = ErrorCode.PERMISSION_DENIED

    def __init__(self, message: str, *, group_id: int | None = None) -> None:
        super().__init__(message)
        self.group_id = group_id


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class NotImplementedFeature(DomainError):
    code = ErrorCode.NOT_IMPLEMENTED
