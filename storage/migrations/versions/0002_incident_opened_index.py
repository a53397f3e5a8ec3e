"""Index incidents by opening time, for list and feeds on large histories

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 03:20:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_opened_id", ["opened_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_opened_id")
