"""Run and experiment search against a real database (SQLite, or PostgreSQL in CI): exact ids, exact order."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.search import (
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_filter,
    parse_order_by,
)
from modelyard.domain.tracking import ViewType
from modelyard.settings import Settings
from modelyard.storage import run_search
from modelyard.storage.db import Database
from modelyard.storage.orm import (
    DatasetRow,
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    ParamRow,
    ProjectRow,
    RunInputRow,
    RunRow,
    TagRow,
)
from modelyard.storage.run_search import search_run_ids
from modelyard.storage.search_sql import search_experiment_ids

EXP, OTHER = 1, 2
# One special value exercises every character LIKE and GLOB treat specially.
ODD = "A_%*?[x"

# run: (start_time, end_time, status, name, user, params, metrics, tags)
RUNS: dict[str, tuple[int, int | None, str, str, str, dict[str, str], dict[str, float], dict[str, str]]] = {
    "r1": (100, 150, "FINISHED", "alpha", "ann", {"p": "a", "q": "x"}, {"m": 1.0, "n": 5.0}, {"t": "Red"}),
    "r2": (
        200,
        None,
        "RUNNING",
        "Beta",
        "bob",
        {"p": "b", "q": "x"},
        {"m": 2.5, "n": math.nan},
        {"t": "red"},
    ),
    "r3": (300, 350, "FAILED", "gamma", "ann", {"p": ODD}, {"m": math.nan}, {}),
    "r4": (400, 450, "FINISHED", "alpha2", "cid", {"q": "y"}, {"n": -1.0}, {"t": "blue"}),
    "r5": (500, 550, "KILLED", "delta", "bob", {"q": "y"}, {"m": 0.0, "n": 5.0}, {"t": "Blue"}),
}


def _add_run(s: Any, run_id: str, exp: int, start: int, **kw: Any) -> None:
    end, status, name, user, params, metrics, tags = (
        kw.get("end"),
        kw.get("status", "FINISHED"),
        kw.get("name", run_id),
        kw.get("user", "u"),
        kw.get("params", {}),
        kw.get("metrics", {}),
        kw.get("tags", {}),
    )
    s.add(
        RunRow(
            run_uuid=run_id,
            experiment_id=exp,
            name=name,
            user_id=user,
            status=status,
            start_time=start,
            end_time=end,
            lifecycle_stage=kw.get("stage", "active"),
            artifact_uri=f"s3://bucket/{exp}/{run_id}",
        )
    )
    s.flush()
    s.add_all(ParamRow(run_uuid=run_id, key=k, value=v) for k, v in params.items())
    s.add_all(TagRow(run_uuid=run_id, key=k, value=v) for k, v in tags.items())
    s.add_all(
        LatestMetricRow(
            run_uuid=run_id,
            key=k,
            value=0.0 if math.isnan(v) else v,
            is_nan=math.isnan(v),
            timestamp=1,
            step=0,
        )
        for k, v in metrics.items()
    )


def _add_experiment(s: Any, exp: int, name: str, created: int, **kw: Any) -> None:
    project = s.scalar(select(ProjectRow.id))
    s.add(
        ExperimentRow(
            experiment_id=exp,
            name=name,
            artifact_location=f"mlflow-artifacts:/{exp}",
            lifecycle_stage=kw.get("stage", "active"),
            creation_time=created,
            last_update_time=kw.get("updated", created),
            project_id=project,
        )
    )
    s.flush()
    s.add_all(ExperimentTagRow(experiment_id=exp, key=k, value=v) for k, v in kw.get("tags", {}).items())


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    with database.write() as s:
        _add_experiment(s, EXP, "runs", 10)
        _add_experiment(s, OTHER, "other", 20)
        for run_id, (start, end, status, name, user, params, metrics, tags) in RUNS.items():
            _add_run(
                s,
                run_id,
                EXP,
                start,
                end=end,
                status=status,
                name=name,
                user=user,
                params=params,
                metrics=metrics,
                tags=tags,
            )
        # Same experiment but deleted, and an active run elsewhere: neither is in a default search.
        _add_run(s, "x-deleted", EXP, 600, stage="deleted", params={"p": "a"}, metrics={"m": 9.0})
        _add_run(s, "x-other", OTHER, 700, params={"p": "a"}, metrics={"m": 9.0})
        s.add_all(
            [
                DatasetRow(
                    dataset_uuid="d1",
                    experiment_id=EXP,
                    name="train",
                    digest="abc",
                    source_type="local",
                    source="/d1",
                    created_at=1,
                ),
                DatasetRow(
                    dataset_uuid="d2",
                    experiment_id=EXP,
                    name="eval",
                    digest="def",
                    source_type="local",
                    source="/d2",
                    created_at=1,
                ),
            ]
        )
        s.flush()
        s.add_all(
            [
                RunInputRow(run_uuid="r1", dataset_uuid="d1", tags={"mlflow.data.context": "training"}),
                RunInputRow(run_uuid="r2", dataset_uuid="d2", tags={"mlflow.data.context": "eval"}),
                RunInputRow(run_uuid="r2", dataset_uuid="d1", tags={}),
            ]
        )
    yield database
    database.dispose()


def runs(
    db: Database,
    filter_string: str = "",
    order_by: Sequence[str] = (),
    *,
    experiments: Sequence[int] = (EXP,),
    stages: Sequence[str] = ("active",),
    max_results: int = 100,
    offset: int = 0,
) -> list[str]:
    with db.read() as s:
        return search_run_ids(
            s,
            experiment_ids=experiments,
            stages=stages,
            filters=parse_filter(filter_string),
            order_by=parse_order_by(list(order_by)),
            max_results=max_results,
            offset=offset,
        )


# ---- scope --------------------------------------------------------------------------------------


def test_default_order_is_newest_first_within_experiments_and_stages(db: Database) -> None:
    assert runs(db) == ["r5", "r4", "r3", "r2", "r1"]
    assert runs(db, stages=("deleted",)) == ["x-deleted"]
    assert runs(db, stages=ViewType.ALL.stages()) == ["x-deleted", "r5", "r4", "r3", "r2", "r1"]
    assert runs(db, experiments=(EXP, OTHER)) == ["x-other", "r5", "r4", "r3", "r2", "r1"]
    assert runs(db, experiments=()) == []
    assert runs(db, max_results=0) == []


# ---- metrics ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.m > 1", ["r2"]),
        ("metrics.m >= 1", ["r2", "r1"]),
        ("metrics.m = 1", ["r1"]),
        ("metrics.m = 1.0", ["r1"]),
        ("metrics.m < 2.5", ["r5", "r1"]),
        ("metrics.m <= 2.5", ["r5", "r2", "r1"]),
        # NaN is stored as 0: it must satisfy "!=" only, and never pass as a zero.
        ("metrics.m != 1", ["r5", "r3", "r2"]),
        ("metrics.m != 0", ["r3", "r2", "r1"]),
        ("metrics.m = 0", ["r5"]),
        ("metrics.m <= 0", ["r5"]),
        ("metrics.m >= 0", ["r5", "r2", "r1"]),
        ("metrics.m > -1e9", ["r5", "r2", "r1"]),
        ("metrics.n < 0", ["r4"]),
        ("metrics.n != 5", ["r4", "r2"]),
        ("metrics.missing > 0", []),
        ("metrics.m > 0 and metrics.n = 5", ["r1"]),
    ],
)
def test_metric_filters_compare_the_latest_value(
    db: Database, filter_string: str, expected: list[str]
) -> None:
    assert runs(db, filter_string) == expected


# ---- params and tags ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.p = 'a'", ["r1"]),
        ("params.p = 'A'", []),
        # "!=" needs the key: r4 and r5 have no p.
        ("params.p != 'a'", ["r3", "r2"]),
        ("params.p IS NULL", ["r5", "r4"]),
        ("params.p IS NOT NULL", ["r3", "r2", "r1"]),
        ("params.q IS NULL", ["r3"]),
        ("params.nope IS NULL", ["r5", "r4", "r3", "r2", "r1"]),
        ("params.nope != 'x'", []),
        ("params.q = 'x' and params.p = 'b'", ["r2"]),
        ("tags.t = 'red'", ["r2"]),
        ("tags.t != 'red'", ["r5", "r4", "r1"]),
        ("tags.t IS NULL", ["r3"]),
    ],
)
def test_param_and_tag_filters(db: Database, filter_string: str, expected: list[str]) -> None:
    assert runs(db, filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tags.t LIKE 'r%'", ["r2"]),
        ("tags.t LIKE 'R%'", ["r1"]),
        ("tags.t LIKE '_ed'", ["r2", "r1"]),
        ("tags.t LIKE '%e%'", ["r5", "r4", "r2", "r1"]),
        ("tags.t LIKE 'red'", ["r2"]),
        ("tags.t LIKE 're'", []),
        ("tags.t ILIKE 'r%'", ["r2", "r1"]),
        ("tags.t ILIKE 'BL_E'", ["r5", "r4"]),
        ("params.p LIKE 'A%'", ["r3"]),
        ("params.p ILIKE 'a%'", ["r3", "r1"]),
        # GLOB's own wildcards are plain characters in a LIKE pattern...
        ("params.p LIKE '%*%'", ["r3"]),
        ("params.p LIKE '%[x'", ["r3"]),
        ("params.p LIKE '__?%'", []),
        ("params.p LIKE '___*?[x'", ["r3"]),
        # ...and a backslash escapes LIKE's wildcards.
        ("params.p LIKE 'A\\_\\%%'", ["r3"]),
        ("params.p LIKE 'A\\%%'", []),
        ("params.p ILIKE 'a\\_%'", ["r3"]),
        ("params.p LIKE 'a\\%'", []),
    ],
)
def test_like_is_case_sensitive_and_ilike_is_not(
    db: Database, filter_string: str, expected: list[str]
) -> None:
    assert runs(db, filter_string) == expected


# ---- attributes and datasets --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("status = 'FINISHED'", ["r4", "r1"]),
        ("attributes.status != 'FINISHED'", ["r5", "r3", "r2"]),
        ("run_name LIKE 'alpha%'", ["r4", "r1"]),
        ("run_name LIKE 'beta'", []),
        ("`Run name` ILIKE 'beta'", ["r2"]),
        ("user_id = 'ann'", ["r3", "r1"]),
        ("artifact_uri LIKE 's3://bucket/1/%'", ["r5", "r4", "r3", "r2", "r1"]),
        ("lifecycle_stage = 'active'", ["r5", "r4", "r3", "r2", "r1"]),
        ("run_id = 'r3'", ["r3"]),
        ("run_id IN ('r1', 'r3', 'x-other')", ["r3", "r1"]),
        ("run_id NOT IN ('r1', 'r3')", ["r5", "r4", "r2"]),
        ("start_time >= 300", ["r5", "r4", "r3"]),
        ("created < 200", ["r1"]),
        ("attributes.start_time != 300", ["r5", "r4", "r2", "r1"]),
        ("end_time > 0", ["r5", "r4", "r3", "r1"]),  # r2 has not ended
        ("end_time <= 350", ["r3", "r1"]),
        ("status = 'FINISHED' and params.q = 'y'", ["r4"]),
    ],
)
def test_attribute_filters(db: Database, filter_string: str, expected: list[str]) -> None:
    assert runs(db, filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("datasets.name = 'train'", ["r2", "r1"]),
        ("datasets.name = 'eval'", ["r2"]),
        ("datasets.name != 'train'", ["r2"]),  # some input of the run is not 'train'
        ("datasets.digest IN ('def')", ["r2"]),
        ("datasets.digest NOT IN ('def')", ["r2", "r1"]),
        ("datasets.name LIKE 'TR%'", []),
        ("datasets.name ILIKE 'TR%'", ["r2", "r1"]),
        ("datasets.context = 'training'", ["r1"]),
        ("datasets.context LIKE 'ev%'", ["r2"]),
        ("datasets.context IN ('eval', 'training')", ["r2", "r1"]),
        ("datasets.name = 'train' and datasets.context = 'eval'", ["r2"]),
    ],
)
def test_dataset_filters(db: Database, filter_string: str, expected: list[str]) -> None:
    assert runs(db, filter_string) == expected


# ---- ordering -----------------------------------------------------------------------------------


@pytest.fixture(params=["metric_first", "runs_first"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both query shapes for a metric order key must give the same pages; the cost estimate picks
    one by data size, which these few runs cannot reach, so each test runs once per shape."""
    choice = request.param == "metric_first"
    monkeypatch.setattr(run_search, "_metric_first_pays", lambda *args, **kwargs: choice)
    return str(request.param)


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # numbers, then NaN, then runs without the metric, in either direction
        (["metrics.m DESC"], ["r2", "r1", "r5", "r3", "r4"]),
        (["metrics.m ASC"], ["r5", "r1", "r2", "r3", "r4"]),
        (["metrics.n"], ["r4", "r5", "r1", "r2", "r3"]),  # r1 and r5 tie at 5: newest first
        (["metrics.n DESC"], ["r5", "r1", "r4", "r2", "r3"]),
        (["metrics.nope DESC"], ["r5", "r4", "r3", "r2", "r1"]),
        # text in code-point order (upper case first); runs without the key last
        (["params.p"], ["r3", "r1", "r2", "r5", "r4"]),
        (["params.p DESC"], ["r2", "r1", "r3", "r5", "r4"]),
        (["tags.t"], ["r5", "r1", "r4", "r2", "r3"]),
        (["tags.t DESC"], ["r2", "r4", "r1", "r5", "r3"]),
        (["run_name"], ["r2", "r1", "r4", "r5", "r3"]),
        (["attributes.start_time ASC"], ["r1", "r2", "r3", "r4", "r5"]),
        (["created DESC"], ["r5", "r4", "r3", "r2", "r1"]),
        (["end_time DESC"], ["r5", "r4", "r3", "r1", "r2"]),  # no end time: last
        (["end_time"], ["r1", "r3", "r4", "r5", "r2"]),
        (["status", "user_id DESC"], ["r3", "r4", "r1", "r5", "r2"]),
        (["run_id DESC"], ["r5", "r4", "r3", "r2", "r1"]),
        # a metric after another key is sorted with its tiers too
        (["params.q", "metrics.n DESC"], ["r1", "r2", "r5", "r4", "r3"]),
        (["params.q DESC", "metrics.m"], ["r5", "r4", "r1", "r2", "r3"]),
        (["metrics.n", "metrics.m DESC"], ["r4", "r1", "r5", "r2", "r3"]),
    ],
)
def test_order_by(db: Database, plan: str, order_by: list[str], expected: list[str]) -> None:
    assert runs(db, order_by=order_by) == expected


