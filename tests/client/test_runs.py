"""Run lifecycle and logging through the client, against the real server, values checked."""

from __future__ import annotations

import math

import pytest

from modelyard.client import Client, ModelyardError
from modelyard.schemas import Metric
from tests.conftest import LiveServer


def test_start_run_records_everything_and_finishes(client: Client) -> None:
    exp = client.set_experiment("lifecycle")
    with client.start_run(exp.experiment_id, run_name="baseline", tags={"stage": "dev"}) as run:
        run.log_param("lr", 0.01)
        run.log_params({"epochs": 3, "optimizer": "adam"})
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        run.set_tag("note", "first try")
        run.set_tags({"k1": "v1", "k2": 2})
        assert run.info.status == "RUNNING"

    got = client.get_run(run.run_id)
    assert got.info.run_name == "baseline"
    assert got.info.experiment_id == exp.experiment_id
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= (got.info.start_time or 0)
    assert got.data.params == {"lr": "0.01", "epochs": "3", "optimizer": "adam"}
    assert got.data.metric_values == {"loss": pytest.approx(1 / 3), "acc": 0.9, "f1": 0.8}
    latest_loss = got.data.latest("loss")
    assert latest_loss is not None and latest_loss.step == 2
    tags = got.data.tags
    assert tags["stage"] == "dev" and tags["note"] == "first try" and tags["k2"] == "2"
    assert tags["mlflow.runName"] == "baseline"
    assert tags["mlflow.source.type"] == "LOCAL"


def test_exception_in_block_fails_the_run(client: Client) -> None:
    with pytest.raises(RuntimeError, match="boom"), client.start_run(capture_env=False) as run:
        raise RuntimeError("boom")
    assert client.get_run(run.run_id).info.status == "FAILED"


def test_end_run_with_status(client: Client) -> None:
    run = client.create_run("0", run_name="manual")
    info = client.end_run(run.info.run_id, status="KILLED")
    assert info.status == "KILLED"
    assert info.end_time is not None


def test_metric_history_keeps_steps_and_timestamps(client: Client) -> None:
    run_id = client.create_run().info.run_id
    for step in range(5):
        client.log_metric(run_id, "rmse", 10.0 - step, step=step, timestamp=1_000 + step)
    client.log_metric(run_id, "odd", math.nan, step=0, timestamp=5)
    client.log_metric(run_id, "odd", math.inf, step=1, timestamp=6)

    history = client.get_metric_history(run_id, "rmse")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(s, 10.0 - s, 1_000 + s) for s in range(5)]
    odd = client.get_metric_history(run_id, "odd")
    assert math.isnan(odd[0].value) and odd[1].value == math.inf
    assert client.get_metric_history(run_id, "never-logged") == []


def test_retried_metric_point_is_not_duplicated(client: Client) -> None:
    run_id = client.create_run().info.run_id
    for _ in range(2):
        client.log_metric(run_id, "x", 1.5, step=3, timestamp=42)
    assert len(client.get_metric_history(run_id, "x")) == 1


def test_params_are_immutable(client: Client) -> None:
    run_id = client.create_run().info.run_id
    client.log_param(run_id, "lr", "0.1")
    client.log_param(run_id, "lr", "0.1")  # the same value again is fine (a retry)
    with pytest.raises(ModelyardError) as info:
        client.log_param(run_id, "lr", "0.2")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.status_code == 400
    assert client.get_run(run_id).data.params == {"lr": "0.1"}


def test_log_batch_splits_big_batches(client: Client) -> None:
    run_id = client.create_run().info.run_id
    metrics = [
        Metric(key=f"m{k}", value=k * 1000 + s, timestamp=s, step=s) for k in range(25) for s in range(100)
    ]
    params = {f"p{i}": i for i in range(250)}
    tags = {f"t{i}": f"v{i}" for i in range(150)}
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    run = client.get_run(run_id)
    assert run.data.params == {k: str(v) for k, v in params.items()}
    assert {k: run.data.tags[k] for k in tags} == tags
    assert len(run.data.metric_values) == 25
    history = client.get_metric_history(run_id, "m7")
    assert [m.value for m in history] == [7000.0 + s for s in range(100)]


def test_delete_tag(client: Client) -> None:
    run_id = client.create_run().info.run_id
    client.set_tag(run_id, "temp", "x")
    client.delete_tag(run_id, "temp")
    assert "temp" not in client.get_run(run_id).data.tags


def test_log_input_dataset(client: Client) -> None:
    run_id = client.create_run().info.run_id
    schema = {"columns": [{"name": "age", "type": "long"}]}
    for _ in range(2):  # logging the same dataset again records it once
        client.log_input(
            run_id,
            name="customers",
            digest="abc123",
            source="s3://bucket/customers.parquet",
            schema=schema,
            profile='{"num_rows": 100}',
            context="training",
        )
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0].dataset
    assert (ds.name, ds.digest, ds.source, ds.source_type) == (
        "customers",
        "abc123",
        "s3://bucket/customers.parquet",
        "s3",
    )
    assert ds.schema_ == '{"columns":[{"name":"age","type":"long"}]}'
    assert ds.profile == '{"num_rows": 100}'
    assert inputs[0].tags == {"mlflow.data.context": "training"}


def test_delete_and_restore_run(client: Client) -> None:
    run_id = client.create_run().info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(ModelyardError):
        client.log_param(run_id, "a", "b")
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_start_run_by_experiment_name(client: Client) -> None:
    with client.start_run(experiment_name="by-name", capture_env=False, capture_code=False) as run:
        pass
    exp = client.get_experiment_by_name("by-name")
    assert exp is not None and run.info.experiment_id == exp.experiment_id


def test_nested_run_records_parent(client: Client) -> None:
    with (
        client.start_run(capture_env=False) as parent,
        client.start_run(parent_run_id=parent.run_id) as child,
    ):
        pass
    assert client.get_run(child.run_id).data.tags["mlflow.parentRunId"] == parent.run_id


def test_a_failing_block_is_not_masked_when_the_server_is_gone(
    client: Client, live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(RuntimeError, match="training diverged"), client.start_run(capture_env=False) as run:
        live_server.stop()
        raise RuntimeError("training diverged")
    assert f"could not mark run {run.run_id} FAILED" in caplog.text
