"""Reading runs and histories on the driver (``tracking_repo.load_runs``, ``metric_chunks.series``)
against a real database (SQLite, or PostgreSQL in CI), compared with what the ORM reads from the same
rows and with what ``metric_chunks.history`` (the sorting, deduplicating reader) gives."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import (
    CodeVersion,
    Dataset,
    DatasetInput,
    Environment,
    LifecycleStage,
    Metric,
    MetricPoints,
    Run,
)
from modelyard.services import Services
from modelyard.storage import driver_sql, metric_chunks
from modelyard.storage import tracking_repo as repo
from modelyard.storage.orm import (
    DatasetRow,
    LatestMetricRow,
    ParamRow,
    RunInputRow,
    RunModelRow,
    RunRow,
    TagRow,
)

ODD_VALUES = {
    "quote": 'it\'s "quoted"',
    "backslash": "C:\\path\\to\\%_*?[x]",
    "unicode": "\u00e9t\u00e9 \u2603 \U0001f600",
    "empty": "",
    "long": "v" * 6000,
    "json-like": '{"a": [1, 2]}',
}


def _orm_runs(s: Any, run_ids: list[str]) -> list[Run]:
    """The runs as the ORM reads them: the reference the driver-level reader must match."""
    out = []
    for rid in run_ids:
        row = s.get(RunRow, rid)
        if row is None:
            continue
        params = {p.key: p.value for p in s.scalars(select(ParamRow).where(ParamRow.run_uuid == rid))}
        tags = {t.key: t.value for t in s.scalars(select(TagRow).where(TagRow.run_uuid == rid))}
        metrics = [
            Metric(m.key, math.nan if m.is_nan else m.value, m.timestamp, m.step, rid)
            for m in s.scalars(select(LatestMetricRow).where(LatestMetricRow.run_uuid == rid))
        ]
        inputs = [
            DatasetInput(
                Dataset(d.name, d.digest, d.source_type, d.source, d.schema, d.profile), dict(i.tags or {})
            )
            for i, d in s.execute(
                select(RunInputRow, DatasetRow)
                .join(DatasetRow, DatasetRow.dataset_uuid == RunInputRow.dataset_uuid)
                .where(RunInputRow.run_uuid == rid)
                .order_by(DatasetRow.created_at, DatasetRow.name)
            )
        ]
        models = list(s.scalars(select(RunModelRow).where(RunModelRow.run_uuid == rid)))
        out.append(
            Run(
                run_id=rid,
                experiment_id=str(row.experiment_id),
                run_name=row.name,
                user_id=row.user_id,
                status=row.status,
                start_time=row.start_time,
                end_time=row.end_time,
                artifact_uri=row.artifact_uri,
                lifecycle_stage=row.lifecycle_stage,
                params=params,
                metrics=metrics,
                tags=tags,
                dataset_inputs=inputs,
                model_inputs=[m.model_id for m in models if m.direction == "input"],
                model_outputs=[(m.model_id, m.step) for m in models if m.direction == "output"],
                code_version=CodeVersion(**row.code_version) if row.code_version else None,
                environment=Environment(**row.environment) if row.environment else None,
            )
        )
    return out


def _comparable(run: Run) -> dict[str, Any]:
    """A run with NaN spelled out (NaN != NaN) and its metrics in key order."""
    metrics = sorted(
        (m.key, repr(m.value), m.timestamp, m.step, m.run_id, m.model_id, m.dataset_name, m.dataset_digest)
        for m in run.metrics
    )
    fields = {name: getattr(run, name) for name in run.__slots__ if name != "metrics"}
    return {**fields, "metrics": metrics}


@pytest.fixture
def tracked(services: Services, admin: Principal) -> dict[str, str]:
    """Runs covering what a run can hold; returns their ids by name."""
    t = services.tracking
    eid = services.experiments.create_experiment(admin, name="reads")
    ids: dict[str, str] = {}

    def run(name: str, **kw: Any) -> str:
        ids[name] = t.create_run(
            admin, experiment_id=eid, run_name=name, start_time=1000 + len(ids), **kw
        ).run_id
        return ids[name]

    run("bare")  # no params, no metrics, only the run name tag
    odd = run("odd", tags={"t-quote": ODD_VALUES["quote"]})
    t.log_batch(
        admin,
        odd,
        metrics=[
            Metric("nan", math.nan, 5, 0),
            Metric("inf", math.inf, 5, 0),
            Metric("ninf", -math.inf, 5, 0),
            Metric("zero", 0.0, 5, 0),
            Metric("neg", -1.5e-300, 5, 0),
            Metric("big", 1.7976931348623157e308, 5, 0),
            Metric("latest", 1.0, 5, 3),
            Metric("latest", 2.0, 6, 1),  # an older step: the latest value stays 1.0
        ],
        params=ODD_VALUES,
        tags={f"t-{k}": v for k, v in ODD_VALUES.items()},
    )
    deleted = run("deleted")
    t.log_batch(admin, deleted, metrics=[Metric("m", 1.0, 1, 0)], params={"p": "v"})
    t.set_run_lifecycle(admin, deleted, LifecycleStage.DELETED)
    rich = run(
        "rich",
        code_version=CodeVersion(
            repo="https://example.invalid/r.git", commit="abc123", branch="main", dirty=True
        ),
        environment=Environment(python_version="3.11.7", platform="linux", packages={"numpy": "2.0.0"}),
    )
    dataset = Dataset(name="train", digest="d1", source_type="local", source="/data/train.csv", schema="{}")
    t.log_inputs(
        admin,
        rich,
        datasets=[
            DatasetInput(dataset, tags={"mlflow.data.context": "training"}),
            DatasetInput(Dataset(name="eval", digest="d2", source_type="local", source="/data/eval.csv")),
        ],
    )
    model = services.logged_models.create(admin, experiment_id=eid, name="model")
    t.log_inputs(admin, rich, datasets=[], model_ids=[model.model_id])
    t.log_outputs(admin, rich, models=[(model.model_id, 7)])
    git = run("git", tags={"mlflow.source.git.commit": "f00d", "mlflow.source.git.branch": "dev"})
    t.log_batch(admin, git, params={"only": "param"})
    return ids


def test_load_runs_reads_what_the_orm_reads(services: Services, tracked: dict[str, str]) -> None:
    # every kind of run, a missing id, and one asked for twice, in a chosen order
    wanted = [tracked["rich"], "0" * 32, tracked["odd"], tracked["bare"], tracked["deleted"], tracked["git"]]
    wanted.append(tracked["odd"])
    with services.tracking.db.read() as s:
        got = repo.load_runs(s, wanted)
        expected = _orm_runs(s, wanted)
    assert [r.run_name for r in got] == ["rich", "odd", "bare", "deleted", "git", "odd"]
    assert [_comparable(r) for r in got] == [_comparable(r) for r in expected]


def test_load_runs_values(services: Services, tracked: dict[str, str]) -> None:
    with services.tracking.db.read() as s:
        by_name = {r.run_name: r for r in repo.load_runs(s, list(tracked.values()))}
    odd = by_name["odd"]
    assert odd.params == ODD_VALUES
    assert {k: v for k, v in odd.tags.items() if k.startswith("t-")} == {
        f"t-{k}": v for k, v in ODD_VALUES.items()
    }
    values = {m.key: m.value for m in odd.metrics}
    assert math.isnan(values.pop("nan"))
    assert values == {
        "inf": math.inf,
        "ninf": -math.inf,
        "zero": 0.0,
        "neg": -1.5e-300,
        "big": 1.7976931348623157e308,
        "latest": 1.0,
    }
    assert {m.key: (m.timestamp, m.step) for m in odd.metrics}["latest"] == (5, 3)
    assert by_name["bare"].params == {} and by_name["bare"].metrics == []
    assert by_name["bare"].tags == {"mlflow.runName": "bare"}
    assert by_name["deleted"].lifecycle_stage == "deleted"
    rich = by_name["rich"]
    assert rich.code_version == CodeVersion(
        repo="https://example.invalid/r.git", commit="abc123", branch="main", dirty=True
    )
    assert rich.environment == Environment(
        python_version="3.11.7", platform="linux", packages={"numpy": "2.0.0"}
    )
    assert [(d.dataset.name, d.dataset.schema, d.tags) for d in rich.dataset_inputs] == [
        ("train", "{}", {"mlflow.data.context": "training"}),
        ("eval", None, {}),
    ]
    assert len(rich.model_inputs) == 1 and rich.model_outputs == [(rich.model_inputs[0], 7)]
    assert by_name["git"].code_version == CodeVersion(commit="f00d", branch="dev")


def test_load_runs_of_many_runs(services: Services, admin: Principal) -> None:
    """More ids than SQLite allows as separate parameters in old versions (999): one parameter holds them."""
    eid = services.experiments.create_experiment(admin, name="many")
    ids = [
        services.tracking.create_run(admin, experiment_id=eid, run_name=f"r{i}", start_time=i).run_id
        for i in range(1200)
    ]
    with services.tracking.db.read() as s:
        got = repo.load_runs(s, list(reversed(ids)))
    assert [r.run_id for r in got] == list(reversed(ids))
    assert all(r.tags == {"mlflow.runName": f"r{i}"} for i, r in zip(range(1199, -1, -1), got, strict=True))


def test_driver_errors_are_sqlalchemy_errors(services: Services, tracked: dict[str, str]) -> None:
    """The run-create race is caught as SQLAlchemy's IntegrityError, whatever runs the statement."""
    with pytest.raises(IntegrityError), services.tracking.db.write() as s:
        driver_sql.execute(
            s, "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)", (tracked["odd"], "quote", "x")
        )


