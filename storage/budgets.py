"""Rate budgets every worker process shares: turns booked one after another, and 429 pauses.

Each budget is a row holding the next free turn (generic cell rate: a request books
the turn at `max(next_free, now)` and moves `next_free` one interval on), so the
requests of any number of processes are spaced as if one process sent them all.
Times are read from the database's clock and handed back as waits relative to it,
so the processes' own clocks never matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from storage.engine import insert_ignoring_conflicts
from storage.models import RateBudget

LOCK_WAIT = "2s"  # a booking waiting longer for another's locks gives up, sending nothing
STALLED = "10s"  # a booking transaction idle this long is ended by the server, locks and all


@dataclass(frozen=True)
class Turn:
    """When a request may go: `wait` seconds from now, or not at all while `paused` runs.

    `booked` counts the budgets booked, from the first: the others are booked once the
    wait is over, so a chat's turn far ahead does not hold the bot token's turn with it.
    """

    wait: float = 0.0
    paused: float | None = None
    booked: int = 0
    clock: float | None = None  # the database's clock as it booked, for the caller's clock


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _now(session: Session, now: float | None) -> sa.ColumnElement[float]:
    """The database's clock in seconds since the epoch, read afresh by every statement.

    Tests pass `now` to stand in for it.
    """
    if now is not None:
        return sa.literal(now, sa.Float)
    if _is_postgres(session):
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)
    return (sa.func.julianday("now") - 2440587.5) * 86400.0


def _later(session: Session, *values: Any) -> sa.ColumnElement[float]:
    if _is_postgres(session):
        return sa.func.greatest(*values)
    return sa.func.max(*values)  # SQLite's max() of several arguments is a scalar


def _ensure(session: Session, names: Sequence[str]) -> None:
    session.connection().execute(
        insert_ignoring_conflicts(session, RateBudget)
        .values([{"name": name, "next_free": 0.0} for name in names])
        .on_conflict_do_nothing()
    )


def pause_left(*, session: Session, scope: str, now: float | None = None) -> float | None:
    """Seconds until the pause on `scope` ends, or None when it is not paused."""
    left = (
        session.connection()
        .execute(
            sa.select(col(RateBudget.paused_until) - _now(session, now)).where(
                col(RateBudget.name) == scope
            )
        )
        .scalar()
    )
    return float(left) if left is not None and left > 0 else None


def _limit_lock_waits(session: Session) -> None:
    """Bound how long a booking waits for another's row locks, and how long a stalled
    booking may hold them: one stuck worker must not hold up every other one."""
    if _is_postgres(session):
        session.connection().exec_driver_sql(
            f"SET LOCAL lock_timeout = '{LOCK_WAIT}'; "
            f"SET LOCAL idle_in_transaction_session_timeout = '{STALLED}'"
        )


def book_turn(
    *,
    session: Session,
    budgets: Sequence[tuple[str, float]],
    scope: str,
    skip: int = 0,
    now: float | None = None,
) -> Turn:
    """Book the next turn in each budget, each no earlier than the one before it.

    `budgets` are (name, seconds between requests), narrowest first (the chat, then
    the bot token); the first `skip` were booked by an earlier call, whose turn came.
    Booking stops after a turn further ahead than the next budget's interval: the
    caller waits for it and books the rest then. Once the last is booked, the earlier
    ones are moved on to an interval after its turn, when the request really goes.
    Nothing is booked while `scope` is paused after a 429.
    """
    _limit_lock_waits(session)
    paused = pause_left(session=session, scope=scope, now=now)
    if paused is not None:
        return Turn(paused=paused)
    connection = session.connection()
    after = 0.0
    clock = 0.0
    for booked, (name, interval) in enumerate(budgets[skip:], start=skip + 1):
        turn = _later(session, col(RateBudget.next_free), _now(session, now) + after)
        booking = (
            sa.update(RateBudget)
            .where(col(RateBudget.name) == name)
            .values(next_free=turn + interval)
            .returning(
                col(RateBudget.next_free) - interval - _now(session, now), _now(session, now)
            )
        )
        row = connection.execute(booking).one_or_none()
        if row is None:  # a budget's first request: its row is made once, then booked
            _ensure(session, [name])
            row = connection.execute(booking).one()
        wait, read = row
        after, clock = max(after, float(wait)), float(read)
        later = budgets[booked:]
        if later and after > later[0][1]:
            return Turn(wait=after, booked=booked, clock=clock)
    for name, interval in budgets[:-1]:
        connection.execute(
            sa.update(RateBudget)
            .where(col(RateBudget.name) == name)
            .values(
                next_free=_later(
                    session, col(RateBudget.next_free), _now(session, now) + after + interval
                )
            )
        )
    return Turn(wait=max(0.0, after), booked=len(budgets), clock=clock)


def database_clock(*, session: Session) -> float:
    """The database's clock, in seconds since the epoch."""
    return float(session.connection().execute(sa.select(_now(session, None))).scalar_one())


def pause(*, session: Session, scope: str, seconds: float, now: float | None = None) -> float:
    """Stop every process sending to `scope` for `seconds`; return the seconds left.

    A pause already running that ends later is kept.
    """
    insert = insert_ignoring_conflicts(session, RateBudget).values(
        name=scope, next_free=0.0, paused_until=_now(session, now) + seconds
    )
    table = RateBudget.__table__.c  # type: ignore[attr-defined]
    left = (
        session.connection()
        .execute(
            insert.on_conflict_do_update(
                index_elements=[table.name],
                set_={
                    "paused_until": _later(
                        session,
                        sa.func.coalesce(table.paused_until, 0.0),
                        insert.excluded.paused_until,
                    )
                },
            ).returning(col(RateBudget.paused_until) - _now(session, now))
        )
        .scalar_one()
    )
    return max(0.0, float(left or 0.0))
