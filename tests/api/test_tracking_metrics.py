"""``GET /metrics`` counts the tracking writes the server committed, by kind; refused writes count
nothing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

API = "/api/2.0/mlflow"
KINDS = ("runs", "metrics", "params", "tags", "inputs")


def writes(http: TestClient) -> dict[str, float]:
    text = http.get("/metrics").text
    assert "# TYPE modelyard_tracking_writes_total counter" in text
    found = dict(re.findall(r'^modelyard_tracking_writes_total\{kind="(\w+)"\} (\S+)$', text, re.MULTILINE))
    return {kind: float(found[kind]) for kind in KINDS}


def test_tracking_writes_are_counted_by_kind(http: TestClient) -> None:
    assert writes(http) == dict.fromkeys(KINDS, 0.0)
    experiment = http.post(f"{API}/experiments/create", json={"name": "counted"}).json()["experiment_id"]
    run_id = http.post(f"{API}/runs/create", json={"experiment_id": experiment}).json()["run"]["info"][
        "run_id"
    ]
    metric = {"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
    batch = {
        "run_id": run_id,
        "metrics": [{**metric, "step": i} for i in range(3)],
        "params": [{"key": "lr", "value": "0.1"}, {"key": "depth", "value": "3"}],
        "tags": [{"key": "team", "value": "a"}],
    }
    assert http.post(f"{API}/runs/log-batch", json=batch).status_code == 200
    assert http.post(f"{API}/runs/log-metric", json={"run_id": run_id, **metric}).status_code == 200
    assert (
        http.post(
            f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "seed", "value": "7"}
        ).status_code
        == 200
    )
    assert (
        http.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "stage", "value": "dev"}).status_code
        == 200
    )
    dataset = {"name": "iris", "digest": "d1", "source_type": "local", "source": "/data/iris.csv"}
    inputs = {"run_id": run_id, "datasets": [{"dataset": dataset}]}
    assert http.post(f"{API}/runs/log-inputs", json=inputs).status_code == 200
    # refused: a bad metric key, a param changed after it was logged, a run that does not exist
    bad = {"run_id": run_id, "metrics": [{**metric, "key": "../x"}], "params": [{"key": "p", "value": "1"}]}
    assert http.post(f"{API}/runs/log-batch", json=bad).status_code == 400
    assert (
        http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "9"}).status_code
        == 400
    )
    assert http.post(f"{API}/runs/log-metric", json={"run_id": "0" * 32, **metric}).status_code == 404

    assert writes(http) == {"runs": 1.0, "metrics": 4.0, "params": 3.0, "tags": 2.0, "inputs": 1.0}
