"""Leases: a job that only one process may run at a time, such as polling Telegram."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from storage.engine import insert_ignoring_conflicts
from storage.models import Lease


def acquire_lease(
    *, session: Session, name: str, holder: str, now: datetime | None, seconds: float
) -> bool:
    """Take or renew the lease for `seconds`; False while someone else holds it unexpired.

    With `now` None, the database's clock sets and judges the expiry (PostgreSQL), so
    processes on machines whose clocks disagree never hold the lease at once.
    """
    moment: datetime | sa.ColumnElement[datetime]
    if now is None:
        assert session.get_bind().dialect.name == "postgresql", "the database's clock"
        moment = sa.func.clock_timestamp()
    else:
        moment = now
    expires_at = moment + timedelta(seconds=seconds)
    connection = session.connection()
    # Each step is one statement that waits for a concurrent one on the same row and
    # then sees its outcome, so two processes never both get the lease and neither raises.
    # SQLAlchemy keeps an INSERT's rowcount only when asked (psycopg's reads -1 otherwise).
    created = connection.execute(
        insert_ignoring_conflicts(session, Lease)
        .values(name=name, holder=holder, expires_at=expires_at)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )
    if created.rowcount == 1:
        return True
    taken = connection.execute(
        sa.update(Lease)
        .where(col(Lease.name) == name)
        .where(or_(col(Lease.holder) == holder, col(Lease.expires_at) <= moment))
        .values(holder=holder, expires_at=expires_at)
    )
    return taken.rowcount == 1


def release_lease(*, session: Session, name: str, holder: str) -> None:
    """Give the lease up at once, if `holder` still has it, so a standby can take over."""
    session.connection().execute(
        sa.delete(Lease).where(col(Lease.name) == name).where(col(Lease.holder) == holder)
    )


def lease_holder(*, session: Session, name: str, now: datetime | None) -> str | None:
    """Who holds the lease at `now` (None: by the database's clock, on PostgreSQL), or None
    when it is free or expired."""
    moment = sa.func.clock_timestamp() if now is None else now
    return session.exec(
        select(Lease.holder).where(Lease.name == name).where(col(Lease.expires_at) > moment)
    ).first()
