"""The resource API's list query: every operator with the exact rows it selects, paging, counts, ordering,
and a 400 naming the problem for each kind of bad input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import PARENT_RUN_TAG, Dataset, DatasetInput
from modelyard.services import Services


@dataclass
class World:
    project: int
    exp_a: int
    exp_b: int
    runs: dict[str, str]  # short name -> run id
    datasets: dict[str, str]


@pytest.fixture
def world(services: Services, admin: Principal, http: TestClient) -> World:
    """Four runs in two experiments of one project, with names that hold LIKE wildcards."""
    svc = services
    project = svc.experiments.create_project(admin, name="vision").id
    exp_a = int(svc.experiments.create_experiment(admin, name="exp-a", project=project))
    exp_b = int(svc.experiments.create_experiment(admin, name="exp-b", project=project))

    def run(eid: int, name: str, user: str, start: int, tags: dict[str, str] | None = None) -> str:
        # as the server itself: an authenticated user's runs always carry their own username
        return svc.tracking.create_run(
            Principal.system(), experiment_id=eid, run_name=name, user_id=user, start_time=start, tags=tags
        ).run_id

    r1 = run(exp_a, "alpha_1", "ann", 1000)
    r2 = run(exp_a, "alpha%2", "bob", 2000, {PARENT_RUN_TAG: r1})
    r3 = run(exp_b, "beta_1", "ann", 3000)
    r4 = run(exp_b, "Gamma", "", 4000, {PARENT_RUN_TAG: r1})
    svc.tracking.update_run(admin, r1, status="FINISHED", end_time=1500)
    svc.tracking.update_run(admin, r3, status="FAILED", end_time=3500)
    train = DatasetInput(Dataset(name="train", digest="abc", source_type="local", source="/data/train"))
    evaluation = DatasetInput(Dataset(name="eval", digest="def", source_type="local", source="/data/eval"))
    svc.tracking.log_inputs(admin, r1, datasets=[train])
    svc.tracking.log_inputs(admin, r2, datasets=[train])
    svc.tracking.log_inputs(admin, r3, datasets=[evaluation])
    runs = {"r1": r1, "r2": r2, "r3": r3, "r4": r4}
    datasets = {d["name"]: d["dataset_uuid"] for d in listing(http, "dataset")["data"]}
    return World(project, exp_a, exp_b, runs, datasets)


def listing(http: TestClient, resource: str, **form: Any) -> dict[str, Any]:
    r = http.get(f"/{resource}/api/", params={"form_data": orjson.dumps(form).decode()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == 0 and body["message"] == "success"
    return dict(body["result"])


def run_names(http: TestClient, world: World, col: str, opr: str, value: Any) -> set[str]:
    result = listing(http, "run", filters=[{"col": col, "opr": opr, "value": value}])
    by_id = {v: k for k, v in world.runs.items()}
    assert result["count"] == len(result["data"])
    return {by_id[item["run_uuid"]] for item in result["data"]}


def bad(http: TestClient, resource: str, status: int = 400, **params: Any) -> str:
    r = http.get(f"/{resource}/api/", params=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["result"] == {}
    return str(body["message"])


def form(**data: Any) -> str:
    return json.dumps(data)


def flt(col: str, opr: str, value: Any) -> str:
    return form(filters=[{"col": col, "opr": opr, "value": value}])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (("name", "sw", "alpha_"), {"r1"}),  # '_' taken literally, not as "any character"
        (("name", "sw", "ALPHA"), {"r1", "r2"}),  # LIKE operators ignore case on both databases
        (("name", "nsw", "alpha"), {"r3", "r4"}),
        (("name", "ew", "_1"), {"r1", "r3"}),
        (("name", "new", "_1"), {"r2", "r4"}),
        (("name", "ct", "%"), {"r2"}),  # '%' taken literally
        (("name", "ct", "_"), {"r1", "r3"}),
        (("name", "nct", "a_"), {"r2", "r4"}),
        (("name", "eq", "Gamma"), {"r4"}),
        (("name", "eq", "gamma"), set()),  # eq is exact
        (("user_id", "eq", "ann"), {"r1", "r3"}),
        (("user_id", "neq", "ann"), {"r2", "r4"}),
        (("user_id", "inf", ["bob", ""]), {"r2", "r4"}),
        (("start_time", "gt", 2000), {"r3", "r4"}),
        (("start_time", "lt", 2000), {"r1"}),
        (("start_time", "eq", "3000"), {"r3"}),  # integers may come as text, as from a form
        (("end_time", "eq", None), {"r2", "r4"}),
        (("end_time", "neq", None), {"r1", "r3"}),
        (("end_time", "gt", 1500), {"r3"}),
        (("status", "eq", "RUNNING"), {"r2", "r4"}),
        (("status", "neq", "RUNNING"), {"r1", "r3"}),
        (("status", "inf", ["FINISHED", "FAILED"]), {"r1", "r3"}),
        (("lifecycle_stage", "eq", "active"), {"r1", "r2", "r3", "r4"}),
    ],
)
def test_operator_selects_exactly(
    http: TestClient, world: World, query: tuple[str, str, Any], expected: set[str]
) -> None:
    assert run_names(http, world, *query) == expected


def test_relation_operators(http: TestClient, world: World) -> None:
    assert run_names(http, world, "experiment_id", "rel_o_m", world.exp_a) == {"r1", "r2"}
    assert run_names(http, world, "experiment_id", "nrel_o_m", world.exp_a) == {"r3", "r4"}
    assert run_names(http, world, "parent_run_id", "rel_o_m", world.runs["r1"]) == {"r2", "r4"}
    # the negation keeps runs without a parent: they are not children of r1 either
    assert run_names(http, world, "parent_run_id", "nrel_o_m", world.runs["r1"]) == {"r1", "r3"}
    assert run_names(http, world, "datasets", "rel_m_m", world.datasets["train"]) == {"r1", "r2"}
    assert run_names(http, world, "datasets", "rel_m_m", world.datasets["eval"]) == {"r3"}
    assert run_names(http, world, "run_uuid", "inf", [world.runs["r1"], world.runs["r4"]]) == {"r1", "r4"}

    experiments = listing(
        http, "experiment", filters=[{"col": "project_id", "opr": "rel_o_m", "value": world.project}]
    )
    assert {e["experiment_id"] for e in experiments["data"]} == {world.exp_a, world.exp_b}
    others = listing(
        http, "experiment", filters=[{"col": "project_id", "opr": "nrel_o_m", "value": world.project}]
    )
    assert {e["name"] for e in others["data"]} == {"Default"}

    used = listing(http, "dataset", filters=[{"col": "runs", "opr": "rel_m_m", "value": world.runs["r2"]}])
    assert [d["name"] for d in used["data"]] == ["train"]
    in_b = listing(
        http, "dataset", filters=[{"col": "experiment_id", "opr": "rel_o_m", "value": world.exp_b}]
    )
    assert [d["dataset_uuid"] for d in in_b["data"]] == [world.datasets["eval"]]


def test_filters_combine_with_and(http: TestClient, world: World) -> None:
    result = listing(
        http,
        "run",
        filters=[
            {"col": "user_id", "opr": "eq", "value": "ann"},
            {"col": "start_time", "opr": "gt", "value": 1000},
        ],
    )
    assert [r["run_uuid"] for r in result["data"]] == [world.runs["r3"]]
    assert result["count"] == 1


def test_paging_and_count(http: TestClient, world: World) -> None:
    order = {"order_column": "start_time", "order_direction": "asc", "page_size": 3}
    first = listing(http, "run", page=0, **order)
    second = listing(http, "run", page=1, **order)
    beyond = listing(http, "run", page=5, **order)
    assert first["count"] == second["count"] == beyond["count"] == 4
    ids = [r["run_uuid"] for r in first["data"] + second["data"]]
    assert ids == [world.runs[k] for k in ("r1", "r2", "r3", "r4")]
    assert beyond["data"] == []
    filtered = listing(http, "run", page_size=1, filters=[{"col": "user_id", "opr": "eq", "value": "ann"}])
    assert filtered["count"] == 2 and len(filtered["data"]) == 1


def test_ordering_both_directions(http: TestClient, world: World) -> None:
    asc = listing(http, "run", order_column="start_time", order_direction="asc")["data"]
    desc = listing(http, "run", order_column="start_time", order_direction="DESC")["data"]
    expected = [world.runs[k] for k in ("r1", "r2", "r3", "r4")]
    assert [r["run_uuid"] for r in asc] == expected
    assert [r["run_uuid"] for r in desc] == expected[::-1]
    # the declared default: newest first
    assert [r["run_uuid"] for r in listing(http, "run")["data"]] == expected[::-1]
    # a column alone orders ascending; missing values come last either way
    by_end = [r["run_uuid"] for r in listing(http, "run", order_column="end_time")["data"]]
    assert by_end[:2] == [world.runs["r1"], world.runs["r3"]]
    by_end_desc = [
        r["run_uuid"] for r in listing(http, "run", order_column="end_time", order_direction="desc")["data"]
    ]
    assert by_end_desc[:2] == [world.runs["r3"], world.runs["r1"]]
    assert set(by_end[2:]) == set(by_end_desc[2:]) == {world.runs["r2"], world.runs["r4"]}


def test_plain_query_parameters_work_and_override_form_data(http: TestClient, world: World) -> None:
    params = {"page": "1", "page_size": "3", "order_column": "start_time", "order_direction": "asc"}
    r = http.get("/run/api/", params=params)
    assert r.status_code == 200, r.text
    assert [x["run_uuid"] for x in r.json()["result"]["data"]] == [world.runs["r4"]]
    r = http.get(
        "/run/api/",
        params={
            "form_data": form(page_size=1, filters=[{"col": "user_id", "opr": "eq", "value": "ann"}]),
            "page_size": "2",
        },
    )
    assert r.json()["result"]["count"] == 2 and len(r.json()["result"]["data"]) == 2
    r = http.get(
        "/run/api/",
        params={"filters": orjson.dumps([{"col": "status", "opr": "eq", "value": "FAILED"}]).decode()},
    )
    assert [x["run_uuid"] for x in r.json()["result"]["data"]] == [world.runs["r3"]]


def test_list_shows_list_columns_only(http: TestClient, world: World) -> None:
    item = listing(http, "run", filters=[{"col": "run_uuid", "opr": "eq", "value": world.runs["r1"]}])[
        "data"
    ][0]
    assert item["name"] == "alpha_1" and item["status"] == "FINISHED" and item["end_time"] == 1500
    assert item["experiment_id"] == world.exp_a and item["parent_run_id"] is None
    assert "code_version" not in item and "datasets" not in item


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"form_data": "{not json"}, ["Malformed JSON", "form_data"]),
        ({"form_data": "[1, 2]"}, ["form_data", "JSON object"]),
        ({"form_data": form(filter=[])}, ["'filter'", "filters"]),
        ({"filters": "{oops"}, ["Malformed JSON", "'filters'"]),
        ({"form_data": form(filters={"col": "name"})}, ["'filters'", "list"]),
        ({"form_data": form(filters=["name"])}, ["filters[0]", "'col', 'opr' and 'value'"]),
        ({"form_data": form(filters=[{"col": "name", "opr": "eq"}])}, ["filters[0]", "'value'"]),
        ({"form_data": flt("nope", "eq", 1)}, ["'nope'", "searchable columns", "start_time"]),
        ({"form_data": flt("code_version", "eq", "x")}, ["'code_version'", "cannot be filtered"]),
        ({"form_data": flt("name", "gt", "a")}, ["'gt'", "'name'", "allowed: sw, nsw"]),
        ({"form_data": flt("start_time", "ct", "1")}, ["'ct'", "'start_time'", "allowed: eq, neq, gt, lt"]),
        ({"form_data": flt("name", "like", "a")}, ["'like'", "operators are: sw"]),
        ({"form_data": flt("name", "eqf", "me")}, ["'eqf'", "not supported", "allows: sw"]),
        ({"form_data": flt("start_time", "gt", "soon")}, ["'start_time'", "integer", "'soon'"]),
        ({"form_data": flt("start_time", "gt", 2**63)}, ["'start_time'", "out of range"]),
        (
            {"form_data": flt("start_time", "gt", 2**70)},
            ["'start_time'", "integer"],
        ),  # JSON parses it as a float
        ({"form_data": flt("start_time", "lt", True)}, ["'start_time'", "integer", "true (boolean)"]),
        ({"form_data": flt("start_time", "gt", None)}, ["'start_time'", "null", "'gt'"]),
        ({"form_data": flt("status", "eq", "DONE")}, ["'DONE'", "RUNNING, SCHEDULED, FINISHED"]),
        ({"form_data": flt("status", "inf", "FAILED")}, ["'status'", "non-empty list"]),
        ({"form_data": flt("name", "sw", 5)}, ["'name'", "string", "5 (integer)"]),
        ({"form_data": flt("name", "ct", "a\x00b")}, ["'name'", "NUL"]),
        ({"form_data": form(page_size=0)}, ["page_size", "between 1 and 1000", "got 0"]),
        ({"form_data": form(page_size=1001)}, ["page_size", "between 1 and 1000"]),
        ({"page_size": "many"}, ["page_size", "integer", "'many'"]),
        ({"page": "-1"}, ["page", "0-based"]),
        (
            {"form_data": form(order_column="code_version")},
            ["'code_version'", "orderable columns", "start_time"],
        ),
        ({"form_data": form(order_column="nope")}, ["'nope'", "orderable columns"]),
        ({"form_data": form(order_direction="up")}, ["order_direction", "'asc' or 'desc'", "'up'"]),
        ({"sort": "name"}, ["'sort'", "form_data"]),
    ],
)
def test_bad_list_queries_are_400_naming_the_problem(
    http: TestClient, params: dict[str, Any], words: list[str]
) -> None:
    message = bad(http, "run", **params)
    for word in words:
        assert word in message, (word, message)


def test_bad_values_never_reach_the_database(http: TestClient, world: World) -> None:
    # values that would break a SQL driver (too big for 64 bits, NUL in text) are refused up front
    for resource, col in (("project", "id"), ("experiment", "experiment_id")):
        assert "out of range" in bad(http, resource, form_data=flt(col, "inf", [1, 2**63]))
        assert "32 bits" in bad(http, resource, form_data=flt(col, "eq", 2**31))
        assert "out of range" in bad(http, resource, page_size="1" + "0" * 30)
    assert "32 bits" in bad(http, "run", form_data=flt("experiment_id", "rel_o_m", -(2**31) - 1))
    r = http.get(f"/run/api/{world.runs['r1']}%00")
    assert r.status_code == 400 and "NUL" in r.json()["message"]
