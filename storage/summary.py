"""Aggregate figures of a period, counted by the database: what `summary` and the digest report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, or_, select

from storage.models import (
    Component,
    Incident,
    IncidentComponent,
    IncidentKind,
    IncidentStatus,
    Update,
    UpdateKind,
)
from storage.types import UTCDateTime

IMPACT_SEVERITIES = (1, 2, 3)
FIRST_UPDATE_KINDS = (UpdateKind.UPDATE, UpdateKind.RESOLVED)


class ResolvedIncident(NamedTuple):
    """An incident resolved in a period, with the moments it was opened and closed."""

    incident_id: int
    title: str
    opened_at: datetime
    closed_at: datetime


class MaintenanceDone(NamedTuple):
    """Completed maintenance of a period: how many, and their seconds from start to close."""

    completed: int
    seconds: float


class ImpactSpan(NamedTuple):
    """A component (None when the incident names none) under an incident, unclipped."""

    component: str | None
    opened_at: datetime
    closed_at: datetime | None


def seconds_between(
    *,
    session: Session,
    start: ColumnElement[Any] | Mapped[Any],
    end: ColumnElement[Any] | Mapped[Any],
) -> ColumnElement[Any]:
    """Seconds from start to end as a SQL expression, for SQLite or PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite keeps datetimes as text; julianday's double loses a few microseconds,
        # so round to the millisecond to keep whole seconds whole.
        days = func.julianday(end) - func.julianday(start)
        return func.round(days * 86_400.0, 3)
    return sa.extract("epoch", end - start)


def _moment(at: datetime) -> ColumnElement[Any]:
    return sa.literal(at, UTCDateTime())


