"""Convert run to model: ``POST /model_version/api/`` registers the model a run logged as a new version.

Real models: a scikit-learn model logged with ``modelyard.log_model`` (run artifacts + history tag) and
with the official ``mlflow`` client (an MLflow 3 logged model); each is registered, downloaded or
loaded back, and predicts what the model in memory predicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import modelyard
from modelyard.client import Client
from modelyard.domain.identity import Principal
from modelyard.models import load_model, save_model
from modelyard.services import Services
from modelyard.storage.orm import AuditEventRow, RegisteredModelRow
from tests.api.identity_helpers import group_id, ok, refused
from tests.conftest import LiveServer, UserCreds
from tests.models.trained import Iris

API = "/api/2.0/mlflow"


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.url, backoff=0.01) as c:
        yield c


def convert(http: TestClient, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return http.post("/model_version/api/", json=body, headers=headers)


@pytest.fixture(scope="module")
def iris() -> Iris:
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True, as_frame=True)
    return Iris(X=features, y=labels)


@pytest.fixture(scope="module")
def sk_model(iris: Iris) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300).fit(iris.X, iris.y)


def events(services: Services, resource_type: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(resource name, action, actor, changes) of the audit events on one kind of resource, oldest first."""
    with services.db.read() as s:
        rows = s.execute(
            select(
                AuditEventRow.resource_name, AuditEventRow.action, AuditEventRow.actor, AuditEventRow.changes
            )
            .where(AuditEventRow.resource_type == resource_type)
            .order_by(AuditEventRow.seq)
        )
        return [(r, a, who, c) for r, a, who, c in rows]


def model_names(services: Services) -> list[str]:
    with services.db.read() as s:
        return list(s.scalars(select(RegisteredModelRow.name).order_by(RegisteredModelRow.name)))


def test_a_run_logged_with_modelyard_becomes_a_version_that_loads_back(
    http: TestClient, client: Client, services: Services, iris: Iris, sk_model: Any, tmp_path: Path
) -> None:
    with client.start_run(run_name="train-iris") as run:
        client.log_params(run.run_id, {"C": 1.0})
        modelyard.log_model(sk_model, "model", run=run, input_example=iris.X.head(3))

    created = ok(convert(http, name="iris", run_id=run.run_id, description="first try"), 201)
    artifact_uri = client.get_run(run.run_id).info.artifact_uri
    assert {k: created[k] for k in ("name", "version", "source", "run_id", "model_id", "description")} == {
        "name": "iris",
        "version": 1,
        "source": f"runs:/{run.run_id}/model",
        "run_id": run.run_id,
        "model_id": None,
        "description": "first try",
    }
    assert created["storage_location"] == f"{artifact_uri}/model"
    assert (created["current_stage"], created["status"], created["user_id"]) == ("None", "READY", "admin")
    assert [r["run_uuid"] for r in created["run"]] == [run.run_id]

    # the model was created, in the run's group (the default group here), with the version
    model = ok(http.get(f"/registered_model/api/{created['registered_model_id']}"))
    default_group = group_id(services, Principal.system(), "default")
    assert (model["name"], model["group_id"], model["version_count"]) == ("iris", default_group, 1)

    # through the MLflow API it is an ordinary version
    mv = http.get(f"{API}/model-versions/get", params={"name": "iris", "version": "1"}).json()[
        "model_version"
    ]
    assert (mv["source"], mv["run_id"], mv["status"]) == (f"runs:/{run.run_id}/model", run.run_id, "READY")

    # downloaded, it loads with modelyard's loaders and with mlflow's pyfunc, and predicts the same
    local = client.registry.download("iris", 1, tmp_path / "iris-v1")
    expected = sk_model.predict(iris.X)
    np.testing.assert_array_equal(load_model(local).predict(iris.X), expected)
    import mlflow.pyfunc

    np.testing.assert_array_equal(mlflow.pyfunc.load_model(str(local)).predict(iris.X), expected)

    # registering again adds version 2 to the existing model
    second = ok(convert(http, name="iris", run_id=run.run_id), 201)
    assert (second["version"], second["registered_model_id"]) == (2, created["registered_model_id"])
    assert model_names(services) == ["iris"]

    assert [e[:3] for e in events(services, "registered_model")] == [("iris", "create", "admin")]
    versions = events(services, "model_version")
    assert [e[:3] for e in versions] == [("iris/1", "create", "admin"), ("iris/2", "create", "admin")]
    assert versions[0][3]["after"]["source"] == f"runs:/{run.run_id}/model"
    assert versions[0][3]["after"]["run_id"] == run.run_id


