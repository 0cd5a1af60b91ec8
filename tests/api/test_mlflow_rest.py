"""MLflow REST API behaviour at the wire level: shapes, limits, errors, idempotency, concurrency."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.conftest import LiveServer, auth_header

API = "/api/2.0/mlflow"


def _run(http: TestClient, **extra: Any) -> str:
    r = http.post(f"{API}/runs/create", json={"experiment_id": "0", "start_time": 1000, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["run"]["info"]["run_id"])


def test_default_experiment_and_mirror(http: TestClient) -> None:
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        r = http.get(f"{prefix}/experiments/get-by-name", params={"experiment_name": "Default"})
        assert r.status_code == 200
        exp = r.json()["experiment"]
        assert exp["experiment_id"] == "0"
        assert exp["lifecycle_stage"] == "active"
        assert isinstance(exp["creation_time"], int)


def test_missing_experiment_is_404_with_code(http: TestClient) -> None:
    r = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": "nope"})
    assert r.status_code == 404
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "nope" in r.json()["message"]


def test_run_shape_omits_empty_fields_and_uses_numbers(http: TestClient) -> None:
    run_id = _run(http, run_name="shape")
    body = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert body["info"]["start_time"] == 1000
    assert "end_time" not in body["info"]
    assert body["info"]["artifact_uri"] == f"mlflow-artifacts:/0/{run_id}/artifacts"
    assert body["data"] == {"tags": [{"key": "mlflow.runName", "value": "shape"}]}


def test_log_batch_retry_does_not_duplicate(http: TestClient) -> None:
    run_id = _run(http)
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": i / 10, "timestamp": 5000 + i, "step": i} for i in range(50)],
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "t", "value": "x"}],
    }
    for _ in range(3):  # the mlflow client retries a POST whose answer it did not see
        r = http.post(f"{API}/runs/log-batch", json=batch)
        assert r.status_code == 200, r.text
        assert r.json() == {}
    hist = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()[
        "metrics"
    ]
    assert len(hist) == 50
    assert [p["step"] for p in hist] == list(range(50))
    run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["data"]["metrics"] == [{"key": "m", "value": 4.9, "timestamp": 5049, "step": 49}]


def test_run_create_retry_returns_same_run(http: TestClient) -> None:
    a = _run(http, run_name="retry-me", tags=[{"key": "k", "value": "v"}])
    b = _run(http, run_name="retry-me", tags=[{"key": "k", "value": "v"}])
    assert a == b
    c = http.post(
        f"{API}/runs/create", json={"experiment_id": "0"}, headers={"Idempotency-Key": "abc"}
    ).json()
    d = http.post(
        f"{API}/runs/create", json={"experiment_id": "0"}, headers={"Idempotency-Key": "abc"}
    ).json()
    assert c["run"]["info"]["run_id"] == d["run"]["info"]["run_id"]


def test_latest_metric_is_max_step_not_last_write(http: TestClient) -> None:
    run_id = _run(http)
    for step, value in [(5, 0.5), (2, 0.2), (7, 0.7), (3, 0.3)]:
        http.post(
            f"{API}/runs/log-metric",
            json={"run_id": run_id, "key": "acc", "value": value, "timestamp": 10, "step": step},
        )
    run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["data"]["metrics"][0]["value"] == 0.7


def test_nan_and_infinity_round_trip(http: TestClient) -> None:
    run_id = _run(http)
    body = (
        '{"run_id": "RUN", "metrics": [{"key": "a", "value": NaN, "timestamp": 1, "step": 0},'
        '{"key": "b", "value": "Infinity", "timestamp": 1, "step": 0},'
        '{"key": "c", "value": "-Infinity", "timestamp": 1, "step": 0}]}'
    ).replace("RUN", run_id)
    r = http.post(f"{API}/runs/log-batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    metrics = {
        m["key"]: m["value"]
        for m in http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]["metrics"]
    }
    assert metrics == {"a": "NaN", "b": "Infinity", "c": "-Infinity"}


def test_bad_input_gets_clear_errors_and_writes_nothing(http: TestClient) -> None:
    run_id = _run(http)
    cases = [
        (b"{not json", "Malformed JSON"),
        (b"[1, 2]", "JSON object"),
    ]
    for raw, needle in cases:
        r = http.post(f"{API}/runs/log-batch", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert needle in r.json()["message"]

    too_many = [{"key": "m", "value": 1, "timestamp": i, "step": i} for i in range(1001)]
    r = http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": too_many})
    assert r.status_code == 400 and "at most 1000 metrics" in r.json()["message"]

    r = http.post(
        f"{API}/runs/log-batch",
        json={
            "run_id": run_id,
            "metrics": [
                {"key": "ok", "value": 1, "timestamp": 1},
                {"key": "bad", "value": "x", "timestamp": 1},
            ],
        },
    )
    assert r.status_code == 400 and "'bad'" in r.json()["message"]

    r = http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "x" * 6001})
    assert r.status_code == 400 and "6000" in r.json()["message"]

    r = http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "../etc", "value": "1"})
    assert r.status_code == 400 and "Invalid param name" in r.json()["message"]

    r = http.post(
        f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m", "value": 1, "timestamp": "soon"}
    )
    assert r.status_code == 400 and "timestamp" in r.json()["message"]

    r = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "max_results": 50001})
    assert r.status_code == 400 and "max_results" in r.json()["message"]

    r = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "page_token": "garbage!"})
    assert r.status_code == 400 and "page token" in r.json()["message"]

    # nothing from the refused requests was written
    run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["data"].get("metrics") is None
    assert run["data"].get("params") is None


def test_changing_a_param_is_refused(http: TestClient) -> None:
    run_id = _run(http)
    assert (
        http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "1"}).status_code
        == 200
    )
    assert (
        http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "1"}).status_code
        == 200
    )
    r = http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "2"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'p' (old '1', new '2')" in r.json()["message"]


def test_unknown_endpoint_and_delete_with_body(http: TestClient) -> None:
    r = http.get(f"{API}/no/such/thing")
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    exp = http.post(f"{API}/experiments/create", json={"name": "tagged"}).json()["experiment_id"]
    http.post(f"{API}/experiments/set-experiment-tag", json={"experiment_id": exp, "key": "k", "value": "v"})
    r = http.post(f"{API}/experiments/delete-experiment-tag", json={"experiment_id": exp, "key": "k"})
    assert r.status_code == 200
    assert (
        "tags" not in http.get(f"{API}/experiments/get", params={"experiment_id": exp}).json()["experiment"]
    )


def test_oversized_body_is_413(http: TestClient) -> None:
    r = http.post(
        f"{API}/runs/log-batch",
        content=b"x" * (65 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert "limit" in r.json()["message"]


def test_concurrent_writers_lose_nothing(live_server: LiveServer, admin_token: str) -> None:
    headers = auth_header(admin_token)
    with httpx.Client(base_url=live_server.url, headers=headers) as c:
        run_id = c.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    errors: list[str] = []

    def writer(worker: int) -> None:
        with httpx.Client(base_url=live_server.url, timeout=60, headers=headers) as c:
            for batch in range(10):
                metrics = [
                    {
                        "key": f"w{worker}",
                        "value": float(i),
                        "timestamp": batch * 1000 + i,
                        "step": batch * 100 + i,
                    }
                    for i in range(100)
                ]
                r = c.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
                if r.status_code != 200:
                    errors.append(r.text)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with httpx.Client(base_url=live_server.url, headers=headers) as c:
        for w in range(6):
            hist = c.get(
                f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": f"w{w}"}
            ).json()
            assert len(hist["metrics"]) == 1000


def test_out_of_range_experiment_id_is_400(http: TestClient) -> None:
    r = http.get(f"{API}/experiments/get", params={"experiment_id": "3000000000"})
    assert r.status_code == 400
    assert "between 0 and" in r.json()["message"]
    r = http.post(f"{API}/runs/search", json={"experiment_ids": ["-1"]})
    assert r.status_code == 400