@pytest.mark.parametrize(
    ("filter_string", "order_by", "expected"),
    [
        ("metrics.m > -1", ["metrics.m DESC"], ["r2", "r1", "r5"]),
        ("metrics.m >= 0 and params.q = 'x'", ["metrics.m"], ["r1", "r2"]),
        ("metrics.m != 1", ["metrics.m"], ["r5", "r2", "r3"]),  # NaN passes "!=" and sorts after numbers
        ("metrics.m != 1", ["metrics.m DESC"], ["r2", "r5", "r3"]),
        ("metrics.m != 1 and metrics.m < 9", ["metrics.m DESC"], ["r2", "r5"]),
        ("params.q = 'y'", ["metrics.m DESC"], ["r5", "r4"]),
        ("metrics.n = 5", ["metrics.m DESC"], ["r1", "r5"]),
        ("tags.t ILIKE 'r%'", ["params.p DESC"], ["r2", "r1"]),
    ],
)
def test_filter_and_order(
    db: Database, plan: str, filter_string: str, order_by: list[str], expected: list[str]
) -> None:
    assert runs(db, filter_string, order_by) == expected


@pytest.mark.parametrize(
    "order_by",
    [[], ["metrics.m DESC"], ["metrics.m"], ["metrics.n"], ["params.p"], ["end_time"], ["metrics.nope"]],
)
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_pages_concatenate_to_the_full_result(
    db: Database, plan: str, order_by: list[str], size: int
) -> None:
    full = runs(db, order_by=order_by)
    pages = [
        runs(db, order_by=order_by, max_results=size, offset=o) for o in range(0, len(full) + size, size)
    ]
    assert [run for page in pages for run in page] == full
    assert all(len(page) == size for page in pages[: len(full) // size])
    assert runs(db, order_by=order_by, max_results=size, offset=len(full)) == []


def test_paging_past_the_numbers_skips_whole_tiers(db: Database, plan: str) -> None:
    # offset 4 lies past the three runs with m and the NaN run: only the run without m remains
    assert runs(db, order_by=["metrics.m DESC"], max_results=5, offset=4) == ["r4"]
    assert runs(db, order_by=["metrics.m DESC"], max_results=1, offset=3) == ["r3"]
    assert runs(db, order_by=["metrics.m DESC"], max_results=5, offset=9) == []


def test_metric_first_only_when_the_scope_is_big_enough(db: Database) -> None:
    # 300 runs elsewhere hold the highest values of m: a walk down m's index for EXP's five runs
    # would read all of them first, so EXP is read run by run; OTHER fills a page from the walk.
    with db.write() as s:
        for i in range(300):
            _add_run(s, f"y{i:03}", OTHER, 1000 + i, metrics={"m": 100.0 + i})
    order = parse_order_by(["metrics.m DESC"])[0]
    with db.read() as s:

        def pays(experiment: int, need: int, filter_string: str = "") -> bool:
            dialect = s.get_bind().dialect.name
            filters = tuple(parse_filter(filter_string))
            shape = run_search._Shape(dialect, (experiment,), ("active",), filters, (order,))
            return run_search._metric_first_pays(s, shape, need)

        assert not pays(EXP, 100)
        assert pays(OTHER, 100)
        assert not pays(OTHER, 1000)  # a page bigger than the experiment: sorting it is cheaper
        assert pays(EXP, 100, "metrics.m > 300")  # 99 rows pass, fewer than the sample: a short walk
        assert not pays(OTHER, 100, "params.p = 'a'")  # no run of the sample passes the filter
    assert runs(db, order_by=["metrics.m DESC"]) == ["r2", "r1", "r5", "r3", "r4"]
    assert runs(db, order_by=["metrics.m DESC"], experiments=(OTHER,), max_results=3) == [
        "y299",
        "y298",
        "y297",
    ]


def test_a_search_made_again_reads_the_data_anew(db: Database) -> None:
    """Statements are built once per search (``_Shape``) and reused: what they find is read each time."""
    first = runs(db, "metrics.m > 0.5", ["metrics.m DESC"])
    assert first == runs(db, "metrics.m > 0.5", ["metrics.m DESC"]) == ["r2", "r1"]
    with db.write() as s:
        _add_run(s, "r6", EXP, 600, metrics={"m": 2.0})
    assert runs(db, "metrics.m > 0.5", ["metrics.m DESC"]) == ["r2", "r6", "r1"]
    # the same search with other values, page or scope is another search
    assert runs(db, "metrics.m > 1.5", ["metrics.m DESC"]) == ["r2", "r6"]
    assert runs(db, "metrics.m > 0.5", ["metrics.m DESC"], max_results=1, offset=1) == ["r6"]
    assert runs(db, "metrics.m > 0.5", ["metrics.m DESC"], stages=("deleted",)) == ["x-deleted"]
    assert runs(db, "metrics.m > 0.5", ["metrics.m DESC"], experiments=(OTHER,)) == ["x-other"]


def test_negative_page_is_refused(db: Database) -> None:
    with pytest.raises(InvalidParameter, match="negative"):
        runs(db, max_results=-1)
    with pytest.raises(InvalidParameter, match="negative"):
        runs(db, offset=-1)


# ---- experiments --------------------------------------------------------------------------------


@pytest.fixture
def edb(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    with database.write() as s:
        default = s.get(ExperimentRow, 0)  # seeded as "Default", created "now"
        assert default is not None
        default.creation_time = default.last_update_time = 5
        _add_experiment(s, 11, "prod-a", 100, updated=900, tags={"team": "ml", "tier": "gold"})
        _add_experiment(s, 12, "Prod-b", 300, updated=300, tags={"team": "ML"})
        _add_experiment(s, 13, "dev", 300, updated=500, tags={"tier": "silver"})
        _add_experiment(s, 14, "gone", 400, stage="deleted", tags={"team": "ml"})
    yield database
    database.dispose()


def experiments(db: Database, filter_string: str = "", order_by: Sequence[str] = (), **kw: Any) -> list[int]:
    with db.read() as s:
        return search_experiment_ids(
            s,
            stages=kw.get("stages", ("active",)),
            filters=parse_experiment_filter(filter_string),
            order_by=parse_experiment_order_by(list(order_by)),
            max_results=kw.get("max_results", 100),
            offset=kw.get("offset", 0),
        )


def test_experiments_default_order_is_newest_created_then_id(edb: Database) -> None:
    assert experiments(edb) == [12, 13, 11, 0]
    assert experiments(edb, stages=("deleted",)) == [14]
    assert experiments(edb, stages=("active", "deleted")) == [14, 12, 13, 11, 0]
    assert experiments(edb, max_results=2, offset=1) == [13, 11]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'dev'", [13]),
        ("name != 'dev'", [12, 11, 0]),
        ("name LIKE 'prod%'", [11]),
        ("name ILIKE 'prod%'", [12, 11]),
        ("attribute.name LIKE '%-_'", [12, 11]),
        ("experiment_id = '11'", [11]),
        ("experiment_id != '11'", [12, 13, 0]),
        ("experiment_id IN ('11', '13', '99')", [13, 11]),
        ("experiment_id NOT IN ('11', '13')", [12, 0]),
        ("creation_time >= 300", [12, 13]),
        ("creation_time < 300", [11, 0]),
        ("last_update_time = 500", [13]),
        ("tags.team = 'ml'", [11]),
        ("tags.team ILIKE 'ml'", [12, 11]),
        ("tags.team != 'ml'", [12]),
        ("tags.team IS NULL", [13, 0]),
        ("tags.tier IS NOT NULL", [13, 11]),
        ("tags.tier LIKE '%l%' and name LIKE 'prod%'", [11]),
    ],
)
def test_experiment_filters(edb: Database, filter_string: str, expected: list[int]) -> None:
    assert experiments(edb, filter_string) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name"], [0, 12, 13, 11]),  # code-point order: upper case first
        (["name DESC"], [11, 13, 12, 0]),
        (["creation_time"], [0, 11, 13, 12]),  # 12 and 13 tie: higher id first, as MLflow breaks ties
        (["last_update_time DESC"], [11, 13, 12, 0]),
        (["experiment_id"], [0, 11, 12, 13]),
        (["creation_time DESC", "experiment_id ASC"], [12, 13, 11, 0]),
    ],
)
def test_experiment_order(edb: Database, order_by: list[str], expected: list[int]) -> None:
    assert experiments(edb, order_by=order_by) == expected


def test_experiment_id_filter_must_be_an_integer(edb: Database) -> None:
    with pytest.raises(InvalidParameter, match="Invalid experiment_id 'abc'"):
        experiments(edb, "experiment_id IN ('1', 'abc')")
