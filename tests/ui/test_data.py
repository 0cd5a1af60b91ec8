"""The web UI's data endpoints (``/ui/data/...``): chart series downsampled on the server, several series
at once, metric summaries, the runs table's keys and filter checks; their refusals name the parameter,
and another group's run or experiment answers exactly like a missing one."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import UserCreds, auth_header
from tests.ui.helpers import login

API = "/api/2.0/mlflow"
UI = "/ui/data"
T0 = 1_700_000_000_000
N = 20_000
SPIKE = 12_345


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return orjson.loads(response.content)  # strict JSON: refuses NaN and Infinity literals


def _refused(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["result"] == {}, body
    for word in words:
        assert word in body["message"], (word, body["message"])
    return str(body["message"])


def experiment(http: TestClient, name: str, headers: dict[str, str] | None = None) -> str:
    r = http.post(f"{API}/experiments/create", json={"name": name}, headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["experiment_id"])


def new_run(http: TestClient, eid: str, headers: dict[str, str] | None = None) -> str:
    r = http.post(f"{API}/runs/create", json={"experiment_id": eid, "start_time": T0}, headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["run"]["info"]["run_id"])


def log(http: TestClient, run_id: str, points: list[tuple[str, Any, int, int]], **extra: Any) -> None:
    """points: (key, value, timestamp, step), in batches of 1000 (the MLflow client's size)."""
    for i in range(0, max(len(points), 1), 1000):
        metrics = [{"key": k, "value": v, "timestamp": t, "step": s} for k, v, t, s in points[i : i + 1000]]
        r = http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics, **extra})
        assert r.status_code == 200, r.text


def _client(app: FastAPI, user: str, password: str, token: str) -> TestClient:
    """A client logged in to the UI (the session cookie, which /ui/data takes) that also sends the
    user's API token (which the MLflow API, used here to write the data, takes)."""
    client = TestClient(app, raise_server_exceptions=False, headers=auth_header(token))
    client.__enter__()
    login(client, user, password)
    return client


@pytest.fixture
def http(app: FastAPI, admin_token: str, admin_password: str) -> Iterator[TestClient]:
    client = _client(app, "admin", admin_password, admin_token)
    yield client
    client.__exit__(None, None, None)


@pytest.fixture
def as_user(app: FastAPI) -> Iterator[Callable[[UserCreds], TestClient]]:
    clients: list[TestClient] = []

    def make(user: UserCreds) -> TestClient:
        clients.append(_client(app, user.username, user.password, user.token))
        return clients[-1]

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def sawtooth(step: int) -> float:
    return 1000.0 if step == SPIKE else float(step % 50)


@pytest.fixture
def long_run(http: TestClient) -> str:
    """A sawtooth of N points (steps 0..N-1, 10 ms apart) with one spike, logged in batches."""
    run_id = new_run(http, experiment(http, "charts"))
    log(http, run_id, [("loss", sawtooth(s), T0 + 10 * s, s) for s in range(N)])
    return run_id


def test_a_long_history_is_downsampled_keeping_its_ends_extremes_and_spike(
    http: TestClient, long_run: str
) -> None:
    body = _ok(http.get(f"{UI}/series", params={"run_id": long_run, "key": "loss", "points": 400}))
    assert (body["total"], body["downsampled"], body["method"]) == (N, True, "minmax")
    assert (body["max_points"], body["points_requested"], body["range"]) == (400, 400, None)
    assert body["buckets"] == 100 and len(body["x"]) == len(body["y"]) <= 400
    x, y = body["x"], body["y"]
    assert x == sorted(x) and len(set(x)) == len(x)
    assert (x[0], x[-1]) == (0, N - 1)  # first and last points kept
    assert dict(zip(x, y, strict=True))[SPIKE] == 1000.0  # the spike survives
    assert all(y_ == sawtooth(x_) for x_, y_ in zip(x, y, strict=True))  # real points, not averages
    # each bucket of 200 steps keeps its lowest (a multiple of 50) and highest (49 mod 50) tooth
    for b in range(100):
        inside = [v for s, v in zip(x, y, strict=True) if 200 * b <= s < 200 * (b + 1)]
        assert 0.0 in inside and max(inside) >= 49.0, b
    assert body["non_finite"] == {"nan": 0, "inf": 0, "neg_inf": 0}
    assert body["run_start_time"] == T0


