"""Ids a request refers to, not only the one it targets, are authorized (issue 12, items 1 and 2).

A member of group B logging to B's own run cannot attach points, inputs or outputs to group A's logged
model, nor make A's run the parent or source run of B's: each answer is exactly the answer for an id
that does not exist, and nothing is written. Registry sources cannot climb out of the artifacts they
name with '..' in any spelling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from modelyard.services import Services
from modelyard.storage.orm import MetricChunkRow, ModelVersionRow, RunModelRow, RunRow
from tests.conftest import UserCreds

API = "/api/2.0/mlflow"
MISSING_RUN = "f" * 32
MISSING_MODEL = "m-" + "f" * 32


@dataclass(frozen=True)
class Side:
    who: UserCreds
    experiment: str
    run: str
    model: str


def _post(http: TestClient, who: UserCreds, route: str, body: dict[str, Any]) -> Any:
    return http.post(f"{API}/{route}", json=body, headers=who.headers)


def _side(http: TestClient, who: UserCreds, name: str) -> Side:
    eid = _post(http, who, "experiments/create", {"name": name}).json()["experiment_id"]
    run = _post(http, who, "runs/create", {"experiment_id": eid}).json()["run"]["info"]["run_id"]
    model = _post(http, who, "logged-models", {"experiment_id": eid, "source_run_id": run}).json()
    return Side(who, eid, run, model["model"]["info"]["model_id"])


@pytest.fixture
def sides(http: TestClient, make_user: Callable[..., UserCreds]) -> tuple[Side, Side]:
    a = _side(http, make_user("alice", group="team-a"), "exp-a")
    b = _side(http, make_user("bob", group="team-b"), "exp-b")
    return a, b


def _counts(services: Services) -> dict[str, int]:
    with services.db.read() as s:
        return {
            row.__tablename__: int(s.scalar(select(func.count()).select_from(row)) or 0)
            for row in (RunRow, MetricChunkRow, RunModelRow, ModelVersionRow)
        }


def _same_as_missing(
    http: TestClient, who: UserCreds, route: str, make: Callable[[str], Any], hidden: str, missing: str
) -> str:
    """POST the body made with the other group's id and with a missing one: the same 404, modulo the id."""
    seen = _post(http, who, route, make(hidden))
    absent = _post(http, who, route, make(missing))
    assert seen.status_code == absent.status_code == 404, (seen.text, absent.text)
    assert seen.json()["error_code"] == absent.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert seen.json()["message"].replace(hidden, "<id>") == absent.json()["message"].replace(missing, "<id>")
    return str(seen.json()["message"])


def test_another_groups_model_id_reads_as_missing_and_nothing_is_written(
    http: TestClient, services: Services, sides: tuple[Side, Side]
) -> None:
    a, b = sides
    before = _counts(services)
    point = {"key": "acc", "value": 0.9, "timestamp": 1}
    cases: list[tuple[str, Callable[[str], Any]]] = [
        ("runs/log-metric", lambda m: {"run_id": b.run, **point, "step": 0, "model_id": m}),
        (
            "runs/log-metric",
            lambda m: {"run_id": b.run, **point, "model_id": m},
        ),  # no step: not the fast path
        ("runs/log-batch", lambda m: {"run_id": b.run, "metrics": [{**point, "step": 1, "model_id": m}]}),
        ("runs/log-batch", lambda m: {"run_id": b.run, "metrics": [point, {**point, "model_id": m}]}),
        ("runs/log-inputs", lambda m: {"run_id": b.run, "models": [{"model_id": m}]}),
        ("runs/outputs", lambda m: {"run_id": b.run, "models": [{"model_id": m, "step": 0}]}),
    ]
    for route, make in cases:
        message = _same_as_missing(http, b.who, route, make, a.model, MISSING_MODEL)
        assert message == f"Logged model with ID '{a.model}' not found."
    assert _counts(services) == before
    model = http.get(f"{API}/logged-models/{a.model}", headers=a.who.headers).json()["model"]
    assert "metrics" not in model["data"]  # nothing reached A's model
    run = http.get(f"{API}/runs/get", params={"run_id": b.run}, headers=b.who.headers).json()["run"]
    assert run["inputs"] == {} and "outputs" not in run


