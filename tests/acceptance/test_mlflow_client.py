"""Acceptance: the official mlflow client against a live modelyard server, values checked."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.mlflow_client


def test_experiment_lifecycle(mlflow_client: Any) -> None:
    mlflow = mlflow_client
    client = mlflow.MlflowClient()
    default = client.get_experiment("0")
    assert default.name == "Default"

    exp = mlflow.set_experiment("acceptance")
    again = mlflow.set_experiment("acceptance")
    assert exp.experiment_id == again.experiment_id
    assert exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"

    client.set_experiment_tag(exp.experiment_id, "team", "vision")
    client.rename_experiment(exp.experiment_id, "acceptance-renamed")
    got = client.get_experiment_by_name("acceptance-renamed")
    assert got.experiment_id == exp.experiment_id
    assert got.tags["team"] == "vision"

    client.delete_experiment(exp.experiment_id)
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "deleted"
    names = {e.name for e in client.search_experiments()}
    assert "acceptance-renamed" not in names
    client.restore_experiment(exp.experiment_id)
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "active"

    with pytest.raises(mlflow.exceptions.MlflowException) as err:
        client.create_experiment("acceptance-renamed")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_run_logging_round_trip(mlflow_client: Any, tmp_path: Path) -> None:
    mlflow = mlflow_client
    mlflow.set_experiment("logging")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 5, "optimizer": "adam"})
        mlflow.log_param("lr", 0.01)  # same value again is accepted
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        mlflow.log_metric("weird", float("nan"))
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"owner": "ana", "purpose": "acceptance"})
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("child_metric", 3.0)
        with pytest.raises(mlflow.exceptions.MlflowException) as err:
            mlflow.log_param("lr", 0.5)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"

    client = mlflow.MlflowClient()
    run = client.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "parent"
    assert run.info.end_time is not None and run.info.end_time >= run.info.start_time
    assert run.data.params == {"lr": "0.01", "depth": "5", "optimizer": "adam"}
    assert run.data.metrics["loss"] == pytest.approx(0.2)
    assert run.data.metrics["acc"] == pytest.approx(0.9)
    assert math.isnan(run.data.metrics["weird"])
    assert run.data.tags["stage"] == "dev" and run.data.tags["owner"] == "ana"
    assert run.data.tags["mlflow.runName"] == "parent"

    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, round(m.value, 6)) for m in history] == [(s, round(1.0 / (s + 1), 6)) for s in range(5)]

    child_run = client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child_run.data.metrics == {"child_metric": 3.0}

    client.set_tag(parent.info.run_id, "temp", "x")
    client.delete_tag(parent.info.run_id, "temp")
    assert "temp" not in client.get_run(parent.info.run_id).data.tags


def test_artifacts_round_trip(mlflow_client: Any, tmp_path: Path) -> None:
    mlflow = mlflow_client
    single = tmp_path / "notes.txt"
    single.write_text("hello artifacts")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "sub" / "b.bin").write_bytes(bytes(range(256)) * 100)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifacts(str(folder), artifact_path="plots")
        mlflow.log_text("inline text", "texts/inline.txt")

    client = mlflow.MlflowClient()
    top = sorted((f.path, f.is_dir) for f in client.list_artifacts(run.info.run_id))
    assert top == [("notes.txt", False), ("plots", True), ("texts", True)]
    nested = sorted(f.path for f in client.list_artifacts(run.info.run_id, "plots"))
    assert nested == ["plots/a.csv", "plots/sub"]

    out = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / "dl")))
    assert (out / "notes.txt").read_text() == "hello artifacts"
    assert (out / "plots" / "a.csv").read_text() == "x,y\n1,2\n"
    assert (out / "plots" / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 100
    assert (out / "texts" / "inline.txt").read_text() == "inline text"


def test_log_input_dataset(mlflow_client: Any) -> None:
    import pandas as pd

    mlflow = mlflow_client
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.1, 0.2, 0.3]})
    dataset = mlflow.data.from_pandas(df, source="s3://bucket/train.csv", name="train-set")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    got = mlflow.MlflowClient().get_run(run.info.run_id)
    inputs = got.inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "train-set"
    assert inputs[0].dataset.digest == dataset.digest
    assert inputs[0].dataset.source_type == "s3"
    assert "a" in inputs[0].dataset.schema
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"


def test_sklearn_log_model_and_load(mlflow_client: Any) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_client
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(x, y)
    with mlflow.start_run() as run:
        mlflow.log_metric("train_acc", float(model.score(x, y)))
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:2])
    assert info.model_id.startswith("m-")
    logged = mlflow.MlflowClient().get_logged_model(info.model_id)
    assert logged.status.to_proto() == 2 or str(logged.status).endswith("READY")
    assert logged.source_run_id == run.info.run_id

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(x[:10]), model.predict(x[:10]))
    outputs = mlflow.MlflowClient().get_run(run.info.run_id).outputs
    assert [o.model_id for o in outputs.model_outputs] == [info.model_id]


def test_search_runs_filters_order_and_pages(mlflow_client: Any) -> None:
    mlflow = mlflow_client
    exp = mlflow.set_experiment("search")
    for i in range(30):
        with mlflow.start_run(run_name=f"r{i:02d}"):
            mlflow.log_param("group", "even" if i % 2 == 0 else "odd")
            mlflow.log_metric("score", float(i))
    client = mlflow.MlflowClient()
    runs = client.search_runs(
        [exp.experiment_id], "params.group = 'even' and metrics.score >= 10", order_by=["metrics.score DESC"]
    )
    assert [r.info.run_name for r in runs] == [f"r{i:02d}" for i in range(28, 9, -2)]

    page1 = client.search_runs([exp.experiment_id], order_by=["metrics.score ASC"], max_results=12)
    page2 = client.search_runs(
        [exp.experiment_id], order_by=["metrics.score ASC"], max_results=12, page_token=page1.token
    )
    page3 = client.search_runs(
        [exp.experiment_id], order_by=["metrics.score ASC"], max_results=12, page_token=page2.token
    )
    scores = [r.data.metrics["score"] for r in [*page1, *page2, *page3]]
    assert scores == [float(i) for i in range(30)]
    assert page3.token is None

    frame = mlflow.search_runs([exp.experiment_id], filter_string="attributes.run_name LIKE 'r2%'")
    assert sorted(frame["tags.mlflow.runName"]) == [f"r{i}" for i in range(20, 30)]


def test_delete_and_restore_run(mlflow_client: Any) -> None:
    mlflow = mlflow_client
    exp = mlflow.set_experiment("deletions")
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
    client = mlflow.MlflowClient()
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([exp.experiment_id]) == []
    deleted = client.search_runs([exp.experiment_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run.info.run_id]
    client.restore_run(run.info.run_id)
    assert [r.info.run_id for r in client.search_runs([exp.experiment_id])] == [run.info.run_id]


def test_errors_have_mlflow_codes(mlflow_client: Any) -> None:
    mlflow = mlflow_client
    client = mlflow.MlflowClient()
    with pytest.raises(mlflow.exceptions.MlflowException) as err:
        client.get_run("0" * 32)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(mlflow.exceptions.MlflowException) as err:
        client.search_runs(["0"], "metrics.x > 'abc'")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