def test_a_zoomed_range_returns_only_its_points_in_full_detail(http: TestClient, long_run: str) -> None:
    params = {"run_id": long_run, "key": "loss", "min": 12_300.5, "max": 12_400, "points": 400}
    body = _ok(http.get(f"{UI}/series", params=params))
    assert (body["total"], body["downsampled"], body["method"], body["buckets"]) == (100, False, "none", 0)
    assert body["x"] == list(range(12_301, 12_401))
    assert body["y"] == [sawtooth(s) for s in range(12_301, 12_401)]
    assert body["range"] == [12_300.5, 12_400]
    # a wider zoom is downsampled again, within its range only
    body = _ok(http.get(f"{UI}/series", params={**params, "min": 10_000, "max": 14_999}))
    assert body["total"] == 5_000 and body["downsampled"]
    assert body["x"][0] == 10_000 and body["x"][-1] == 14_999 and SPIKE in body["x"]


def test_time_axes(http: TestClient, long_run: str) -> None:
    wall = _ok(http.get(f"{UI}/series", params={"run_id": long_run, "key": "loss", "x": "wall"}))
    assert wall["x_axis"] == "wall" and wall["downsampled"] and wall["total"] == N
    assert (wall["x"][0], wall["x"][-1]) == (T0, T0 + 10 * (N - 1))
    assert dict(zip(wall["x"], wall["y"], strict=True))[T0 + 10 * SPIKE] == 1000.0
    wall = _ok(
        http.get(f"{UI}/series", params={"run_id": long_run, "key": "loss", "x": "wall", "max": T0 + 20})
    )
    assert (wall["x"], wall["y"]) == ([T0, T0 + 10, T0 + 20], [0.0, 1.0, 2.0])
    rel = _ok(
        http.get(
            f"{UI}/series",
            params={"run_id": long_run, "key": "loss", "x": "relative", "min": 100, "max": 150},
        )
    )
    # relative time is since the run's start (T0): steps 10..15
    assert rel["x"] == [100, 110, 120, 130, 140, 150] and rel["y"] == [float(s) for s in range(10, 16)]


def test_points_logged_out_of_order_and_repeated_are_ordered_and_counted_once(http: TestClient) -> None:
    run_id = new_run(http, experiment(http, "order"))
    late = [("m", float(s), T0 + s, s) for s in range(50, 100)]
    early = [("m", float(s), T0 + s, s) for s in range(0, 50)]
    log(http, run_id, late)
    log(http, run_id, early)
    log(http, run_id, early[:10])  # a retried batch: the same points again
    log(
        http, run_id, [("m", 5.0, T0 + 5, 5), ("m", 7.5, T0 + 6, 5)]
    )  # a repeat, and a second value at step 5
    body = _ok(http.get(f"{UI}/series", params={"run_id": run_id, "key": "m"}))
    assert body["total"] == 101 and not body["downsampled"]
    assert body["x"] == [*range(6), 5, *range(6, 100)]
    assert body["y"][5:7] == [5.0, 7.5]
    history = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()
    assert len(history["metrics"]) == body["total"]  # the history's own count


def test_non_finite_values_are_counted_not_drawn(http: TestClient) -> None:
    run_id = new_run(http, experiment(http, "nan"))
    values: list[Any] = [1.0, "NaN", 3.0, "Infinity", "-Infinity", "NaN", -2.0]
    log(http, run_id, [("m", v, T0 + s, s) for s, v in enumerate(values)])
    body = _ok(http.get(f"{UI}/series", params={"run_id": run_id, "key": "m"}))
    assert body["total"] == 7 and body["non_finite"] == {"nan": 2, "inf": 1, "neg_inf": 1}
    assert (body["x"], body["y"]) == ([0, 2, 6], [1.0, 3.0, -2.0])
    summary = _ok(http.get(f"{UI}/metric-summary", params={"run_id": run_id}))["metrics"]
    assert summary == [
        {
            "run_id": run_id,
            "key": "m",
            "latest": {"value": -2.0, "step": 6, "timestamp": T0 + 6},
            "min": -2.0,
            "max": 3.0,
            "count": 7,
            "non_finite": {"nan": 2, "inf": 1, "neg_inf": 1},
        }
    ]
    log(http, run_id, [("m", "NaN", T0 + 9, 9), ("only_nan", "NaN", T0, 0)])
    summary = _ok(http.get(f"{UI}/metric-summary", params={"run_id": run_id}))["metrics"]
    assert [m["key"] for m in summary] == ["m", "only_nan"]
    assert summary[0]["latest"] == {"value": "NaN", "step": 9, "timestamp": T0 + 9}
    assert (summary[1]["min"], summary[1]["max"], summary[1]["count"]) == (None, None, 1)


