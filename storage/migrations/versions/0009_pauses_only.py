"""429 pauses only: one process sends per platform (a lease), so no turns are booked

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rate_budget") as batch_op:
        batch_op.drop_column("next_free")


def downgrade() -> None:
    with op.batch_alter_table("rate_budget") as batch_op:
        batch_op.add_column(
            sa.Column("next_free", sa.Float(), nullable=False, server_default="0")
        )