def test_own_model_ids_work_and_show_on_the_model(http: TestClient, sides: tuple[Side, Side]) -> None:
    _, b = sides
    body = {"run_id": b.run, "key": "acc", "value": 0.5, "timestamp": 7, "model_id": b.model}
    assert _post(http, b.who, "runs/log-metric", body).json() == {}
    assert (
        _post(http, b.who, "runs/log-inputs", {"run_id": b.run, "models": [{"model_id": b.model}]}).json()
        == {}
    )
    assert (
        _post(
            http, b.who, "runs/outputs", {"run_id": b.run, "models": [{"model_id": b.model, "step": 3}]}
        ).json()
        == {}
    )
    model = http.get(f"{API}/logged-models/{b.model}", headers=b.who.headers).json()["model"]
    assert [(m["key"], m["value"], m["step"]) for m in model["data"]["metrics"]] == [("acc", 0.5, 0)]
    run = http.get(f"{API}/runs/get", params={"run_id": b.run}, headers=b.who.headers).json()["run"]
    assert run["inputs"]["model_inputs"] == [{"model_id": b.model}]
    assert run["outputs"]["model_outputs"] == [{"model_id": b.model, "step": 3}]


def test_a_viewer_cannot_write_metrics_onto_a_model_they_only_read(
    http: TestClient,
    services: Services,
    admin: Any,
    make_user: Callable[..., UserCreds],
    sides: tuple[Side, Side],
) -> None:
    a, b = sides
    services.identity.set_member(admin, group="team-a", username="bob", role="viewer")
    body = {"run_id": b.run, "key": "acc", "value": 0.5, "timestamp": 7, "model_id": a.model}
    r = _post(http, b.who, "runs/log-metric", body)
    assert r.status_code == 403 and "'member' role" in r.json()["message"], r.text
    # reading it as an input is allowed: a viewer reads
    r = _post(http, b.who, "runs/log-inputs", {"run_id": b.run, "models": [{"model_id": a.model}]})
    assert r.status_code == 200, r.text


def test_another_groups_run_cannot_be_a_parent_or_a_source_run(
    http: TestClient, services: Services, sides: tuple[Side, Side]
) -> None:
    a, b = sides
    before = _counts(services)
    parent = "mlflow.parentRunId"
    cases: list[tuple[str, Callable[[str], Any]]] = [
        ("runs/create", lambda r: {"experiment_id": b.experiment, "tags": [{"key": parent, "value": r}]}),
        ("runs/set-tag", lambda r: {"run_id": b.run, "key": parent, "value": r}),
        ("runs/log-batch", lambda r: {"run_id": b.run, "tags": [{"key": parent, "value": r}]}),
        ("logged-models", lambda r: {"experiment_id": b.experiment, "source_run_id": r}),
    ]
    for route, make in cases:
        _same_as_missing(http, b.who, route, make, a.run, MISSING_RUN)
    assert _counts(services) == before
    # a run of one's own is a parent like in MLflow
    child = _post(
        http, b.who, "runs/create", {"experiment_id": b.experiment, "tags": [{"key": parent, "value": b.run}]}
    )
    assert child.status_code == 200, child.text
    child_id = child.json()["run"]["info"]["run_id"]
    shown = http.get(f"/run/api/{child_id}", headers=b.who.headers).json()["result"]
    assert shown["parent_run_id"] == b.run