@pytest.fixture
def mlflow_module(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The ``mlflow`` module pointed at the live server, its fluent state reset around the test."""
    import mlflow
    from mlflow.tracking import fluent

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    mlflow.set_tracking_uri(live_server.url)
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.mark.mlflow_client
def test_a_run_logged_with_the_mlflow_client_registers_its_logged_model(
    http: TestClient, mlflow_module: Any, iris: Iris, sk_model: Any
) -> None:
    mlflow = mlflow_module
    mlflow.set_experiment("convert-mlflow")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(sk_model, name="model", pip_requirements=["scikit-learn"])

    created = ok(convert(http, name="iris-mlflow", run_id=run.info.run_id), 201)
    assert (created["source"], created["model_id"], created["run_id"]) == (
        f"models:/{info.model_id}",
        info.model_id,
        run.info.run_id,
    )
    loaded = mlflow.pyfunc.load_model("models:/iris-mlflow/1")
    np.testing.assert_array_equal(loaded.predict(iris.X), sk_model.predict(iris.X))


def test_a_model_uploaded_by_hand_is_found_in_the_artifacts(
    http: TestClient, client: Client, sk_model: Any, tmp_path: Path
) -> None:
    save_model(sk_model, tmp_path / "saved")
    with client.start_run() as run:
        client.log_artifacts(run.run_id, tmp_path / "saved", artifact_path="exports/churn")
        client.log_artifact(run.run_id, tmp_path / "saved" / "requirements.txt", artifact_path="notes")
    created = ok(convert(http, name="by-hand", run_id=run.run_id), 201)
    assert created["source"] == f"runs:/{run.run_id}/exports/churn"


def test_several_models_need_a_path(http: TestClient, client: Client, sk_model: Any) -> None:
    with client.start_run() as run:
        modelyard.log_model(sk_model, "model", run=run)
        modelyard.log_model(sk_model, "models/small", run=run)
    message = refused(convert(http, name="two", run_id=run.run_id), 400, "artifact_path")
    assert message == (
        f"Run {run.run_id} logged 2 models (at 'model', 'models/small'); say which one to register with "
        "artifact_path (CLI: --path)."
    )
    created = ok(convert(http, name="two", run_id=run.run_id, artifact_path="models/small/"), 201)
    assert created["source"] == f"runs:/{run.run_id}/models/small"
    missing = refused(convert(http, name="two", run_id=run.run_id, artifact_path="nope"), 400)
    assert missing == (
        f"Run {run.run_id} has no model at artifact path 'nope' (no MLmodel file there); its models are "
        "at 'model', 'models/small'."
    )


def test_bad_input_is_refused_with_the_cause_and_creates_nothing(
    http: TestClient, client: Client, services: Services, tmp_path: Path
) -> None:
    with client.start_run() as empty:
        client.log_param(empty.run_id, "lr", 0.1)
    message = refused(convert(http, name="nothing", run_id=empty.run_id), 400)
    assert message == (
        f"Run {empty.run_id} has no logged model; log one with mlflow.<flavor>.log_model or "
        "modelyard.log_model and register it again."
    )

    refused(convert(http, name="nothing", run_id="f" * 32), 404, f"Run with id={'f' * 32} not found")
    refused(convert(http, name="nothing"), 400, "run_id")
    refused(convert(http, name="bad/name", run_id=empty.run_id), 400, "Invalid model name 'bad/name'")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "MLmodel").write_text("flavors: [not, a, mapping]\n")
    with client.start_run() as run:
        client.log_artifacts(run.run_id, broken, artifact_path="model")
    message = refused(convert(http, name="nothing", run_id=run.run_id), 400, "malformed MLmodel file")
    assert message.startswith(f"Run {run.run_id}'s model at 'model' has a malformed MLmodel file: ")

    assert model_names(services) == []  # no model was left behind by a refused conversion
    assert events(services, "model_version") == []


def test_other_groups_cannot_convert_or_see_the_run(
    http: TestClient,
    client: Client,
    services: Services,
    live_server: LiveServer,
    make_user: Callable[..., UserCreds],
    sk_model: Any,
) -> None:
    with client.start_run() as run:  # in the default group, which bob is not in
        modelyard.log_model(sk_model, "model", run=run)
    bob = make_user("bob", group="team-b")
    refused(convert(http, bob.headers, name="stolen", run_id=run.run_id), 404, f"Run with id={run.run_id}")
    assert model_names(services) == []

    # bob's own run: registered in his group; a name another group holds is refused as taken
    ok(convert(http, name="taken", run_id=run.run_id), 201)
    with Client(live_server.url, token=bob.token) as as_bob, as_bob.start_run(experiment_name="bob") as own:
        modelyard.log_model(sk_model, "model", run=own)
    refused(convert(http, bob.headers, name="taken", run_id=own.run_id), 400, "(name=taken) already exists")
    mine = ok(convert(http, bob.headers, name="bobs", run_id=own.run_id), 201)
    assert mine["group_id"] == group_id(services, Principal.system(), "team-b")
    form = orjson.dumps({"filters": [{"col": "name", "opr": "sw", "value": ""}]}).decode()
    listed = ok(http.get("/registered_model/api/", params={"form_data": form}, headers=bob.headers))
    assert [m["name"] for m in listed["data"]] == ["bobs"]
