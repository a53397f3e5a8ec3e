"""Read-only queries behind the public status page, feeds and API: indexed and batched."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from storage.models import (
    OPEN_INCIDENT_STATUSES,
    AuditEvent,
    Component,
    Incident,
    IncidentComponent,
    IncidentKind,
    IncidentStatus,
    Update,
)

ACTIVE_STATUSES = (*OPEN_INCIDENT_STATUSES, IncidentStatus.SCHEDULED, IncidentStatus.IN_PROGRESS)
# Well under SQLite's and PostgreSQL's limits on bound parameters per statement.
_IN_CHUNK = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PublicDataVersion:
    """A cheap fingerprint of everything public pages show, and when it last changed."""

    token: tuple[object, ...]
    changed_at: datetime
    # The highest incident number there is: a page asked for beyond it needs no query.
    highest_incident: int = 0


def get_public_data_version(*, session: Session) -> PublicDataVersion:
    """One query of index-only aggregates that moves with every change to public data.

    New updates move the update count and highest id (backfilled ones too, whose
    time may be old); edits, renames and removals of components each write an
    audit event. Nothing here needs a full table scan.
    """
    latest_update = select(Update.recorded_at).order_by(col(Update.id).desc()).limit(1)
    row = (
        session.connection()
        .execute(
            sa.select(
                select(func.max(Incident.changed_at)).scalar_subquery(),
                select(func.count()).select_from(Incident).scalar_subquery(),
                select(func.max(Update.id)).scalar_subquery(),
                select(func.count()).select_from(Update).scalar_subquery(),
                latest_update.scalar_subquery(),
                select(func.max(AuditEvent.id)).scalar_subquery(),
                select(func.max(AuditEvent.at)).scalar_subquery(),
                select(func.count()).select_from(Component).scalar_subquery(),
                select(func.max(Component.created_at)).scalar_subquery(),
                select(func.max(Component.removed_at)).scalar_subquery(),
                select(func.max(Incident.id)).scalar_subquery(),
            )
        )
        .one()
    )
    times = [value for value in (row[0], row[4], row[6], row[8], row[9]) if value is not None]
    return PublicDataVersion(
        token=tuple(row), changed_at=max(times, default=_EPOCH), highest_incident=row[10] or 0
    )


def list_active_incidents(*, session: Session) -> Sequence[Incident]:
    """Open incidents and maintenance that is scheduled or in progress."""
    query = (
        select(Incident)
        .where(col(Incident.status).in_(ACTIVE_STATUSES))
        .order_by(col(Incident.opened_at).desc(), col(Incident.id).desc())
    )
    return session.exec(query).all()


def list_incidents_changed_since(*, session: Session, since: datetime) -> Sequence[Incident]:
    """Incidents and maintenance with any change since a time (the changed_at index)."""
    query = (
        select(Incident)
        .where(col(Incident.changed_at) >= since)
        .order_by(col(Incident.changed_at).desc())
    )
    return session.exec(query).all()


def _touches(component_id: int) -> sa.ColumnElement[bool]:
    """Incidents that affect one component."""
    return col(Incident.id).in_(
        select(IncidentComponent.incident_id).where(IncidentComponent.component_id == component_id)
    )


def list_recently_changed(
    *,
    session: Session,
    limit: int,
    kind: IncidentKind | None = None,
    statuses: Sequence[IncidentStatus] | None = None,
    component_id: int | None = None,
) -> Sequence[Incident]:
    """The incidents changed most recently, optionally of one kind, status set or component."""
    query = select(Incident)
    if kind is not None:
        query = query.where(Incident.kind == kind)
    if statuses is not None:
        query = query.where(col(Incident.status).in_(statuses))
    if component_id is not None:
        query = query.where(_touches(component_id))
    query = query.order_by(col(Incident.changed_at).desc(), col(Incident.id).desc()).limit(limit)
    return session.exec(query).all()


def list_latest_opened(*, session: Session, kind: IncidentKind, limit: int) -> Sequence[Incident]:
    """The most recently opened incidents, or maintenance by window start, newest first."""
    order = Incident.window_start if kind == IncidentKind.MAINTENANCE else Incident.opened_at
    query = (
        select(Incident)
        .where(Incident.kind == kind)
        .order_by(col(order).desc(), col(Incident.id).desc())
        .limit(limit)
    )
    return session.exec(query).all()


def list_maintenance_windows(
    *, session: Session, limit: int, component_id: int | None = None
) -> Sequence[Incident]:
    """Maintenance, latest window first, optionally only windows touching one component."""
    query = select(Incident).where(Incident.kind == IncidentKind.MAINTENANCE)
    if component_id is not None:
        query = query.where(_touches(component_id))
    query = query.order_by(col(Incident.window_start).desc(), col(Incident.id).desc()).limit(limit)
    return session.exec(query).all()


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    unique = sorted(set(ids))
    for start in range(0, len(unique), _IN_CHUNK):
        yield unique[start : start + _IN_CHUNK]


def list_component_ids_by_incident(
    *, session: Session, incident_ids: Iterable[int]
) -> dict[int, list[int]]:
    """The component ids each incident affects, for many incidents in a few queries."""
    found: dict[int, list[int]] = {}
    for chunk in _chunks(incident_ids):
        query = (
            select(IncidentComponent.incident_id, IncidentComponent.component_id)
            .where(col(IncidentComponent.incident_id).in_(chunk))
            .order_by(col(IncidentComponent.incident_id), col(IncidentComponent.component_id))
        )
        for incident_id, component_id in session.exec(query):
            found.setdefault(incident_id, []).append(component_id)
    return found


def list_public_updates_by_incident(
    *, session: Session, incident_ids: Iterable[int]
) -> dict[int, list[Update]]:
    """Each incident's public timeline, oldest first, for many incidents in a few queries."""
    found: dict[int, list[Update]] = {}
    for chunk in _chunks(incident_ids):
        query = (
            select(Update)
            .where(col(Update.incident_id).in_(chunk), col(Update.public).is_(True))
            .order_by(col(Update.incident_id), col(Update.number))
        )
        for update in session.exec(query):
            found.setdefault(update.incident_id, []).append(update)
    return found


def list_last_closing_by_component(*, session: Session) -> dict[int, datetime]:
    """When an incident or maintenance affecting each component last ended."""
    query = (
        select(IncidentComponent.component_id, func.max(Incident.closed_at))
        .join(Incident, col(Incident.id) == col(IncidentComponent.incident_id))
        .where(col(Incident.closed_at).is_not(None))
        .group_by(col(IncidentComponent.component_id))
    )
    return {component_id: closed for component_id, closed in session.exec(query) if closed}
