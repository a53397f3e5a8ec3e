"""Subscribers: a channel's owner (the operators', or a subscriber's own), the site's
signing key, and the confirmation mails asked for

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:10:00
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel") as batch_op:
        batch_op.add_column(
            sa.Column(
                "owner",
                sa.Enum("operator", "subscriber", name="owner", native_enum=False, length=24),
                nullable=False,
                server_default="operator",
            )
        )
    op.create_table(
        "site_key",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "mail_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mail_request_key_at", "mail_request", ["key", "at"], unique=False)
    op.create_index("ix_mail_request_at", "mail_request", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mail_request_at", table_name="mail_request")
    op.drop_index("ix_mail_request_key_at", table_name="mail_request")
    op.drop_table("mail_request")
    op.drop_table("site_key")
    with op.batch_alter_table("channel") as batch_op:
        batch_op.drop_column("owner")
