"""Fixtures for driving the official mlflow client against a live modelyard server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer


@pytest.fixture
def mlflow_client(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The `mlflow` module pointed at the live server (fluent API state reset around each test)."""
    import mlflow

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # mlflow.set_experiment writes MLFLOW_EXPERIMENT_ID into os.environ; setting first makes
    # monkeypatch restore (remove) it after the test, so it cannot leak into the next one.
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    from mlflow.tracking import fluent

    # the fluent API remembers the active experiment across tests; each test starts from Default
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    mlflow.set_tracking_uri(live_server.url)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
