"""Chat requests run once, and how far each platform's stream has been read."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.engine import insert_ignoring_conflicts
from storage.models import Cursor, HandledRequest


def claim_request(
    *,
    session: Session,
    source: str,
    key: str,
    now: datetime,
    reply_chat: int | None = None,
    reply_to: int | None = None,
) -> bool:
    """True the first time (source, key) is claimed; False for a retry or another process's copy.

    `reply_chat` and `reply_to` say where to tell the author if the claim is never finished.
    """
    # ON CONFLICT DO NOTHING: a concurrent duplicate waits for the first claim and then
    # inserts nothing, instead of raising and aborting the caller's transaction. SQLAlchemy
    # keeps an INSERT's rowcount only when asked (psycopg's reads -1 once the cursor closes).
    statement = (
        insert_ignoring_conflicts(session, HandledRequest)
        .values(source=source, key=key, handled_at=now, reply_chat=reply_chat, reply_to=reply_to)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )
    return session.connection().execute(statement).rowcount == 1


def forget_requests(*, session: Session, before: datetime, source: str | None = None) -> int:
    """Delete the requests handled before `before` (of `source` only, if given); return how many."""
    statement = sa.delete(HandledRequest).where(col(HandledRequest.handled_at) < before)
    if source is not None:
        statement = statement.where(col(HandledRequest.source) == source)
    return session.connection().execute(statement).rowcount


def get_cursor(*, session: Session, name: str) -> int | None:
    """The position stored under `name`, or None before the first advance."""
    return session.exec(select(Cursor.position).where(Cursor.name == name)).first()


def advance_cursor(*, session: Session, name: str, position: int, now: datetime) -> None:
    """Move the cursor to `position`; an older or equal position leaves it where it is."""
    insert = insert_ignoring_conflicts(session, Cursor).values(
        name=name, position=position, updated_at=now
    )
    # One upsert, so two processes advancing at once keep the greater position.
    statement = insert.on_conflict_do_update(
        index_elements=[col(Cursor.name)],
        set_={"position": insert.excluded.position, "updated_at": insert.excluded.updated_at},
        where=col(Cursor.position) < insert.excluded.position,
    )
    session.connection().execute(statement)


def finish_request(*, session: Session, source: str, key: str, now: datetime) -> None:
    """Mark a claimed request as run and answered."""
    session.connection().execute(
        sa.update(HandledRequest)
        .where(col(HandledRequest.source) == source, col(HandledRequest.key) == key)
        .where(col(HandledRequest.finished_at).is_(None))
        .values(finished_at=now)
    )


def take_unfinished_requests(
    *, session: Session, source: str, before: datetime, now: datetime
) -> list[HandledRequest]:
    """Claims of `source` made before `before` and never finished, each marked finished now;
    of two processes sweeping at once, each gets a claim at most once."""
    stale = session.exec(
        select(HandledRequest)
        .where(HandledRequest.source == source)
        .where(col(HandledRequest.finished_at).is_(None))
        .where(col(HandledRequest.handled_at) < before)
        .order_by(col(HandledRequest.handled_at))
        .limit(100)
    ).all()
    taken = []
    for request in stale:
        result = session.connection().execute(
            sa.update(HandledRequest)
            .where(col(HandledRequest.source) == source, col(HandledRequest.key) == request.key)
            .where(col(HandledRequest.finished_at).is_(None))
            .values(finished_at=now)
        )
        if result.rowcount == 1:
            taken.append(request)
    return taken


def touch_requests(*, session: Session, source: str, keys: list[str], now: datetime) -> None:
    """Mark claims still being run as alive now, so no sweep takes them for a dead process's."""
    if keys:
        session.connection().execute(
            sa.update(HandledRequest)
            .where(col(HandledRequest.source) == source, col(HandledRequest.key).in_(keys))
            .where(col(HandledRequest.finished_at).is_(None))
            .values(handled_at=now)
        )


def request_claimed(*, session: Session, source: str, key: str) -> bool:
    """Whether (source, key) was claimed."""
    found = session.exec(
        select(HandledRequest.key).where(HandledRequest.source == source, HandledRequest.key == key)
    ).first()
    return found is not None