def test_several_series_in_one_call(http: TestClient, long_run: str) -> None:
    eid = experiment(http, "compare")
    others = [new_run(http, eid) for _ in range(2)]
    for i, run_id in enumerate(others):
        log(http, run_id, [("loss", float(s * i), T0 + s, s) for s in range(300)])
        log(http, run_id, [("acc", 0.5 + i / 10, T0, 0)])
    params: list[tuple[str, Any]] = [
        ("run_id", others[0]),
        ("run_id", long_run),
        ("run_id", others[1]),
        ("key", "loss"),
        ("key", "acc"),
        ("points", 200),
        ("max", 250),
    ]
    body = _ok(http.get(f"{UI}/series/many", params=params))
    assert (body["x_axis"], body["max_points"], body["points_requested"]) == ("step", 200, 200)
    assert body["range"] == [None, 250]
    pairs = [(s["run_id"], s["key"]) for s in body["series"]]
    assert pairs == [(r, k) for r in (others[0], long_run, others[1]) for k in ("loss", "acc")]
    by_pair = {(s["run_id"], s["key"]): s for s in body["series"]}
    assert by_pair[(others[1], "loss")]["total"] == 251 and by_pair[(others[1], "loss")]["downsampled"]
    assert by_pair[(others[1], "loss")]["x"][-1] == 250
    assert by_pair[(long_run, "acc")] | {"x": None} == by_pair[(long_run, "acc")] | {"x": None}
    assert (by_pair[(long_run, "acc")]["total"], by_pair[(long_run, "acc")]["x"]) == (0, [])
    assert by_pair[(others[1], "acc")]["y"] == [0.6]
    summary = _ok(
        http.get(
            f"{UI}/metric-summary", params=[("run_id", long_run), ("run_id", others[1]), ("key", "loss")]
        )
    )["metrics"]
    assert [(m["run_id"], m["min"], m["max"], m["count"]) for m in summary] == [
        (long_run, 0.0, 1000.0, N),
        (others[1], 0.0, 299.0, 300),
    ]
    assert summary[0]["latest"] == {"value": sawtooth(N - 1), "step": N - 1, "timestamp": T0 + 10 * (N - 1)}


def test_many_series_share_one_point_budget_and_say_so(http: TestClient) -> None:
    run_id = new_run(http, experiment(http, "budget"))
    keys = [f"k{i}" for i in range(10)]
    log(http, run_id, [(k, 1.0, T0, 0) for k in keys])
    runs = [run_id] * 1 + [new_run(http, experiment(http, f"budget-{i}")) for i in range(199)]
    params = [("run_id", r) for r in runs] + [("key", k) for k in keys] + [("points", "5000")]
    body = _ok(http.get(f"{UI}/series/many", params=params))
    assert len(body["series"]) == 2000 and body["points_requested"] == 5000
    assert body["max_points"] == 250  # 500,000 points shared by 2,000 series


