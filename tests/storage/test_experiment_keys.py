"""``experiment_keys`` (migration 0008): the triggers that keep it exist at the head revision (a later
migration that rebuilds ``params``, ``tags`` or ``latest_metrics`` on SQLite drops a table's triggers with
it), every writer's keys land in it, and the migration copies in the keys of rows written before it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Metric
from modelyard.services import Services
from modelyard.settings import Settings
from modelyard.storage import experiment_keys
from modelyard.storage.db import Database
from modelyard.storage.migrate import upgrade

TRIGGERS = {"experiment_keys_params", "experiment_keys_metrics", "experiment_keys_tags"}


def test_the_triggers_exist_at_the_head_revision(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        with db.engine.connect() as conn:
            if db.is_sqlite:
                sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            assert {row[0] for row in conn.execute(text(sql))} >= TRIGGERS
    finally:
        db.dispose()


def test_every_writer_adds_its_keys_once(services: Services) -> None:
    system = Principal.system()
    eid = services.experiments.create_experiment(system, name="keys")
    other = services.experiments.create_experiment(system, name="other")
    run = services.tracking.create_run(system, experiment_id=eid, tags={"team": "a"})
    services.tracking.log_batch(
        system,
        run.run_id,
        metrics=[Metric("loss", 1.0, 1, 0), Metric("loss", 0.5, 2, 1)],
        params={"lr": "0.1", "depth": "3"},
        tags={"team": "b", "stage": "dev"},
    )
    services.tracking.log_batch(system, run.run_id, metrics=[Metric("loss", 0.1, 3, 2)])  # an update
    second = services.tracking.create_run(system, experiment_id=eid)
    services.tracking.log_batch(system, second.run_id, metrics=[Metric("acc", 1.0, 1, 0)], params={"lr": "1"})
    with services.db.read() as s:
        keys = experiment_keys.keys_of(s, [int(eid)])
        assert experiment_keys.keys_of(s, [int(other)]) == {"param": [], "metric": [], "tag": []}
        rows = s.execute(text("SELECT COUNT(*) FROM experiment_keys")).scalar()
    assert keys == {
        "param": ["depth", "lr"],
        "metric": ["acc", "loss"],
        "tag": ["mlflow.runName", "stage", "team"],
    }
    assert rows == 7


def test_0008_copies_the_keys_already_written(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(db, "0007")
        with db.write() as s:
            s.execute(
                text(
                    "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                    "creation_time, last_update_time, project_id) VALUES (5, 'e', '/a', 'active', 0, 0, 1)"
                )
            )
            for run in ("r1", "r2"):
                s.execute(
                    text(
                        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, "
                        "lifecycle_stage, artifact_uri) VALUES (:r, 5, '', '', 'RUNNING', 0, 'active', '/a')"
                    ),
                    {"r": run},
                )
                s.execute(text("INSERT INTO params VALUES (:r, 'p', '1')"), {"r": run})
                s.execute(text("INSERT INTO tags VALUES (:r, 't', '1')"), {"r": run})
                s.execute(text("INSERT INTO latest_metrics VALUES (:r, 'm', 1.0, 0, 0, false)"), {"r": run})
        upgrade(db)
        with db.read() as s:
            assert experiment_keys.keys_of(s, [5]) == {"param": ["p"], "metric": ["m"], "tag": ["t"]}
    finally:
        db.dispose()
