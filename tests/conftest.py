"""Shared fixtures: a migrated database on SQLite (and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, SQLModel

from commands.context import Context
from storage.engine import make_engine, make_session_factory
from storage.migrate import upgrade
from tests.factories import FakeClock, make_component, make_context

BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating every time is slow)."""
    path = tmp_path_factory.mktemp("template") / "herald.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL into the file
    assert not path.with_name("herald.db-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """The CI's throwaway PostgreSQL database, migrated once."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    upgrade(engine)
    yield engine
    engine.dispose()


def _truncate(engine: sa.Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        # A session an earlier test left open (its transaction holding a lock) would make
        # TRUNCATE wait for ever: fail that test's successor loudly instead.
        connection.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
        connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[sa.Engine]:
    """A migrated, empty database on each backend under test."""
    if request.param == "postgres":
        pg: sa.Engine = request.getfixturevalue("postgres_engine")
        _truncate(pg)
        yield pg
        return
    path = tmp_path / "herald.db"
    shutil.copy(sqlite_template, path)
    sqlite = make_engine(f"sqlite:///{path}")
    yield sqlite
    sqlite.dispose()


@pytest.fixture
def sessions(engine: sa.Engine) -> sessionmaker[Session]:
    """Sessions on the test database."""
    return make_session_factory(engine)


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()


@pytest.fixture
def ctx(sessions: sessionmaker[Session], clock: FakeClock) -> Context:
    """A responder's context on the test database with the components posta and web."""
    context = make_context(sessions, clock)
    make_component(context, "posta", "Posta")
    make_component(context, "web", "Web")
    return context