def test_the_runs_table_keys_of_one_or_several_experiments(http: TestClient) -> None:
    a, b = experiment(http, "keys-a"), experiment(http, "keys-b")
    run_a, run_b, gone = new_run(http, a), new_run(http, b), new_run(http, a)
    params = [{"key": "lr", "value": "0.1"}, {"key": "depth", "value": "3"}]
    log(
        http,
        run_a,
        [("loss", 1.0, T0, 0), ("acc", 1.0, T0, 0)],
        params=params,
        tags=[{"key": "team", "value": "x"}],
    )
    log(http, run_a, [("loss", 0.5, T0, 1)], params=[{"key": "seed", "value": "1"}])
    http.post(f"{API}/runs/set-tag", json={"run_id": run_b, "key": "stage", "value": "dev"})
    http.post(f"{API}/runs/log-parameter", json={"run_id": run_b, "key": "alpha", "value": "1"})
    http.post(f"{API}/runs/log-metric", json={"run_id": run_b, "key": "rmse", "value": 1, "timestamp": 1})
    log(http, gone, [("old_metric", 1.0, T0, 0)], params=[{"key": "old_param", "value": "1"}])
    assert http.post(f"{API}/runs/delete", json={"run_id": gone}).status_code == 200

    only_a = _ok(http.get(f"{UI}/columns", params={"experiment_id": a}))
    assert only_a["experiment_ids"] == [a]
    assert only_a["params"] == ["depth", "lr", "old_param", "seed"]  # a deleted run's keys stay listed
    assert only_a["metrics"] == ["acc", "loss", "old_metric"]
    assert only_a["tags"] == ["mlflow.runName", "team"]
    assert only_a["attributes"] == [
        "artifact_uri", "end_time", "lifecycle_stage", "run_id", "run_name", "start_time", "status", "user_id",
    ]  # fmt: skip
    assert only_a["dataset_fields"] == ["context", "digest", "name"]
    both = _ok(http.get(f"{UI}/columns", params=[("experiment_id", a), ("experiment_id", b)]))
    assert both["params"] == ["alpha", "depth", "lr", "old_param", "seed"]
    assert both["metrics"] == ["acc", "loss", "old_metric", "rmse"]
    assert both["tags"] == ["mlflow.runName", "stage", "team"]


def test_filter_check_points_at_the_bad_clause(http: TestClient) -> None:
    text = "metrics.loss < 1 and params.lr = 0.1"
    body = _ok(http.get(f"{UI}/filter-check", params={"filter": text}))
    assert body["valid"] is False and body["clauses"] == 0
    error = body["error"]
    assert text[error["start"] : error["end"]] == "0.1"
    assert error["clause"] == "params.lr = 0.1" == text[error["clause_start"] : error["clause_end"]]
    # the message is the one runs/search answers
    search = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "filter": text}).json()
    assert error["message"] == search["message"]
    good = _ok(http.get(f"{UI}/filter-check", params={"filter": text.replace("0.1", "'0.1'")}))
    assert good == {"valid": True, "clauses": 2}
    assert _ok(http.get(f"{UI}/filter-check")) == {"valid": True, "clauses": 0}


@pytest.mark.parametrize(
    ("route", "params", "words"),
    [
        ("series", {"key": "loss"}, ["'run_id'"]),
        ("series", {"run_id": "RUN"}, ["'key'"]),
        ("series", {"run_id": "RUN", "key": "loss", "x": "time"}, ["'x'", "step, wall, relative"]),
        ("series", {"run_id": "RUN", "key": "loss", "min": "abc"}, ["'min'", "number"]),
        ("series", {"run_id": "RUN", "key": "loss", "max": "nan"}, ["'max'", "finite"]),
        ("series", {"run_id": "RUN", "key": "loss", "min": "1e999"}, ["'min'", "finite"]),
        ("series", {"run_id": "RUN", "key": "loss", "min": 5, "max": 4}, ["'min'", "'max'"]),
        ("series", {"run_id": "RUN", "key": "loss", "points": "1.5"}, ["'points'", "whole number"]),
        ("series/many", {"key": "loss"}, ["'run_id'"]),
        ("series/many", {"run_id": "RUN"}, ["'key'"]),
        ("series/many", [("run_id", "RUN"), *[("key", f"k{i}") for i in range(11)]], ["'key'", "at most 10"]),
        ("metric-summary", {}, ["'run_id'"]),
        ("columns", {}, ["'experiment_id'"]),
        ("columns", {"experiment_id": "x"}, ["experiment id 'x'"]),
    ],
)
def test_bad_parameters_are_400s_that_name_them(
    http: TestClient, long_run: str, route: str, params: Any, words: list[str]
) -> None:
    if isinstance(params, dict):
        params = {k: (long_run if v == "RUN" else v) for k, v in params.items()}
    else:
        params = [(k, long_run if v == "RUN" else v) for k, v in params]
    _refused(http.get(f"{UI}/{route}", params=params), 400, *words)


