"""The one exception the client raises for anything the server (or the way to it) refused."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

# Codes for failures that never got an answer from the server; every other code is the server's own.
SERVER_UNREACHABLE = "SERVER_UNREACHABLE"
BAD_RESPONSE = "BAD_RESPONSE"

_CODE_FOR_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    413: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
}


class ModelyardError(Exception):
    """A request failed. ``error_code`` is the server's (MLflow's) code, e.g. ``RESOURCE_DOES_NOT_EXIST``;
    ``status_code`` is the HTTP status, or None when no response came back."""

    def __init__(self, message: str, *, error_code: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.error_code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"ModelyardError(error_code={self.error_code!r}, status_code={self.status_code!r}, "
            f"message={self.message!r})"
        )

    @property
    def not_found(self) -> bool:
        return self.error_code == "RESOURCE_DOES_NOT_EXIST"


def error_from_response(response: httpx.Response) -> ModelyardError:
    """Map an HTTP error response (MLflow ``{error_code, message}`` or the resource envelope) to an error."""
    status = response.status_code
    body: Any = None
    with contextlib.suppress(ValueError):
        body = response.json()
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = body.get("error_code")
        return ModelyardError(
            body["message"],
            error_code=code if isinstance(code, str) and code else _default_code(status),
            status_code=status,
        )
    text = response.text.strip()
    detail = text[:300] if text else response.reason_phrase
    return ModelyardError(
        f"{response.request.method} {response.request.url.path} answered HTTP {status}: {detail}",
        error_code=_default_code(status),
        status_code=status,
    )


def _default_code(status: int) -> str:
    return _CODE_FOR_STATUS.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
