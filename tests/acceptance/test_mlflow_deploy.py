"""Deploying what the official mlflow client logged: MLflow 3 keeps a run's model as a logged model of
its own, so ``runs:/<run_id>/model`` must resolve to that logged model's files (not to a ``model``
folder among the run's artifacts, which MLflow 3 does not write)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from modelyard.services import Services
from tests.conftest import LiveServer, auth_header


def test_runs_uri_of_an_mlflow3_model_deploys_its_logged_model(
    mlflow_client: Any, live_server: LiveServer, admin_token: str, services: Services, tmp_path: Path
) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_client
    x, y = load_iris(return_X_y=True)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            LogisticRegression(max_iter=300).fit(x, y), name="model", registered_model_name="iris-mlflow"
        )
    logged = mlflow.MlflowClient().get_logged_model(info.model_id)
    with httpx.Client(base_url=live_server.url, headers=auth_header(admin_token)) as http:
        from_run = http.post("/deployment/api/deploy", json={"model": f"runs:/{run.info.run_id}/model"})
        from_version = http.post("/deployment/api/deploy", json={"model": "models:/iris-mlflow/1"})
    assert from_run.status_code == 201, from_run.text
    assert from_version.status_code == 201, from_version.text
    run_model = from_run.json()["result"]["models"]["main"]
    version_model = from_version.json()["result"]["models"]["main"]
    assert run_model["location"] == logged.artifact_location
    assert version_model["version"] == "1"
    # both point at files a replica can load: the MLmodel of an sklearn model is there
    for location in (run_model["location"], version_model["location"]):
        files = services.artifact_service.materialize(location, tmp_path)
        assert "sklearn" in (files / "MLmodel").read_text()