def test_a_point_budget_out_of_bounds_is_clamped_and_reported(http: TestClient, long_run: str) -> None:
    body = _ok(http.get(f"{UI}/series", params={"run_id": long_run, "key": "loss", "points": 10**9}))
    assert (body["max_points"], body["points_requested"]) == (5000, 10**9)
    assert len(body["x"]) <= 5000 and body["buckets"] == 1250
    body = _ok(http.get(f"{UI}/series", params={"run_id": long_run, "key": "loss", "points": -3}))
    assert (body["max_points"], body["points_requested"], body["buckets"]) == (100, -3, 25)


def test_another_groups_run_and_experiment_answer_as_missing_ones(
    make_user: Callable[..., UserCreds], as_user: Callable[[UserCreds], TestClient]
) -> None:
    alice, bob = make_user("alice", group="team-a"), make_user("bob", group="team-b")
    a, b = as_user(alice), as_user(bob)
    eid = experiment(a, "alice-exp")
    run_id = new_run(a, eid)
    r = a.post(
        f"{API}/runs/log-batch",
        json={"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}]},
    )
    assert r.status_code == 200
    missing_run, missing_exp = "f" * 32, "99999"
    own = _ok(a.get(f"{UI}/series", params={"run_id": run_id, "key": "m"}))
    assert own["y"] == [1.0]
    for route, hidden, missing in [
        ("series", {"run_id": run_id, "key": "m"}, {"run_id": missing_run, "key": "m"}),
        ("series/many", {"run_id": run_id, "key": "m"}, {"run_id": missing_run, "key": "m"}),
        ("metric-summary", {"run_id": run_id}, {"run_id": missing_run}),
        ("columns", {"experiment_id": eid}, {"experiment_id": missing_exp}),
    ]:
        seen = b.get(f"{UI}/{route}", params=hidden)
        absent = b.get(f"{UI}/{route}", params=missing)
        hidden_id = hidden.get("run_id", hidden.get("experiment_id"))
        missing_id = missing.get("run_id", missing.get("experiment_id"))
        assert seen.status_code == absent.status_code == 404, (route, seen.text)
        assert seen.text.replace(hidden_id, "<id>") == absent.text.replace(missing_id, "<id>")
    # a request naming one hidden run among visible ones is refused whole
    mixed = a.get(f"{UI}/series/many", params=[("run_id", run_id), ("key", "m")])
    assert mixed.status_code == 200
    bob_run = new_run(b, experiment(b, "bob-exp"))
    mixed = b.get(
        f"{UI}/series/many",
        params=[("run_id", bob_run), ("run_id", run_id), ("key", "m")],
    )
    _refused(mixed, 404, f"Run with id={run_id} not found")


def test_the_answers_are_strict_json_whatever_the_values(http: TestClient) -> None:
    run_id = new_run(http, experiment(http, "extremes"))
    big = 2**62
    log(http, run_id, [("m", 1.7976931348623157e308, big, big), ("m", -5e-324, -big, -big)])
    body = _ok(http.get(f"{UI}/series", params={"run_id": run_id, "key": "m"}))
    assert body["x"] == [-big, big] and body["y"] == [-5e-324, 1.7976931348623157e308]
    assert math.isfinite(body["y"][1])
    body = _ok(http.get(f"{UI}/series", params={"run_id": run_id, "key": "m", "min": -1e300, "max": 1e300}))
    assert body["total"] == 2


def test_without_a_session_the_data_answers_401_json_even_with_a_token(
    app: FastAPI, admin_token: str, long_run: str
) -> None:
    """/ui/data is the UI's: the API token alone does not open it (a cookie-only surface), and the
    refusal is JSON saying where to log in, not a login page."""
    with TestClient(app, raise_server_exceptions=False, headers=auth_header(admin_token)) as client:
        r = client.get(f"{UI}/series", params={"run_id": long_run, "key": "loss"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/json")
    assert r.json()["login"].startswith("/login?next=/ui/data/series")
