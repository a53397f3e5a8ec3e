"""Channel audience: public customer channels, or the responders' internal incident channel

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "audience",
                sa.Enum("public", "internal", name="audience", native_enum=False, length=24),
                nullable=False,
                server_default="public",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.drop_column("audience")
