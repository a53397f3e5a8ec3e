"""Aggregate figures of a period, counted by the database: what `summary` reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, or_, select

from storage.models import Component, Incident, IncidentComponent, IncidentKind, IncidentStatus
from storage.types import UTCDateTime

IMPACT_SEVERITIES = (1, 2, 3)


class ResolvedIncident(NamedTuple):
    """An incident resolved in a period, with the moments it was opened and closed."""

    incident_id: int
    title: str
    opened_at: datetime
    closed_at: datetime


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


def count_maintenance_completed(*, session: Session, start: datetime, end: datetime) -> int:
    """How many completed maintenance windows were open at some moment in [start, end)."""
    query = (
        select(func.count())
        .select_from(Incident)
        .where(col(Incident.kind) == IncidentKind.MAINTENANCE)
        .where(col(Incident.status) == IncidentStatus.COMPLETED)
        .where(_active(start, end))
    )
    return int(session.exec(query).one())


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
