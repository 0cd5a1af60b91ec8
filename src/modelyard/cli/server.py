"""``modelyard server``: run the whole platform in one process."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import typer
import uvicorn
from fastapi import FastAPI

from modelyard import userconfig
from modelyard.api.app import create_app
from modelyard.services.container import bootstrap_admin, prepare_storage
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
    no_auth: bool = typer.Option(
        False, "--no-auth", help="Serve without authentication (local experiments only; loopback hosts only)."
    ),
    force: bool = typer.Option(False, "--force", help="With --no-auth: allow a non-loopback host anyway."),
) -> None:
    """Start the modelyard server: tracking (MLflow-compatible API), model registry, deployments and
    their gateway, resource API, metrics."""
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
    if no_auth:
        overrides["auth"] = False
    settings = Settings(**overrides).resolved()
    if not settings.auth and not is_loopback(settings.host) and not force:
        typer.secho(
            f"Refusing to serve without authentication on {settings.host}: anyone who can reach it could "
            "read and change everything. Use a loopback host, or add --force if you really mean it.",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    prepare_storage(settings)
    if settings.auth:
        announce_first_admin(settings)
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
    settings = settings.model_copy(update={"migrate_on_start": False})
    if settings.workers <= 1:
        app = create_app(settings)
        tune_gc()
        uvicorn.run(app, **common)
        return
    # Several processes: each worker builds the app from the environment.
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            os.environ[f"MODELYARD_{name.upper()}"] = str(value)
    os.environ["MODELYARD_MIGRATE_ON_START"] = "false"
    uvicorn.run("modelyard.cli.server:worker_app", factory=True, workers=settings.workers, **common)


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def announce_first_admin(settings: Settings) -> None:
    """On an empty installation, create the first admin and a token, show it once, and save it in the
    user's config file so the CLI and modelyard.Client on this machine work without flags."""
    created = bootstrap_admin(settings)
    if created is None:
        return
    username, token = created
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{shown_host}:{settings.port}"
    path = userconfig.save_credentials(url, username, token)
    typer.secho("\nFirst start: created the platform admin user 'admin' and an API token:", fg="green")
    typer.secho(f"\n    {token}\n", bold=True)
    typer.echo(
        "It is shown only this once. It is saved for this machine's CLI and modelyard.Client in "
        f"{path} (mode 0600).\nUse it from the mlflow client with:  export MLFLOW_TRACKING_TOKEN={token}\n"
    )


def worker_app() -> FastAPI:
    """The app of one worker process (``--workers`` > 1), configured from ``MODELYARD_*`` variables."""
    app = create_app(Settings().resolved())
    tune_gc()
    return app