# ---- metric histories ---------------------------------------------------------------------------


def _points(steps: list[int], *, value: Any = None, stamp: int = 10, **extra: Any) -> list[Metric]:
    out = []
    for i, step in enumerate(steps):
        v = value(step, i) if callable(value) else (float(step) / 2 if value is None else value)
        out.append(Metric("loss", v, stamp + i, step, None, **extra))
    return out


def _as_lists(p: MetricPoints) -> tuple[Any, ...]:
    return (p.key, p.steps, p.timestamps, [repr(v) for v in p.values], p.extras)


LAYOUTS: dict[str, list[list[Metric]]] = {
    "in order": [_points(list(range(0, 1000))), _points(list(range(1000, 2000)))],
    "batches logged out of order": [_points(list(range(1000, 1500))), _points(list(range(0, 1000)))],
    "gaps between steps": [_points([0, 10, 20]), _points([25, 1000, 10**12])],
    "negative steps": [_points([-5, -3, 0]), _points([1, 2])],
    "special values": [_points([0, 1, 2, 3], value=lambda s, i: [math.nan, math.inf, -math.inf, -0.0][i])],
    "overlapping batches": [_points([0, 1, 2, 3]), _points([2, 3, 4], value=9.0)],
    "steps out of order in a batch": [_points([3, 1, 2])],
    "a step twice in a batch": [_points([0, 1, 1, 2])],
    "exact repeats across batches": [_points([0, 1, 2], stamp=10), _points([2], stamp=12), _points([3])],
    "NaN repeated": [_points([0, 0], value=math.nan, stamp=10), _points([0], value=math.nan, stamp=10)],
    "with a model": [_points([0, 1], model_id="m-1"), _points([2, 3])],
    "with a dataset": [_points([0, 1], dataset_name="train", dataset_digest="d1")],
    "one point": [_points([7])],
    "none": [],
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_series_gives_what_history_gives(services: Services, tracked: dict[str, str], layout: str) -> None:
    run_id = tracked["bare"]
    with services.tracking.db.write() as s:
        for batch in LAYOUTS[layout]:
            metric_chunks.insert_points(s, run_id, batch)
    with services.tracking.db.read() as s:
        got = metric_chunks.series(s, run_id, "loss")
        reference = metric_chunks.history(s, run_id, "loss")
    assert _as_lists(got) == _as_lists(MetricPoints.of("loss", reference))
    assert len(got) == len({(p.step, p.timestamp, repr(p.value)) for batch in LAYOUTS[layout] for p in batch})


def test_series_of_a_retried_batch(services: Services, tracked: dict[str, str]) -> None:
    """A batch sent twice (a lost answer, then the client's retry) is stored and read once."""
    run_id = tracked["bare"]
    batch = _points(list(range(100)))
    with services.tracking.db.write() as s:
        metric_chunks.insert_points(s, run_id, batch)
        metric_chunks.insert_points(s, run_id, batch)
    with services.tracking.db.read() as s:
        got = metric_chunks.series(s, run_id, "loss")
    assert got.steps == list(range(100)) and got.values == [s / 2 for s in range(100)] and got.extras is None


def test_series_pages(services: Services, tracked: dict[str, str]) -> None:
    run_id = tracked["bare"]
    with services.tracking.db.write() as s:
        metric_chunks.insert_points(s, run_id, _points(list(range(10)), model_id="m-1"))
    with services.tracking.db.read() as s:
        points = metric_chunks.series(s, run_id, "loss")
    pages: dict[int, list[int]] = defaultdict(list)
    for start in range(0, 10, 4):
        page = points.slice(start, start + 4)
        pages[start] = page.steps
        assert page.extras == [("m-1", None, None)] * len(page)
    assert dict(pages) == {0: [0, 1, 2, 3], 4: [4, 5, 6, 7], 8: [8, 9]}


def test_each_transaction_of_a_session_runs_its_own_statements(
    services: Services, tracked: dict[str, str]
) -> None:
    """The driver connection kept for a transaction is never used by the session's next one: a
    statement after a rollback is in the new transaction and rolled back with it."""
    insert = "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)"
    with services.db.read() as s:
        driver_sql.execute(s, insert, (tracked["bare"], "first", "x"))
        s.rollback()
        driver_sql.execute(s, insert, (tracked["bare"], "second", "x"))
        s.rollback()
    with services.db.read() as s:
        rows = driver_sql.execute(s, "SELECT key FROM params WHERE run_uuid = ?", (tracked["bare"],)).all()
    assert rows == []
