"""audit events carry the resource's name beside its id; high-volume appends are counted before they
are summarised into the chain

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 21:00:00

``audit_events.resource_name`` is NULL on the events already written (their hashes cover what they
hold, so they are not touched). ``audit_appends`` holds the metric points and artifact uploads counted
since the last summary (``services.audit.appends``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource_name", sa.String(length=250), nullable=True))
        batch_op.create_index(
            "ix_audit_events_resource_name", ["resource_type", "resource_name"], unique=False
        )

    op.create_table(
        "audit_appends",
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=250), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("first_time", sa.BigInteger(), nullable=False),
        sa.Column("last_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "resource_type", "resource_id", "actor", "kind", "key", name=op.f("pk_audit_appends")
        ),
    )
    with op.batch_alter_table("audit_appends", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_appends_first_time"), ["first_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_appends", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_appends_first_time"))
    op.drop_table("audit_appends")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_resource_name")
        batch_op.drop_column("resource_name")
