"""The database engine: URL normalising, SQLite pragmas and session factories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.util import asbool
from sqlmodel import Session, SQLModel

SQLITE_BUSY_TIMEOUT_MS = 15_000
DEFAULT_SQLITE_FILE = "herald.db"


# Driver names as written in the URL: asking SQLAlchemy for a URL's driver loads its
# dialect plugin, which for a typo like postgress:// raises instead of answering.
SUPPORTED_DRIVERS = {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}
HOW_URLS_LOOK = (
    "Herald runs on SQLite or PostgreSQL: set DATABASE_URL to a file path (herald.db, "
    "/srv/herald/herald.db, sqlite:////srv/herald/herald.db) "
    "or to postgres://USER:PASSWORD@HOST:5432/DATABASE"
)


def normalize_database_url(url: str | None) -> str:
    """Turn the DATABASE_URL forms people paste into one SQLAlchemy understands."""
    if not url:
        url = DEFAULT_SQLITE_FILE
    if "://" not in url:
        # A bare path, like the default, is a SQLite file.
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def supported_database_url(url: str | None) -> str:
    """The normalized URL; ValueError, saying what works, for a database Herald cannot use."""
    normalized = normalize_database_url(url)
    try:
        parsed = sa.make_url(normalized)
    except ArgumentError:
        raise ValueError(f"not a database URL. {HOW_URLS_LOOK}") from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ValueError(f"{parsed.drivername} is not supported. {HOW_URLS_LOOK}")
    if parsed.get_backend_name() == "sqlite" and sqlite_database(parsed) is None:
        raise ValueError(
            "an in-memory SQLite database loses every change when herald exits; "
            "name a file: herald.db or sqlite:////srv/herald/herald.db"
        )
    return normalized


def sqlite_database(url: sa.URL) -> str | None:
    """The file a SQLite URL opens, as written (a `file:` URI as its path), or None for memory."""
    name = url.database or ""
    if name.startswith("file:") and asbool(url.query.get("uri", False)):
        name = unquote(urlsplit(name).path)
    if name in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    return name


def _tune_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets the CLI write while `herald serve` reads; busy_timeout waits out the
    # brief write locks instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()
    # pysqlite's own BEGIN handling defers the write lock until the first write,
    # which invites upgrade deadlocks; we issue BEGIN IMMEDIATE ourselves.
    dbapi_connection.isolation_level = None


def _begin_immediate(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None, *, echo: bool = False) -> sa.Engine:
    """Create an engine for the URL, with SQLite in WAL mode and a busy timeout."""
    normalized = normalize_database_url(url)
    if normalized.startswith("sqlite"):
        engine = sa.create_engine(
            normalized,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    # A database host that drops packets must fail in seconds: a command is answered
    # "nothing was saved" within 5 s, and a CLI user should not wait minutes.
    # Keepalives end an idle connection whose server vanished silently in about a
    # minute, and tcp_user_timeout one with a request unacknowledged for 10 s (keepalives
    # stay quiet then; 10 s still outlasts five retransmissions on a lossy link),
    # instead of the quarter of an hour TCP's retries take.
    return sa.create_engine(
        normalized,
        echo=echo,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": 4,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "tcp_user_timeout": 10_000,
        },
    )


def make_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    """Sessions that keep objects readable after commit, for rendering replies."""
    return sessionmaker(engine, class_=Session, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll everything back on any error."""
    with factory() as session, session.begin():
        yield session


def insert_ignoring_conflicts(
    session: Session, model: type[SQLModel]
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for `model` that takes ON CONFLICT clauses on either engine."""
    # ON CONFLICT is spelled alike on both engines but built by each dialect's insert().
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
