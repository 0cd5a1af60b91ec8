"""indexes for the runs table's sorts: params and tags by key and value, runs by name, status, user and end

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-08 12:00:00

``ix_params_key_value`` and ``ix_tags_key_value`` hold (key, value, run_uuid), so a page of runs
sorted by a param or a tag (``storage.run_table_sql``) is read in order and stops after the page,
and a param or tag equal to a value is found without reading every row of the key. On SQLite only:
on PostgreSQL they are partial indexes that hold no row (``WHERE false``), because a B-tree entry
there is limited to about 2.7 kB and values may be longer (params 6,000 characters, tags 8,000),
and PostgreSQL's planner sorts the rows of one key quickly without them.

``ix_runs_experiment_stage_<column>`` (experiment, stage, column, run_uuid) do the same for the runs'
name, status, user and end time: one experiment's runs in the table's order, ties by run id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


RUN_COLUMNS = ("name", "status", "user_id", "end_time")


def upgrade() -> None:
    for column in RUN_COLUMNS:
        op.create_index(
            f"ix_runs_experiment_stage_{column}",
            "runs",
            ["experiment_id", "lifecycle_stage", column, "run_uuid"],
            unique=False,
        )
    for table in ("params", "tags"):
        op.create_index(
            f"ix_{table}_key_value",
            table,
            ["key", "value", "run_uuid"],
            unique=False,
            postgresql_where=sa.text("false"),
        )


def downgrade() -> None:
    for table in ("params", "tags"):
        op.drop_index(f"ix_{table}_key_value", table_name=table)
    for column in RUN_COLUMNS:
        op.drop_index(f"ix_runs_experiment_stage_{column}", table_name="runs")
