"""ids are never reused: SQLite tables with an integer key get AUTOINCREMENT

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 20:30:00

Without AUTOINCREMENT, SQLite gives a new row the largest id in the table plus one, so deleting the
newest deployment (or project, registered model, ...) hands its id to the next one, and the audit
trail, links and caches that name the id mix two resources. SQLite cannot add AUTOINCREMENT to a
table: each table is rebuilt (create a copy, copy the rows, drop, rename; indexes and constraints are
reflected and recreated), with foreign keys off meanwhile (``storage.migrate``). The new counter
starts above the largest id in the table, and above any larger id the audit trail or another table
still names (a row deleted before this migration whose id is on record).

PostgreSQL's serial columns take ids from a sequence that never goes back: nothing to do there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = (
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

# Ids of deleted rows that may still be on record: (table, SQL giving the largest such id).
_AUDITED = "SELECT MAX(CAST(resource_id AS INTEGER)) FROM audit_events WHERE resource_type = '{}' AND resource_id GLOB '[0-9]*'"
RECORDED = {
    "api_tokens": [_AUDITED.format("token")],
    "deployment_tokens": [_AUDITED.format("deployment_token")],
    "projects": [_AUDITED.format("project"), "SELECT MAX(project_id) FROM experiments"],
    "experiments": [_AUDITED.format("experiment")],
    "deployments": ["SELECT MAX(source_deployment_id) FROM deployments"],
    "registered_models": ["SELECT MAX(registered_model_id) FROM model_versions"],
}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
        floor = max((conn.execute(sa.text(q)).scalar() or 0 for q in RECORDED.get(table, [])), default=0)
        if floor:
            _raise_counter(conn, table, int(floor))


def _raise_counter(conn: sa.Connection, table: str, floor: int) -> None:
    """Make the table's AUTOINCREMENT counter at least ``floor`` (its row exists once a row was inserted)."""
    current = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).first()
    if current is None:
        conn.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"), {"t": table, "s": floor}
        )
    elif current[0] < floor:
        conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :s WHERE name = :t"), {"t": table, "s": floor})


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for table in reversed(TABLES):
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
