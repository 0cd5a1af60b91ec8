"""The gateway's own errors, in the protocol of the route that was called.

A client of a deployment speaks one protocol and parses that protocol's errors, so the gateway
answers a refusal (401, 404, 413, 503, 504...) the way the replica behind it would: by the path after
``/deployment/<name>``, with the replica's own rules (``serving/rest.py``) — ``/v2...`` is Open
Inference V2 (``{"error": "..."}``); ``/api/v...``, ``/predict`` and ``/health/...`` are Seldon
(``{"status": {"code", "info", "reason", "status": "FAILURE"}}``); everything else, ``/invocations``
and ``/ping`` first, is MLflow scoring (``{"error_code", "message"}``). Seldon's ``reason`` and
MLflow's ``error_code`` use the same names, MLflow's error codes, which the mlflow client knows.
"""

from __future__ import annotations

import orjson

SELDON, V2, MLFLOW = "seldon", "v2", "mlflow"

# HTTP status -> MLflow error code (``mlflow.exceptions`` maps these back to the same statuses,
# except 413, which the replica answers the same way)
ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    413: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    502: "TEMPORARILY_UNAVAILABLE",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def protocol_of(path: bytes) -> str:
    """The protocol of a path under ``/deployment/<name>`` (``b"/"`` for the deployment's root)."""
    if path.startswith(b"/v2"):
        return V2
    if path.startswith((b"/api/v", b"/predict", b"/health/")):
        return SELDON
    return MLFLOW


def error_code(status: int) -> str:
    return ERROR_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")


def error_body(protocol: str, status: int, message: str) -> bytes:
    if protocol == V2:
        return orjson.dumps({"error": message})
    if protocol == SELDON:
        status_object = {"code": status, "info": message, "reason": error_code(status), "status": "FAILURE"}
        return orjson.dumps({"status": status_object})
    return orjson.dumps({"error_code": error_code(status), "message": message})
