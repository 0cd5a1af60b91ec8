"""metrics/get-history on the wire: special values, models and datasets, pages, whichever way the
points were logged (batches in step order are read as they are stored, anything else is sorted)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/2.0/mlflow"


def _run(http: TestClient) -> str:
    r = http.post(f"{API}/runs/create", json={"experiment_id": "0", "run_name": "h", "start_time": 1})
    return str(r.json()["run"]["info"]["run_id"])


def _log(http: TestClient, run_id: str, points: list[dict[str, Any]]) -> None:
    r = http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": points})
    assert r.status_code == 200, r.text


def _history(http: TestClient, run_id: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of the history, following the page tokens."""
    out: list[dict[str, Any]] = []
    token = None
    while True:
        query = {"run_id": run_id, "metric_key": "m", **params, **({"page_token": token} if token else {})}
        body = http.get(f"{API}/metrics/get-history", params=query).json()
        out += body.get("metrics", [])
        token = body.get("next_page_token")
        if not token:
            return out


def _point(step: int, value: Any, **extra: Any) -> dict[str, Any]:
    return {"key": "m", "value": value, "timestamp": 100 + step, "step": step, **extra}


@pytest.mark.parametrize("order", ["in step order", "reversed batches"])
def test_special_values_in_a_history(http: TestClient, order: str) -> None:
    run_id = _run(http)
    batches = [
        [_point(0, 0.25), _point(1, "NaN"), _point(2, "Infinity")],
        [_point(3, "-Infinity"), _point(4, -0.0), _point(5, 1e300)],
    ]
    for batch in batches if order == "in step order" else batches[::-1]:
        _log(http, run_id, batch)
    expected = [
        _point(0, 0.25),
        _point(1, "NaN"),
        _point(2, "Infinity"),
        _point(3, "-Infinity"),
        _point(4, -0.0),
        _point(5, 1e300),
    ]
    assert _history(http, run_id) == expected
    assert _history(http, run_id, max_results=4) == expected  # two pages


def test_models_and_datasets_in_a_history(http: TestClient) -> None:
    run_id = _run(http)
    model = http.post(f"{API}/logged-models", json={"experiment_id": "0", "name": "mdl"}).json()
    model_id = model["model"]["info"]["model_id"]
    _log(
        http,
        run_id,
        [
            _point(0, 0.5),
            _point(1, 0.6, model_id=model_id),
            _point(2, 0.7, dataset_name="train", dataset_digest="d1"),
        ],
    )
    assert _history(http, run_id, max_results=2) == [
        _point(0, 0.5),
        _point(1, 0.6, model_id=model_id),
        _point(2, 0.7, dataset_name="train", dataset_digest="d1"),
    ]


def test_relogged_steps_are_sorted_and_exact_repeats_dropped(http: TestClient) -> None:
    run_id = _run(http)
    _log(http, run_id, [_point(0, 0.1), _point(1, 0.2), _point(2, 0.3)])
    _log(http, run_id, [_point(1, 0.2), _point(1, 0.9), _point(0, 0.05)])  # step 1 again: once the same
    assert _history(http, run_id, max_results=2) == [
        _point(0, 0.05),
        _point(0, 0.1),
        _point(1, 0.2),
        _point(1, 0.9),
        _point(2, 0.3),
    ]


def test_an_empty_history(http: TestClient) -> None:
    run_id = _run(http)
    r = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"})
    assert r.status_code == 200 and r.json() == {}
