"""Indexes for the status page: incidents by component, maintenance by window

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 04:45:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident_component", schema=None) as batch_op:
        batch_op.create_index("ix_incident_component_component", ["component_id"], unique=False)
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_kind_window", ["kind", "window_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_kind_window")
    with op.batch_alter_table("incident_component", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_component_component")