def _active(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Rows open at any moment in [start, end)."""
    return sa.and_(
        col(Incident.opened_at) < end,
        or_(col(Incident.closed_at).is_(None), col(Incident.closed_at) >= start),
    )


def _resolved(start: datetime, end: datetime) -> ColumnElement[bool]:
    return sa.and_(
        col(Incident.kind) == IncidentKind.INCIDENT,
        col(Incident.status) == IncidentStatus.RESOLVED,
        col(Incident.opened_at) < end,
        col(Incident.closed_at) >= start,
    )


def count_opened_by_severity(
    *, session: Session, start: datetime, end: datetime
) -> dict[int | None, int]:
    """How many incidents were opened in [start, end), by severity."""
    rows = session.exec(
        select(col(Incident.severity), func.count())
        .where(col(Incident.kind) == IncidentKind.INCIDENT)
        .where(col(Incident.opened_at) >= start, col(Incident.opened_at) < end)
        .group_by(col(Incident.severity))
    ).all()
    return {severity: int(n) for severity, n in rows}


def count_resolved(*, session: Session, start: datetime, end: datetime) -> int:
    """How many incidents opened before end were resolved at start or later."""
    query = select(func.count()).select_from(Incident).where(_resolved(start, end))
    return int(session.exec(query).one())


def get_mean_seconds_to_resolve(
    *, session: Session, start: datetime, end: datetime
) -> float | None:
    """The mean open-to-resolved time of the incidents count_resolved counts."""
    took = seconds_between(
        session=session, start=col(Incident.opened_at), end=col(Incident.closed_at)
    )
    mean = session.exec(select(func.avg(took)).where(_resolved(start, end))).one()
    return None if mean is None else float(mean)


def get_longest_resolved(
    *, session: Session, start: datetime, end: datetime
) -> ResolvedIncident | None:
    """The incident count_resolved counts that took longest, the earliest opened on a tie."""
    took = seconds_between(
        session=session, start=col(Incident.opened_at), end=col(Incident.closed_at)
    )
    row = session.exec(
        select(
            col(Incident.id), col(Incident.title), col(Incident.opened_at), col(Incident.closed_at)
        )
        .where(_resolved(start, end))
        .order_by(took.desc(), col(Incident.opened_at), col(Incident.id))
        .limit(1)
    ).first()
    if row is None:
        return None
    incident_id, title, opened_at, closed_at = row
    assert incident_id is not None
    assert closed_at is not None
    return ResolvedIncident(incident_id, title, opened_at, closed_at)


def get_mean_seconds_to_first_update(
    *, session: Session, start: datetime, end: datetime
) -> float | None:
    """The mean time to first public update of the incidents opened in [start, end).

    An incident's time to first public update runs from its opening post (opened_at) to
    the earliest public update of kind `update` or `resolved` at or after it; internal
    notes do not count. Incidents that never got one are left out of the mean, which is
    None when no incident opened in the period got one.
    """
    first = (
        select(func.min(col(Update.at)))
        .where(col(Update.incident_id) == col(Incident.id))
        .where(col(Update.kind).in_(FIRST_UPDATE_KINDS))
        .where(col(Update.public).is_(True))
        .where(col(Update.at) >= col(Incident.opened_at))
        .correlate(Incident)
        .scalar_subquery()
    )
    took = seconds_between(session=session, start=col(Incident.opened_at), end=first)
    mean = session.exec(
        select(func.avg(took))
        .where(col(Incident.kind) == IncidentKind.INCIDENT)
        .where(col(Incident.opened_at) >= start, col(Incident.opened_at) < end)
    ).one()
    return None if mean is None else float(mean)


def get_maintenance_done(*, session: Session, start: datetime, end: datetime) -> MaintenanceDone:
    """Maintenance completed (closed) in (start, end]: how many, and how long they ran.

    The end is included so that a period ending now counts what was completed just now;
    the start is left out so that consecutive periods never count one twice. A
    maintenance runs from its first `maintenance_started` update, or from its window's
    start when it has none, to its closing; the whole run counts, even the part of it
    before start.
    """
    started = (
        select(func.min(col(Update.at)))
        .where(col(Update.incident_id) == col(Incident.id))
        .where(col(Update.kind) == UpdateKind.MAINTENANCE_STARTED)
        .correlate(Incident)
        .scalar_subquery()
    )
    began = func.coalesce(started, col(Incident.window_start))
    ran = seconds_between(session=session, start=began, end=col(Incident.closed_at))
    count, total = session.exec(
        select(func.count(), func.sum(sa.case((ran > 0, ran), else_=0)))
        .where(col(Incident.kind) == IncidentKind.MAINTENANCE)
        .where(col(Incident.status) == IncidentStatus.COMPLETED)
        .where(col(Incident.closed_at) > start, col(Incident.closed_at) <= end)
    ).one()
    return MaintenanceDone(int(count), 0.0 if total is None else float(total))


def count_opened_by_day_and_severity(
    *, session: Session, bounds: Sequence[datetime]
) -> dict[tuple[int, int | None], int]:
    """Incidents opened per (day, severity); day n is [bounds[n], bounds[n + 1]).

    The caller gives the bounds (local midnights, say), so days of 23 or 25 hours are
    grouped right on any engine without time zone arithmetic in SQL.
    """
    if len(bounds) < 2:
        return {}
    day = sa.case(
        *((col(Incident.opened_at) < _moment(bound), n) for n, bound in enumerate(bounds[1:])),
        else_=len(bounds) - 1,
    )
    # Grouped outside a subquery: PostgreSQL cannot tell that the CASE in GROUP BY, with
    # its own bound parameters, is the one in the select list.
    opened = (
        select(day.label("day"), col(Incident.severity).label("severity"))
        .where(col(Incident.kind) == IncidentKind.INCIDENT)
        .where(col(Incident.opened_at) >= bounds[0], col(Incident.opened_at) < bounds[-1])
        .subquery()
    )
    rows = session.exec(
        select(opened.c.day, opened.c.severity, func.count()).group_by(
            opened.c.day, opened.c.severity
        )
    ).all()
    return {(int(n), severity): int(count) for n, severity, count in rows}


def sum_incident_seconds(*, session: Session, start: datetime, end: datetime) -> float:
    """Seconds of every incident within [start, end), each clipped to it; overlaps add up."""
    begin = sa.case(
        (col(Incident.opened_at) > _moment(start), col(Incident.opened_at)),
        else_=_moment(start),
    )
    until = sa.case(
        (
            or_(col(Incident.closed_at).is_(None), col(Incident.closed_at) > _moment(end)),
            _moment(end),
        ),
        else_=col(Incident.closed_at),
    )
    seconds = sa.case(
        (until > begin, seconds_between(session=session, start=begin, end=until)), else_=0
    )
    total = session.exec(
        select(func.sum(seconds))
        .where(col(Incident.kind) == IncidentKind.INCIDENT)
        .where(_active(start, end))
    ).one()
    return 0.0 if total is None else float(total)


def list_impact_spans(*, session: Session, start: datetime, end: datetime) -> list[ImpactSpan]:
    """(component name, opened, closed) of each SEV1–3 incident active in [start, end)."""
    rows = session.exec(
        select(col(Component.name), col(Incident.opened_at), col(Incident.closed_at))
        .select_from(Incident)
        .outerjoin(IncidentComponent, col(IncidentComponent.incident_id) == col(Incident.id))
        .outerjoin(Component, col(Component.id) == col(IncidentComponent.component_id))
        .where(col(Incident.kind) == IncidentKind.INCIDENT)
        .where(col(Incident.severity).in_(IMPACT_SEVERITIES))
        .where(_active(start, end))
    ).all()
    return [ImpactSpan(name, opened_at, closed_at) for name, opened_at, closed_at in rows]
