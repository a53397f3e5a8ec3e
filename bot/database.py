"""Open the configured database and make sure its schema is current."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.settings import Settings
from commands.errors import Refused
from storage.engine import make_engine, make_session_factory
from storage.migrate import is_current, upgrade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Database:
    """The engine and the session factory built from the settings."""

    engine: sa.Engine
    sessions: sessionmaker[Session]

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def redacted_url(settings: Settings) -> str:
    """DATABASE_URL with any password hidden, for logs."""
    return sa.make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)


def open_database(settings: Settings, *, migrate: bool = False) -> Database:
    """Connect; migrate when asked, or by itself on SQLite, and refuse a stale schema otherwise."""
    engine = make_engine(settings.sqlalchemy_url)
    if migrate or not is_current(engine):
        if migrate or settings.is_sqlite:
            log.info("migrating database %s", redacted_url(settings))
            upgrade(engine)
        else:
            engine.dispose()
            raise Refused("The database schema is not current; run: herald db upgrade")
    return Database(engine, make_session_factory(engine))
