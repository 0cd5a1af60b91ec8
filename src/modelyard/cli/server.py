"""``modelyard server``: run the whole platform in one process."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import typer
import uvicorn
from fastapi import FastAPI

from modelyard.api.app import create_app
from modelyard.services.container import prepare_storage
from modelyard.settings import DEFAULT_PORT, Settings


def tune_gc() -> None:
    """Make the cyclic GC cheap for a long-running server.

    Responses of thousands of small objects (metric histories, run pages) trigger many young-generation
    collections, each of which used to walk every object the app built at start-up: that doubled the time
    of a 10,000-point history. Freezing moves start-up objects out of the collector's view, and a larger
    young-generation threshold makes collections rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def server(
    host: str = typer.Option(None, help="Address to bind (default 127.0.0.1; env MODELYARD_HOST)."),
    port: int = typer.Option(None, help=f"Port to listen on (default {DEFAULT_PORT}; env MODELYARD_PORT)."),
    data_dir: Path = typer.Option(
        None, help="Data directory (default ~/.modelyard; env MODELYARD_DATA_DIR)."
    ),
    backend_store_uri: str = typer.Option(
        None, help="sqlite:///path or postgresql+psycopg://... (default: SQLite in the data dir)."
    ),
    artifact_root: str = typer.Option(
        None, help="Local directory or s3://bucket/prefix (default: <data-dir>/artifacts)."
    ),
    workers: int = typer.Option(
        None, help="Server processes (default 1; env MODELYARD_WORKERS). More use more cores."
    ),
) -> None:
    """Start the modelyard server: tracking (MLflow-compatible API), resource API and UI."""
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "data_dir": data_dir,
            "backend_store_uri": backend_store_uri,
            "artifact_root": artifact_root,
            "workers": workers,
        }.items()
        if v is not None
    }
    settings = Settings(**overrides).resolved()
    typer.echo(
        f"modelyard server on http://{settings.host}:{settings.port}  "
        f"(store: {settings.database_url}, artifacts: {settings.artifact_uri}, workers: {settings.workers})"
    )
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
    }
    if settings.workers <= 1:
        app = create_app(settings)
        tune_gc()
        uvicorn.run(app, **common)
        return
    # Several processes: migrate once here, then each worker builds the app from the environment.
    prepare_storage(settings)
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            os.environ[f"MODELYARD_{name.upper()}"] = str(value)
    os.environ["MODELYARD_MIGRATE_ON_START"] = "false"
    uvicorn.run("modelyard.cli.server:worker_app", factory=True, workers=settings.workers, **common)


def worker_app() -> FastAPI:
    """The app of one worker process (``--workers`` > 1), configured from ``MODELYARD_*`` variables."""
    app = create_app(Settings().resolved())
    tune_gc()
    return app
