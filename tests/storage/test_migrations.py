"""Migrations: they build exactly the ORM's schema (SQLite and PostgreSQL); ids of deleted rows are never
given out again; and 0005 rebuilds a database made at the previous head with data in it, keeping its
rows, indexes and constraints, and starting each counter above every id on record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, inspect, select, text
from sqlalchemy.orm import Session

from modelyard.settings import Settings
from modelyard.storage.db import Database
from modelyard.storage.migrate import upgrade
from modelyard.storage.orm import (
    Base,
    DeploymentRow,
    DeploymentTokenRow,
    ExperimentRow,
    GroupRow,
    MembershipRow,
    ModelVersionRow,
    ProjectRow,
    RegisteredModelRow,
    TokenRow,
    UserRow,
)

REBUILT = (
    "users",
    "groups",
    "memberships",
    "api_tokens",
    "projects",
    "experiments",
    "registered_models",
    "model_versions",
    "deployments",
    "deployment_tokens",
)


def test_the_migrations_build_the_orm_schema(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()


# ---- rows of every table with a visible integer id -------------------------------------------------

Row = Callable[[Session, int], Any]


def _user(s: Session, n: int) -> Any:
    return UserRow(username=f"u{n}", created_at=0, updated_at=0)


def _group(s: Session, n: int) -> Any:
    return GroupRow(name=f"g{n}", created_at=0, updated_at=0)


def _membership(s: Session, n: int) -> Any:
    user = _user(s, 1000 + n)
    s.add(user)
    s.flush()
    return MembershipRow(user_id=user.id, group_id=_default_group(s), role="member", created_at=0)


def _token(s: Session, n: int) -> Any:
    user = _user(s, 2000 + n)
    s.add(user)
    s.flush()
    return TokenRow(user_id=user.id, secret_hash=f"h{n}", prefix="myd_", created_at=0)


def _project(s: Session, n: int) -> Any:
    return ProjectRow(name=f"p{n}", group_id=_default_group(s), created_at=0, updated_at=0)


def _experiment(s: Session, n: int) -> Any:
    project = s.scalar(select(ProjectRow.id).order_by(ProjectRow.id).limit(1))
    return ExperimentRow(
        name=f"e{n}", artifact_location="x", creation_time=0, last_update_time=0, project_id=project
    )


def _registered_model(s: Session, n: int) -> Any:
    return RegisteredModelRow(
        name=f"m{n}", group_id=_default_group(s), creation_timestamp=0, last_updated_timestamp=0
    )


def _model_version(s: Session, n: int) -> Any:
    model = _registered_model(s, 3000 + n)
    s.add(model)
    s.flush()
    return ModelVersionRow(
        registered_model_id=model.id,
        version=1,
        source="s",
        storage_location="s",
        status="READY",
        current_stage="None",
        creation_timestamp=0,
        last_updated_timestamp=0,
    )


def _deployment(s: Session, n: int) -> Any:
    return DeploymentRow(
        name=f"d{n}", group_id=_default_group(s), stage="staging", spec={}, created_at=0, updated_at=0
    )


def _deployment_token(s: Session, n: int) -> Any:
    dep = _deployment(s, 4000 + n)
    s.add(dep)
    s.flush()
    return DeploymentTokenRow(deployment_id=dep.id, secret_hash=f"d{n}", prefix="x", created_at=0)


def _default_group(s: Session) -> int:
    return int(s.scalar(select(GroupRow.id).order_by(GroupRow.id).limit(1)) or 0)


ROWS: dict[str, Row] = {
    "users": _user,
    "groups": _group,
    "memberships": _membership,
    "api_tokens": _token,
    "projects": _project,
    "experiments": _experiment,
    "registered_models": _registered_model,
    "model_versions": _model_version,
    "deployments": _deployment,
    "deployment_tokens": _deployment_token,
}


def _pk(row: Any) -> int:
    return int(inspect(row).identity[0])


@pytest.mark.parametrize("table", REBUILT)
def test_the_id_of_a_deleted_row_is_never_given_out_again(settings: Settings, table: str) -> None:
    db = Database(settings.database_url)
    make = ROWS[table]
    try:
        with db.write() as s:
            rows = [make(s, n) for n in (1, 2)]
            s.add_all(rows)
            s.flush()
            newest = max(_pk(r) for r in rows)
            cls = type(rows[0])
            pk = inspect(cls).primary_key[0]
            s.execute(delete(cls).where(pk == newest))
        with db.write() as s:
            again = make(s, 3)
            s.add(again)
            s.flush()
            assert _pk(again) > newest
    finally:
        db.dispose()


# ---- 0005 on a database made at 0004, with data ------------------------------------------------------


def _snapshot(db: Database) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with db.engine.connect() as conn:
        inspector = inspect(conn)
        for table in REBUILT:
            out[table] = {
                "rows": [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), i["unique"]) for i in inspector.get_indexes(table)
                ),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
                ),
                "fks": sorted(
                    (f["name"], tuple(f["constrained_columns"]), f["referred_table"], str(f["options"]))
                    for f in inspector.get_foreign_keys(table)
                ),
            }
    return out


def test_0005_rebuilds_a_populated_database_and_starts_counters_above_recorded_ids(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(db, "0004")
        with db.write() as s:
            for table, make in ROWS.items():
                rows = [make(s, n) for n in (1, 2, 3)]
                s.add_all(rows)
                s.flush()
                if table in ("deployments", "registered_models", "projects"):
                    s.delete(rows[-1])  # the newest is gone: SQLite alone would give its id out again
            s.execute(
                text(
                    "UPDATE deployments SET source_deployment_id = 50 WHERE id = (SELECT MIN(id) FROM deployments)"
                )
            )
            # a token deleted long ago whose id is on record in the audit trail
            s.execute(
                text(
                    "INSERT INTO audit_events (seq, time, actor, resource_type, resource_id, action, outcome, "
                    "changes, prev_hash, hash) VALUES (1, 0, 'admin', 'token', '90', 'revoke', 'success', '{}', "
                    "'0', 'h1')"
                )
            )
        before = _snapshot(db)
        with db.engine.connect() as conn:
            deployments_max = conn.execute(text("SELECT MAX(id) FROM deployments")).scalar()

        upgrade(db)

        assert _snapshot(db) == before  # every row, index, unique constraint and foreign key kept
        with db.engine.connect() as conn:
            for table in REBUILT:
                ddl = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}
                ).scalar()
                assert "AUTOINCREMENT" in ddl, table
            assert conn.execute(text("PRAGMA foreign_key_check")).first() is None
            counters = dict(conn.execute(text("SELECT name, seq FROM sqlite_sequence")).all())
        assert counters["deployments"] == 50  # a source_deployment_id names deployment 50
        assert counters["api_tokens"] == 90  # the audit trail names token 90
        with db.write() as s:
            new = _deployment(s, 99)
            s.add(new)
            s.flush()
            assert new.id == 51 and new.id > deployments_max
    finally:
        db.dispose()
