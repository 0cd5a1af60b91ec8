"""``modelyard.log_model`` against a real server: the model lands in the run's artifacts and loads back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelyard
from modelyard.client import Client
from modelyard.domain.errors import InvalidParameter
from modelyard.models import load_model
from tests.conftest import LiveServer
from tests.models.trained import Iris


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.url, backoff=0.01) as c:
        yield c


def test_log_model_uploads_and_loads_back(tmp_path: Path, client: Client, iris: Iris, sk_model: Any) -> None:
    with client.start_run(run_name="train") as run:
        info = modelyard.log_model(sk_model, "model", run=run, input_example=iris.X.head(2))
        modelyard.log_model(sk_model, "models/second", run=run.run_id, client=client)

    assert info.model_uri == f"runs:/{run.run_id}/model"
    names = {f.path for f in client.list_artifacts(run.run_id, "model")}
    assert {"model/MLmodel", "model/model.pkl", "model/requirements.txt", "model/input_example.json"} <= names

    local = client.download_artifacts(run.run_id, "model", tmp_path)
    loaded = load_model(local)
    assert loaded.spec.run_id == run.run_id and loaded.spec.artifact_path == "model"
    assert loaded.spec.model_uuid == info.spec.model_uuid
    np.testing.assert_array_equal(loaded.predict(iris.X), sk_model.predict(iris.X))

    history = json.loads(client.get_run(run.run_id).data.tags["mlflow.log-model.history"])
    assert [h["artifact_path"] for h in history] == ["model", "models/second"]
    assert "sklearn" in history[0]["flavors"]


def test_log_model_refuses_a_path_escaping_the_run(client: Client, sk_model: Any) -> None:
    with client.start_run() as run, pytest.raises(InvalidParameter, match="relative path"):
        modelyard.log_model(sk_model, "../outside", run=run)
