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
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        app.include_router(experiments.router, prefix=prefix)
        app.include_router(runs.router, prefix=prefix)
        app.include_router(logged_models.router, prefix=prefix)
        app.include_router(registry.router, prefix=prefix)
        app.include_router(artifacts.tracking_router, prefix=prefix)
    for prefix in ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"):
        app.include_router(artifacts.proxy_router, prefix=prefix)
    for prefix in ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow"):
        app.include_router(server_info.router, prefix=prefix)
