"""Queries for incidents and scheduled maintenance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlmodel import Session, col, func, or_, select

from storage.models import (
    CLOSED_STATUSES,
    OPEN_INCIDENT_STATUSES,
    Incident,
    IncidentKind,
    IncidentStatus,
    Update,
)


def create_incident(
    *,
    session: Session,
    kind: IncidentKind,
    title: str,
    status: IncidentStatus,
    opened_by: str,
    at: datetime,
    severity: int | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    auto_transitions: bool = True,
) -> Incident:
    """Insert an incident or maintenance and give it its id."""
    incident = Incident(
        kind=kind,
        title=title,
        severity=severity,
        status=status,
        opened_by=opened_by,
        opened_at=at,
        changed_at=at,
        window_start=window_start,
        window_end=window_end,
        auto_transitions=auto_transitions,
    )
    session.add(incident)
    session.flush()
    return incident


def get_incident(
    *, session: Session, incident_id: int, for_change: bool = False
) -> Incident | None:
    """The incident with this id; locked against concurrent changes when for_change."""
    # populate_existing: a row already in this session (say, from a listing) must be
    # refreshed from the locked read, or a change another worker committed meanwhile
    # would be acted on as if it had not happened.
    return session.get(
        Incident,
        incident_id,
        with_for_update=for_change or None,
        populate_existing=for_change,
    )


def list_incidents(
    *,
    session: Session,
    include_closed: bool = False,
    since: datetime | None = None,
    limit: int | None = None,
) -> Sequence[Incident]:
    """Incidents newest first: open ones, or all of them, optionally since a time."""
    query = select(Incident).order_by(col(Incident.opened_at).desc(), col(Incident.id).desc())
    if not include_closed:
        query = query.where(col(Incident.status).not_in(CLOSED_STATUSES))
    if since is not None:
        query = query.where(
            or_(col(Incident.opened_at) >= since, col(Incident.changed_at) >= since)
        )
    if limit is not None:
        query = query.limit(limit)
    return session.exec(query).all()


def count_incidents(
    *, session: Session, include_closed: bool = False, since: datetime | None = None
) -> int:
    """How many incidents list_incidents would return without a limit."""
    query = select(func.count()).select_from(Incident)
    if not include_closed:
        query = query.where(col(Incident.status).not_in(CLOSED_STATUSES))
    if since is not None:
        query = query.where(
            or_(col(Incident.opened_at) >= since, col(Incident.changed_at) >= since)
        )
    return int(session.exec(query).one())


def get_recent_duplicate(
    *, session: Session, title: str, opened_by: str, since: datetime
) -> Incident | None:
    """An open incident with the same title opened by the same person since a time."""
    query = (
        select(Incident)
        .where(Incident.kind == IncidentKind.INCIDENT)
        .where(Incident.title == title, Incident.opened_by == opened_by)
        .where(col(Incident.opened_at) >= since)
        .where(col(Incident.status).not_in(CLOSED_STATUSES))
        .order_by(col(Incident.id).desc())
    )
    return session.exec(query).first()


def list_due_maintenance(*, session: Session, now: datetime) -> Sequence[Incident]:
    """Automatic maintenance whose window has started or ended but whose status lags."""
    query = (
        select(Incident)
        .where(Incident.kind == IncidentKind.MAINTENANCE)
        .where(col(Incident.auto_transitions).is_(True))
        .where(
            or_(
                (col(Incident.status) == IncidentStatus.SCHEDULED)
                & (col(Incident.window_start) <= now),
                (col(Incident.status) == IncidentStatus.IN_PROGRESS)
                & (col(Incident.window_end) <= now),
            )
        )
        .order_by(col(Incident.window_start))
    )
    return session.exec(query).all()


def list_reminder_candidates(*, session: Session, now: datetime) -> Sequence[Incident]:
    """Scheduled maintenance, not yet begun, whose customers have a reminder still to get.

    Whether its moment has come (window_start minus remind_before_seconds) is for the
    caller to say: scheduled windows are few, and the arithmetic differs per engine.
    """
    query = (
        select(Incident)
        .where(Incident.kind == IncidentKind.MAINTENANCE)
        .where(col(Incident.status) == IncidentStatus.SCHEDULED)
        .where(col(Incident.remind_before_seconds).is_not(None))
        .where(col(Incident.reminded_at).is_(None))
        .where(col(Incident.window_start) > now)
        .order_by(col(Incident.window_start))
    )
    return session.exec(query).all()


class QuietIncident(NamedTuple):
    """An open incident and when customers last heard about it."""

    incident_id: int
    severity: int
    last_public_at: datetime
    nudged_at: datetime | None


def list_quiet_candidates(
    *, session: Session, severities: Sequence[int], incident_id: int | None = None
) -> list[QuietIncident]:
    """Open incidents of these severities (or just this one), with their last public
    update (notes and nudges are not public)."""
    if not severities:
        return []
    # When customers were told: an update backfilled with --at was told when it was saved.
    last = func.max(Update.recorded_at)
    query = (
        select(Incident.id, Incident.severity, last, Incident.nudged_at)
        .join(Update, col(Update.incident_id) == col(Incident.id))
        .where(Incident.kind == IncidentKind.INCIDENT)
        .where(col(Incident.status).in_(OPEN_INCIDENT_STATUSES))
        .where(col(Incident.severity).in_(severities))
        .where(col(Update.public).is_(True))
        .group_by(col(Incident.id), col(Incident.severity), col(Incident.nudged_at))
    )
    if incident_id is not None:
        query = query.where(col(Incident.id) == incident_id)
    return [
        QuietIncident(incident_id, severity, last_public_at, nudged_at)
        for incident_id, severity, last_public_at, nudged_at in session.exec(query).all()
        if incident_id is not None and severity is not None
    ]
