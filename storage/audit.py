"""Queries for the audit trail."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.models import AuditEvent


def create_audit_event(
    *,
    session: Session,
    actor: str,
    front_end: str,
    action: str,
    at: datetime,
    incident_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record who did what."""
    event = AuditEvent(
        actor=actor,
        front_end=front_end,
        action=action,
        at=at,
        incident_id=incident_id,
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
    )
    session.add(event)
    return event


def list_audit_events(
    *, session: Session, incident_id: int | None = None, limit: int = 100
) -> Sequence[AuditEvent]:
    """The newest audit events, optionally for one incident."""
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if incident_id is not None:
        query = query.where(AuditEvent.incident_id == incident_id)
    return session.exec(query).all()
