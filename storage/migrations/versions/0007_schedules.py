"""Schedules: maintenance reminders, nudges and where incidents were opened, scheduled runs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remind_before_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reminded_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("nudged_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("opened_in", sa.String(length=80), nullable=True))
    with op.batch_alter_table("incident_update", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("window_start", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("window_end", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "scheduled_run",
        sa.Column("job", sa.String(length=80), nullable=False),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job", "due_at"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_run")
    with op.batch_alter_table("incident_update", schema=None) as batch_op:
        batch_op.drop_column("window_end")
        batch_op.drop_column("window_start")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("opened_in")
        batch_op.drop_column("nudged_at")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("remind_before_seconds")
