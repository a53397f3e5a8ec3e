"""Apply Alembic migrations, and tell cheaply whether the schema is current."""

from __future__ import annotations

import sqlalchemy as sa

# Kept in step with the newest file in storage/migrations/versions (a test checks),
# so the CLI can compare versions without importing Alembic on every call.
HEAD_REVISION = "0010"


def upgrade(engine: sa.Engine) -> None:
    """Bring the database to the newest schema."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "storage:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: sa.Engine) -> str | None:
    """The schema revision stored in the database, or None for an empty database."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        row = connection.execute(sa.text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])


def is_current(engine: sa.Engine) -> bool:
    """True when the database is at HEAD_REVISION."""
    return current_revision(engine) == HEAD_REVISION
