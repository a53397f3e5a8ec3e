"""Open the configured database and make sure its schema is current."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.settings import PASSWORD_PARAMETERS, Settings
from commands.errors import Refused
from storage.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    make_engine,
    make_session_factory,
    sqlite_database,
)
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
    """DATABASE_URL with any password hidden, for logs (in the query string too)."""
    url = sa.make_url(settings.sqlalchemy_url)
    hidden = {key: "***" for key in PASSWORD_PARAMETERS if key in url.query}
    return url.update_query_dict(hidden).render_as_string(hide_password=True)


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file DATABASE_URL names (absolute), or None when it names no file."""
    url = sa.make_url(settings.sqlalchemy_url)
    name = sqlite_database(url) if url.get_backend_name() == "sqlite" else None
    # No expanduser: SQLite opens sqlite:///~/x.db as ./~/x.db, and the check must look there.
    return Path(name).resolve() if name is not None else None


def require_database(settings: Settings) -> None:
    """Refuse when the SQLite file is missing, instead of silently creating an empty one."""
    path = sqlite_file(settings)
    if path is not None and not path.exists():
        raise Refused(
            f"There is no Herald database at {path}. Run herald in the directory where "
            "`herald serve` runs, or set DATABASE_URL to its file; "
            "`herald db upgrade` creates a new one."
        )


def driver_says(error: BaseException) -> str:
    """The first line of what the database driver said (of the error itself when there is
    no driver error under it); empty when it said nothing."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else ""


def failure_of(error: BaseException) -> str:
    """What went wrong, in one short line for the log: the error's kind and the driver's
    first line."""
    first = driver_says(error)
    name = type(error).__name__
    return f"{name}: {first[:200]}" if first else name


def unreachable(settings: Settings, error: sa.exc.OperationalError) -> str:
    """One line for a database that refused the command: a read-only file, a lock, no answer."""
    reason = (driver_says(error.orig) if error.orig else "") or "no answer"
    path = sqlite_file(settings)
    if path is not None and ("readonly" in reason or "unable to open" in reason):
        # WAL mode writes herald.db-wal and herald.db-shm beside the file, so the
        # directory must be writable too, not just the file.
        return (
            f"cannot write the SQLite database {path} ({reason}); nothing was saved. "
            f"Check that {path.parent} exists and that it and the file are writable "
            "by this user, or set DATABASE_URL."
        )
    if path is not None and "locked" in reason:
        return (
            f"the SQLite database stayed locked by another process for "
            f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s ({reason}); nothing was saved. "
            "Try again, or stop the process holding it."
        )
    return f"could not reach the database ({reason}); nothing was saved. Check DATABASE_URL."


def open_database(settings: Settings, *, migrate: bool = False, create: bool = False) -> Database:
    """Connect; migrate when asked, or by itself on SQLite, and refuse a stale schema otherwise."""
    # Only process types may create the file: a chat verb run in the wrong directory
    # would otherwise write to a new, empty database that no server reads.
    if not create:
        require_database(settings)
    engine = make_engine(settings.sqlalchemy_url)
    if migrate or not is_current(engine):
        if migrate or settings.is_sqlite:
            log.info("migrating database %s", redacted_url(settings))
            upgrade(engine)
        else:
            engine.dispose()
            raise Refused("The database schema is not current; run: herald db upgrade")
    return Database(engine, make_session_factory(engine))


# SQLite reports a missing table or a syntax error as an OperationalError too: only these
# primary result codes say the file could not be used for now (locked, unreadable, full).
_SQLITE_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)


# PostgreSQL's SQLSTATEs that say the server cannot serve now: connection exceptions,
# insufficient resources (too many connections, disk full), an operator's or a crash's
# shutdown, a statement cancelled by its timeout, and a server that became a read-only
# standby in a failover. A deadlock or a serialization failure is not an outage.
_POSTGRES_UNAVAILABLE = ("08", "53", "57P", "57014", "25006")


def did_not_answer(error: BaseException) -> bool:
    """True when the database did not answer (down, restarting, out of connections), the
    failure to wait out; any other database error is a bug or bad data."""
    if isinstance(error, sa.exc.InterfaceError | sa.exc.TimeoutError):
        return True
    if not isinstance(error, sa.exc.OperationalError):
        return False
    if isinstance(error.orig, sqlite3.Error):
        code = getattr(error.orig, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_UNAVAILABLE
    # No SQLSTATE: the connection itself failed (refused, timed out, closed).
    state = getattr(error.orig, "sqlstate", None)
    return state is None or str(state).startswith(_POSTGRES_UNAVAILABLE)
