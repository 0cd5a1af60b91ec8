"""the param, metric and tag keys each experiment's runs use, kept by triggers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00

``experiment_keys`` lists, per experiment, the keys its runs have used (``storage.orm.ExperimentKeyRow``).
A trigger on each of ``params``, ``latest_metrics`` (one row per run and metric key) and ``tags`` adds
the key of every inserted row, so whatever writes those tables keeps the list whole; an upsert that
updates an existing row inserts nothing and fires nothing. The rows already there are copied in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (trigger name, table, kind)
TRIGGERS = (
    ("experiment_keys_params", "params", "param"),
    ("experiment_keys_metrics", "latest_metrics", "metric"),
    ("experiment_keys_tags", "tags", "tag"),
)
_PG_FUNCTION = """
CREATE FUNCTION experiment_keys_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO experiment_keys (experiment_id, kind, key)
    SELECT r.experiment_id, TG_ARGV[0], NEW.key FROM runs r WHERE r.run_uuid = NEW.run_uuid
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "experiment_keys",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name=op.f("fk_experiment_keys_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "kind", "key", name=op.f("pk_experiment_keys")),
    )
    for _, table, kind in TRIGGERS:
        op.execute(
            f"INSERT INTO experiment_keys (experiment_id, kind, key) "
            f"SELECT DISTINCT r.experiment_id, '{kind}', t.key FROM {table} t "
            f"JOIN runs r ON r.run_uuid = t.run_uuid"
        )
    if op.get_bind().dialect.name == "sqlite":
        for name, table, kind in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {name} AFTER INSERT ON {table} BEGIN "
                f"INSERT OR IGNORE INTO experiment_keys (experiment_id, kind, key) "
                f"SELECT experiment_id, '{kind}', NEW.key FROM runs WHERE run_uuid = NEW.run_uuid; END"
            )
    else:
        op.execute(_PG_FUNCTION)
        for name, table, kind in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {name} AFTER INSERT ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION experiment_keys_add('{kind}')"
            )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if sqlite else f" ON {table}"))
    if not sqlite:
        op.execute("DROP FUNCTION IF EXISTS experiment_keys_add()")
    op.drop_table("experiment_keys")
