"""The MLflow REST API as the official client uses it, from the MLflow protos.

Every route is served under ``/api/2.0/mlflow`` and mirrored under ``/ajax-api/2.0/mlflow``; the
artifact proxy under ``/api/2.0/mlflow-artifacts``; MLflow 3's server-info under ``/api/3.0/mlflow``.
Bodies are parsed with orjson by hand (not pydantic models) so that errors carry MLflow's codes and
messages, and the hot logging paths stay cheap.
"""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.api.mlflow import artifacts, experiments, logged_models, registry, runs, server_info


def mount_mlflow(app: FastAPI) -> None:
    # The /ajax-api mirror (what MLflow's web UI calls) is the same API: the OpenAPI document lists it once.
    for prefix, listed in (("/api/2.0/mlflow", True), ("/ajax-api/2.0/mlflow", False)):
        app.include_router(
            experiments.router, prefix=prefix, tags=["MLflow: experiments"], include_in_schema=listed
        )
        app.include_router(runs.router, prefix=prefix, tags=["MLflow: runs"], include_in_schema=listed)
        app.include_router(
            logged_models.router, prefix=prefix, tags=["MLflow: logged models"], include_in_schema=listed
        )
        app.include_router(
            registry.router, prefix=prefix, tags=["MLflow: model registry"], include_in_schema=listed
        )
        app.include_router(
            artifacts.tracking_router, prefix=prefix, tags=["MLflow: artifacts"], include_in_schema=listed
        )
    for prefix, listed in (("/api/2.0/mlflow-artifacts", True), ("/ajax-api/2.0/mlflow-artifacts", False)):
        app.include_router(
            artifacts.proxy_router, prefix=prefix, tags=["MLflow: artifacts"], include_in_schema=listed
        )
    for prefix, listed in (("/api/3.0/mlflow", True), ("/ajax-api/3.0/mlflow", False)):
        app.include_router(
            server_info.router, prefix=prefix, tags=["MLflow: server"], include_in_schema=listed
        )
