"""Delivery claims: a worker leases a delivery while it sends it

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 03:30:00
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_until", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_delivery_channel_queue", ["channel_id", "state", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_channel_queue")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
