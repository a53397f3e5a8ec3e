"""429 pauses every worker process honours: the end of each, by the database's clock.

The process sending to a platform writes the pause a 429 imposed, so that the process
taking over from it (after a crash or a restart) does not send before it ends either.
Times are seconds since the epoch by the database's clock, so machines whose clocks
disagree still agree on when a pause ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col

from storage.engine import insert_ignoring_conflicts
from storage.models import RateBudget


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _now(session: Session, now: float | None) -> sa.ColumnElement[float]:
    """The database's clock in seconds since the epoch; tests pass `now` to stand in."""
    if now is not None:
        return sa.literal(now, sa.Float)
    if _is_postgres(session):
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)
    return (sa.func.julianday("now") - 2440587.5) * 86400.0


def pause(*, session: Session, scope: str, seconds: float, now: float | None = None) -> float:
    """Record that nothing may be sent to `scope` for `seconds`; return the seconds left.

    A pause already running that ends later is kept.
    """
    insert = insert_ignoring_conflicts(session, RateBudget).values(
        name=scope, paused_until=_now(session, now) + seconds
    )
    table = RateBudget.__table__.c  # type: ignore[attr-defined]
    later = sa.func.greatest if _is_postgres(session) else sa.func.max
    left = (
        session.connection()
        .execute(
            insert.on_conflict_do_update(
                index_elements=[table.name],
                set_={
                    "paused_until": later(
                        sa.func.coalesce(table.paused_until, 0.0), insert.excluded.paused_until
                    )
                },
            ).returning(col(RateBudget.paused_until) - _now(session, now))
        )
        .scalar_one()
    )
    return max(0.0, float(left or 0.0))


def pauses_running(*, session: Session, now: float | None = None) -> dict[str, float]:
    """Every pause not over yet: its scope and the seconds left of it."""
    left = col(RateBudget.paused_until) - _now(session, now)
    rows = session.connection().execute(sa.select(col(RateBudget.name), left).where(left > 0))
    return {name: float(seconds or 0.0) for name, seconds in rows}


def forget_pauses(*, session: Session, now: float | None = None) -> int:
    """Delete the pauses that are over; return how many."""
    result = session.connection().execute(
        sa.delete(RateBudget).where(col(RateBudget.paused_until) <= _now(session, now))
    )
    return result.rowcount
