"""The hot MLflow routes dispatched before FastAPI's router (``api/mlflow/hot.py``): the same endpoints
as the router's, the same answers, and everything else left to the router."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from modelyard.api.mlflow.hot import PREFIXES, ROUTES, HotRoutes

API = "/api/2.0/mlflow"


def test_each_hot_route_is_the_routers_endpoint_for_its_method_and_path(app: FastAPI) -> None:
    routed = {
        (method, context.path_format): context.endpoint
        for context in iter_route_contexts(app.routes)
        for method in context.methods or ()
    }
    hot = HotRoutes(app).routes
    assert len(hot) == len(ROUTES) * len(PREFIXES) == 18
    for (method, path), endpoint in hot.items():
        assert routed.get((method, path)) is endpoint, (method, path)


def _run(http: TestClient) -> str:
    eid = http.post(f"{API}/experiments/create", json={"name": "hot"}).json()["experiment_id"]
    r = http.post(f"{API}/runs/create", json={"experiment_id": eid, "run_name": "r", "start_time": 5})
    return str(r.json()["run"]["info"]["run_id"])


def test_the_mirror_and_the_api_answer_alike(http: TestClient) -> None:
    run_id = _run(http)
    body = {"run_id": run_id, "metrics": [{"key": "m", "value": 0.5, "timestamp": 1, "step": 0}]}
    assert http.post(f"{API}/runs/log-batch", json=body).json() == {}
    answers = [
        http.get(f"{prefix}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()
        for prefix in PREFIXES
    ]
    assert answers[0] == answers[1] == {"metrics": [{"key": "m", "value": 0.5, "timestamp": 1, "step": 0}]}


def test_domain_errors_answer_in_mlflows_shape(http: TestClient) -> None:
    r = http.get(f"{API}/runs/get", params={"run_id": "f" * 32})
    assert r.status_code == 404
    assert r.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": f"Run with id={'f' * 32} not found",
    }
    r = http.post(f"{API}/runs/log-batch", json={"run_id": _run(http), "metrics": [{"key": "m"}]})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "metrics[0].value" in r.json()["message"]


def test_other_methods_and_paths_go_to_the_router(http: TestClient) -> None:
    run_id = _run(http)
    # the router answers what the hot table does not hold: a method not served on a hot path ...
    for r in (
        http.put(f"{API}/runs/create", json={}),
        http.head(f"{API}/runs/get", params={"run_id": run_id}),
    ):
        assert r.status_code == 405
    assert http.put(f"{API}/runs/create", json={}).json()["error_code"] == "ENDPOINT_NOT_FOUND"
    # ... and every other route
    r = http.post(f"{API}/runs/delete", json={"run_id": run_id})
    assert r.status_code == 200
    r = http.get(f"{API}/runs/get", params={"run_id": run_id})
    assert r.json()["run"]["info"]["lifecycle_stage"] == "deleted"
