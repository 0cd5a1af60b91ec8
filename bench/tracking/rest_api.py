"""A thin MLflow REST client and the request bodies, as the official mlflow client sends them.

Owns Api (one httpx.Client per thread; any non-200 raises ApiError) and the JSON bodies of the calls the
workloads make, built as mlflow.store.tracking.rest_store builds them, so both servers get the same bytes.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

API = "/api/2.0/mlflow"
JSON_HEADERS = {"Content-Type": "application/json"}


class ApiError(RuntimeError):
    pass


class Api:
    """A thin MLflow REST client: one httpx.Client per thread (connection reuse, no shared state)."""

    def __init__(self, base_url: str, timeout: float, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.headers = {"User-Agent": "bench", **(headers or {})}
        self.timeout = timeout
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        c = getattr(self._local, "client", None)
        if c is None:
            c = httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=self.headers)
            self._local.client = c
            with self._lock:
                self._clients.append(c)
        return c

    def close(self) -> None:
        for c in self._clients:
            c.close()

    @staticmethod
    def _check(r: httpx.Response) -> httpx.Response:
        if r.status_code != 200:
            raise ApiError(f"{r.request.method} {r.request.url.path} -> HTTP {r.status_code}: {r.text[:300]}")
        return r

    def post_raw(self, path: str, body: bytes) -> httpx.Response:
        return self._check(self.client.post(API + path, content=body, headers=JSON_HEADERS))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post_raw(path, dumps(body)).json()  # type: ignore[no-any-return]

    def get_raw(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return self._check(self.client.get(API + path, params=params))

    # the calls, with bodies as mlflow.store.tracking.rest_store builds them
    def create_experiment(self, name: str) -> str:
        return str(self.post("/experiments/create", {"name": name})["experiment_id"])

    def create_run(self, experiment_id: str, run_name: str, start_time: int) -> str:
        body = {
            "experiment_id": experiment_id,
            "user_id": "bench",
            "run_name": run_name,
            "start_time": start_time,
            "tags": [
                {"key": "mlflow.user", "value": "bench"},
                {"key": "mlflow.source.name", "value": "bench/tracking/bench.py"},
                {"key": "mlflow.source.type", "value": "LOCAL"},
            ],
        }
        return str(self.post("/runs/create", body)["run"]["info"]["run_id"])

    def finish_run(self, run_id: str, end_time: int) -> None:
        self.post(
            "/runs/update", {"run_uuid": run_id, "status": "FINISHED", "end_time": end_time, "run_id": run_id}
        )

    def search_runs(self, body: bytes) -> httpx.Response:
        return self.post_raw("/runs/search", body)

    def metric_history(self, run_id: str, key: str) -> httpx.Response:
        return self.get_raw("/metrics/get-history", {"run_uuid": run_id, "metric_key": key, "run_id": run_id})


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def log_batch_body(
    run_id: str,
    metrics: list[dict[str, Any]],
    params: list[dict[str, str]] | None = None,
    tags: list[dict[str, str]] | None = None,
) -> bytes:
    body: dict[str, Any] = {"run_id": run_id, "metrics": metrics}
    if params:
        body["params"] = params
    if tags:
        body["tags"] = tags
    return dumps(body)


def search_body(
    experiment_id: str, filter_string: str | None, order_by: list[str] | None, max_results: int
) -> bytes:
    body: dict[str, Any] = {"experiment_ids": [experiment_id], "run_view_type": "ACTIVE_ONLY"}
    if filter_string:
        body["filter"] = filter_string
    body["max_results"] = max_results
    if order_by:
        body["order_by"] = order_by
    return dumps(body)
