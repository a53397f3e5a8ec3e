"""Migrations build the schema the models describe, from an empty database, on every backend."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage.engine import make_engine
from storage.migrate import HEAD_REVISION, current_revision, is_current, upgrade

VERSIONS = Path(__file__).parents[2] / "storage" / "migrations" / "versions"


def test_upgrade_from_empty_sqlite_reaches_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == HEAD_REVISION
    assert is_current(engine)
    upgrade(engine)  # a second run is a no-op
    assert current_revision(engine) == HEAD_REVISION


def test_migrated_schema_matches_the_models(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_head_revision_constant_names_the_newest_migration() -> None:
    revisions = sorted(p.name.split("_")[0] for p in VERSIONS.glob("*.py"))
    assert revisions[-1] == HEAD_REVISION


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000
