"""Chat requests run once, and how far each platform's stream has been read."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from storage.models import Cursor, HandledRequest


def _insert(session: Session, model: type[SQLModel]) -> postgresql.Insert | sqlite.Insert:
    # ON CONFLICT is spelled alike on both engines but built by each dialect's insert().
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def claim_request(*, session: Session, source: str, key: str, now: datetime) -> bool:
    """True the first time (source, key) is claimed; False for a retry or another process's copy."""
    # ON CONFLICT DO NOTHING: a concurrent duplicate waits for the first claim and then
    # inserts nothing, instead of raising and aborting the caller's transaction. SQLAlchemy
    # keeps an INSERT's rowcount only when asked (psycopg's reads -1 once the cursor closes).
    statement = (
        _insert(session, HandledRequest)
        .values(source=source, key=key, handled_at=now)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )
    return session.connection().execute(statement).rowcount == 1


def forget_requests(*, session: Session, before: datetime) -> int:
    """Delete the requests handled before `before`; return how many."""
    result = session.connection().execute(
        sa.delete(HandledRequest).where(col(HandledRequest.handled_at) < before)
    )
    return result.rowcount


def get_cursor(*, session: Session, name: str) -> int | None:
    """The position stored under `name`, or None before the first advance."""
    return session.exec(select(Cursor.position).where(Cursor.name == name)).first()


def advance_cursor(*, session: Session, name: str, position: int, now: datetime) -> None:
    """Move the cursor to `position`; an older or equal position leaves it where it is."""
    insert = _insert(session, Cursor).values(name=name, position=position, updated_at=now)
    # One upsert, so two processes advancing at once keep the greater position.
    statement = insert.on_conflict_do_update(
        index_elements=[col(Cursor.name)],
        set_={"position": insert.excluded.position, "updated_at": insert.excluded.updated_at},
        where=col(Cursor.position) < insert.excluded.position,
    )
    session.connection().execute(statement)
