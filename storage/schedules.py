"""Scheduled runs: each firing of a job claimed once, retried until done or given up."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.engine import insert_ignoring_conflicts
from storage.models import ScheduledRun


def claim_run(
    *, session: Session, job: str, due_at: datetime, now: datetime, finished: str | None = None
) -> bool:
    """Record the firing of `job` due at `due_at`; False when it was recorded already.

    With `finished`, the firing is recorded as done with that outcome (a skipped one).
    """
    statement = (
        insert_ignoring_conflicts(session, ScheduledRun)
        .values(
            job=job,
            due_at=due_at,
            claimed_at=now,
            attempts=0,
            next_attempt_at=None if finished is not None else now,
            finished_at=now if finished is not None else None,
            outcome=finished or "",
        )
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )
    return session.connection().execute(statement).rowcount == 1


def get_run(*, session: Session, job: str, due_at: datetime) -> ScheduledRun | None:
    """The recorded firing of `job` due at `due_at`, if any."""
    return session.get(ScheduledRun, (job, due_at))


def take_attempt(
    *, session: Session, job: str, due_at: datetime, now: datetime, until: datetime
) -> bool:
    """Take the next attempt at an unfinished firing whose time has come, holding it until
    `until`; False when it is finished, not yet due, or another process took it."""
    taken = session.connection().execute(
        sa.update(ScheduledRun)
        .where(col(ScheduledRun.job) == job)
        .where(col(ScheduledRun.due_at) == due_at)
        .where(col(ScheduledRun.finished_at).is_(None))
        .where(col(ScheduledRun.next_attempt_at) <= now)
        .values(next_attempt_at=until, attempts=ScheduledRun.attempts + 1)
    )
    return taken.rowcount == 1


def finish_run(
    *, session: Session, job: str, due_at: datetime, now: datetime, outcome: str
) -> None:
    """Mark the firing done (sent, or given up) with what happened."""
    session.connection().execute(
        sa.update(ScheduledRun)
        .where(col(ScheduledRun.job) == job)
        .where(col(ScheduledRun.due_at) == due_at)
        .values(finished_at=now, next_attempt_at=None, outcome=outcome[:2000])
    )


def postpone_run(
    *, session: Session, job: str, due_at: datetime, next_attempt_at: datetime, outcome: str
) -> None:
    """Try the firing again at `next_attempt_at`, noting why the last attempt failed."""
    session.connection().execute(
        sa.update(ScheduledRun)
        .where(col(ScheduledRun.job) == job)
        .where(col(ScheduledRun.due_at) == due_at)
        .where(col(ScheduledRun.finished_at).is_(None))
        .values(next_attempt_at=next_attempt_at, outcome=outcome[:2000])
    )


def list_runs(*, session: Session, job: str) -> list[ScheduledRun]:
    """Every recorded firing of `job`, oldest first."""
    query = select(ScheduledRun).where(ScheduledRun.job == job).order_by(col(ScheduledRun.due_at))
    return list(session.exec(query).all())
