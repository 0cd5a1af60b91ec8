"""Resolving --model-uri: local directories, and models:/ and runs:/ URIs downloaded from a real
modelyard server (registered with the official mlflow client) with the token from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelyard.serving.runtime import ModelRuntime
from modelyard.serving.source import ModelSourceError, resolve, tracking_url
from tests.conftest import LiveServer
from tests.models.trained import Iris
from tests.serving import test_runtime_kit as kit

iris_dir = kit.iris_dir  # fixtures shared by the serving tests


def test_a_local_directory(iris_dir: Path) -> None:
    source = resolve(str(iris_dir))
    assert (source.local_dir, source.name, source.version) == (iris_dir.resolve(), "iris", None)
    assert resolve(f"file://{iris_dir}").local_dir == iris_dir.resolve()


def test_local_mistakes(tmp_path: Path) -> None:
    with pytest.raises(ModelSourceError, match="does not exist"):
        resolve(str(tmp_path / "nope"))
    with pytest.raises(ModelSourceError, match="is not a model directory: it has no MLmodel file"):
        resolve(str(tmp_path))


def test_tracking_url_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracking_url() == "http://127.0.0.1:5050"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000/")
    assert tracking_url() == "http://mlflow:5000"
    monkeypatch.setenv("MODELYARD_URL", "http://yard:1")
    assert tracking_url() == "http://yard:1"
    assert tracking_url("https://explicit") == "https://explicit"


def test_registry_uris_download_the_version(
    live_server: LiveServer, tmp_path: Path, iris: Iris, sk_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    mlflow.set_tracking_uri(live_server.url)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(
            sk_model, name="model", registered_model_name="iris-served", input_example=iris.X.head(2)
        )
    MlflowClient(live_server.url).set_registered_model_alias("iris-served", "champion", "1")

    for uri, version in (
        ("models:/iris-served/1", "1"),
        ("models:/iris-served@champion", "1"),
        ("models:/iris-served/latest", "1"),
        (f"runs:/{run.info.run_id}/model", None),
    ):
        source = resolve(uri, download_dir=tmp_path / "cache")
        assert (source.local_dir / "MLmodel").is_file(), uri
        assert (source.name, source.version) == ("iris-served" if version else "model", version)
        runtime = ModelRuntime(source.local_dir, name=source.name)
        runtime.load()
        assert runtime.ready, uri

    again = resolve("models:/iris-served/1", download_dir=tmp_path / "cache")  # reused, not fetched again
    assert (
        again.local_dir == resolve("models:/iris-served@champion", download_dir=tmp_path / "cache").local_dir
    )

    with pytest.raises(ModelSourceError, match="model 'iris-served' version 7 not found on"):
        resolve("models:/iris-served/7", download_dir=tmp_path / "cache")
    monkeypatch.setenv("MODELYARD_TOKEN", "not-a-token")
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    with pytest.raises(ModelSourceError, match=r"refused access .*\(HTTP 401.*set MODELYARD_TOKEN"):
        resolve("models:/iris-served/1", download_dir=tmp_path / "other")


def test_an_unreachable_server(tmp_path: Path) -> None:
    with pytest.raises(ModelSourceError, match=r"cannot reach the tracking server at http://127\.0\.0\.1:9"):
        resolve("models:/m/1", tracking_uri="http://127.0.0.1:9", download_dir=tmp_path)
    with pytest.raises(ModelSourceError, match="is not one of models:/<name>/<version>"):
        resolve("models:/", tracking_uri="http://127.0.0.1:9", download_dir=tmp_path)
