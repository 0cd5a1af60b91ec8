"""``modelyard runs show`` lists the models a run logged and the registered versions made from it: models
logged with ``modelyard.log_model`` (the run's log-model history) and with the official mlflow client
(MLflow 3 logged models, ``logged-models/search``), versions from ``model-versions/search``."""

from __future__ import annotations

import json
from typing import Any

import pytest

import modelyard
from modelyard.client import Client
from tests.api.test_registry_convert import mlflow_module  # noqa: F401 (fixture)
from tests.cli.conftest import Invoke
from tests.cli.test_models_cli import ok
from tests.models.trained import Iris, iris, sk_model  # noqa: F401 (fixtures)


def rows(text: str) -> list[tuple[str, ...]]:
    """The rows of the tables in ``text`` (headers too), as their cells' text."""
    lines = [line.replace("┃", "│").strip() for line in text.splitlines()]
    return [tuple(cell.strip() for cell in line.strip("│").split("│")) for line in lines if "│" in line]


def test_models_logged_with_modelyard_and_their_versions(
    cli: Invoke,
    client: Client,
    sk_model: Any,  # noqa: F811
) -> None:
    with client.start_run(experiment_name="churn", run_name="gbm") as run:
        modelyard.log_model(sk_model, "model", run=run)
        modelyard.log_model(sk_model, "models/small", run=run)
    client.registry.register_from_run(run.run_id, "churn", artifact_path="model")
    client.registry.register_from_run(run.run_id, "churn", artifact_path="models/small")
    client.registry.set_alias("churn", "champion", 2)

    out = ok(cli("runs", "show", run.run_id))
    table = rows(out)
    assert "Logged models" in out and ("Name", "Model ID", "Load with", "Status") in table
    assert ("model", "-", f"runs:/{run.run_id}/model", "-") in table
    assert ("models/small", "-", f"runs:/{run.run_id}/models/small", "-") in table
    assert "Registered versions" in out
    assert ("churn", "1", "None", "-", "READY", f"runs:/{run.run_id}/model") in table
    assert ("churn", "2", "None", "@champion", "READY", f"runs:/{run.run_id}/models/small") in table
    assert "mlflow.log-model.history" not in out  # shown as models, not as a tag
    # models come before the artifacts
    assert out.index("Registered versions") < out.index("Artifacts")

    shown = json.loads(ok(cli("runs", "show", run.run_id, "--json")))
    assert shown["info"]["run_id"] == run.run_id  # the run as the API returns it, plus:
    assert shown["logged_models"] == []  # none of MLflow 3's kind
    assert [(v["name"], v["version"], v.get("aliases", [])) for v in shown["model_versions"]] == [
        ("churn", "2", ["champion"]),
        ("churn", "1", []),
    ]


def test_a_run_without_models(cli: Invoke, client: Client) -> None:
    with client.start_run(experiment_name="churn") as run:
        client.log_param(run.run_id, "lr", 0.1)
    out = ok(cli("runs", "show", run.run_id))
    assert "Logged models" not in out and "Registered versions" not in out
    shown = json.loads(ok(cli("runs", "show", run.run_id, "--json")))
    assert (shown["logged_models"], shown["model_versions"]) == ([], [])


@pytest.mark.mlflow_client
def test_models_logged_with_the_mlflow_client(
    cli: Invoke,
    mlflow_module: Any,  # noqa: F811
    sk_model: Any,  # noqa: F811
) -> None:
    mlflow = mlflow_module
    mlflow.set_experiment("churn-mlflow")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            sk_model, name="model", pip_requirements=["scikit-learn"], registered_model_name="churn"
        )
    run_id = run.info.run_id

    table = rows(ok(cli("runs", "show", run_id)))
    assert ("model", info.model_id, f"models:/{info.model_id}", "ready") in table
    assert ("churn", "1", "None", "-", "READY", f"models:/{info.model_id}") in table
    shown = json.loads(ok(cli("runs", "show", run_id, "--json")))
    [logged] = shown["logged_models"]
    assert (logged["info"]["model_id"], logged["info"]["source_run_id"]) == (info.model_id, run_id)
    assert [(v["name"], v["run_id"]) for v in shown["model_versions"]] == [("churn", run_id)]