def test_an_idempotency_key_returns_only_the_senders_own_run(
    http: TestClient, sides: tuple[Side, Side]
) -> None:
    a, b = sides
    key = {"Idempotency-Key": "same-key"}
    first = http.post(
        f"{API}/runs/create", json={"experiment_id": a.experiment}, headers={**a.who.headers, **key}
    )
    again = http.post(
        f"{API}/runs/create", json={"experiment_id": a.experiment}, headers={**a.who.headers, **key}
    )
    assert first.json()["run"]["info"]["run_id"] == again.json()["run"]["info"]["run_id"]
    other = http.post(
        f"{API}/runs/create", json={"experiment_id": b.experiment}, headers={**b.who.headers, **key}
    )
    assert other.status_code == 200, other.text
    assert other.json()["run"]["info"]["experiment_id"] == b.experiment
    assert other.json()["run"]["info"]["run_id"] != first.json()["run"]["info"]["run_id"]


# ---- registry sources (item 2) -------------------------------------------------------------------
def _register(http: TestClient, who: UserCreds, source: str, **extra: Any) -> Any:
    http.post(f"{API}/registered-models/create", json={"name": "m"}, headers=who.headers)
    return _post(http, who, "model-versions/create", {"name": "m", "source": source, **extra})


@pytest.mark.parametrize(
    "spelling",
    ["{a}/../{b}", "{a}//../{b}", "{a}/%2e%2e/{b}", "{a}/%2E%2E/{b}", "{a}/%252e%252e/{b}", "{a}/.%2e/{b}"],
)
def test_a_proxied_source_cannot_climb_into_another_groups_artifacts(
    http: TestClient, services: Services, sides: tuple[Side, Side], spelling: str
) -> None:
    a, b = sides
    path = spelling.format(a=b.experiment, b=f"{a.experiment}/models/{a.model}/artifacts")
    for source in (f"mlflow-artifacts:/{path}", f"mlflow-artifacts://host:5000/{path}"):
        r = _register(http, b.who, source)
        assert r.status_code == 400, r.text
        assert "'..' segments are not allowed" in r.json()["message"]
    run_source = f"runs:/{b.run}/" + spelling.format(
        a="..", b=f"../../{a.experiment}/models/{a.model}/artifacts"
    )
    assert _register(http, b.who, run_source).status_code == 400
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ModelVersionRow)) == 0


def test_sources_are_normalised_and_must_lie_in_artifacts_the_caller_reads(
    http: TestClient, sides: tuple[Side, Side]
) -> None:
    a, b = sides
    r = _register(http, b.who, f"mlflow-artifacts:/{b.experiment}//{b.run}/./artifacts/model")
    assert r.status_code == 200, r.text
    uri = _post(http, b.who, "model-versions/get-download-uri", {}).status_code  # wrong method: 405
    assert uri == 405
    found = http.get(
        f"{API}/model-versions/get-download-uri", params={"name": "m", "version": 1}, headers=b.who.headers
    )
    assert found.json() == {"artifact_uri": f"mlflow-artifacts:/{b.experiment}/{b.run}/artifacts/model"}
    # another group's experiment, the proxied store's root and plain paths
    r = _register(http, b.who, f"mlflow-artifacts:/{a.experiment}/{a.run}/artifacts/model")
    assert r.status_code == 404 and r.json()["message"] == (
        f"No Experiment with id={a.experiment} exists (source 'mlflow-artifacts:/{a.experiment}/{a.run}/artifacts/model')."
    )
    for source in ("mlflow-artifacts:/deployments/x", "/etc/passwd", "file:///etc", "s3://bucket/a"):
        r = _register(http, b.who, source)
        assert r.status_code == 403 and "platform admin" in r.json()["message"], (source, r.text)
    r = _register(http, b.who, "s3://bucket/a/%2e%2e/b")
    assert r.status_code == 400 and "'..'" in r.json()["message"]


def test_convert_run_to_model_refuses_an_escaping_artifact_path(
    http: TestClient, sides: tuple[Side, Side]
) -> None:
    _, b = sides
    for path in ("../x", "%2e%2e/x", "a/%252e%252e/%252e%252e/x", "a\\..\\x"):
        r = http.post(
            "/model_version/api/",
            json={"name": "m2", "run_id": b.run, "artifact_path": path},
            headers=b.who.headers,
        )
        assert r.status_code == 400, (path, r.text)
        assert "artifact_path" in r.json()["message"] or "artifact path" in r.json()["message"], r.text
