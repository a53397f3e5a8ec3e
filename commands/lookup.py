"""Lookups shared by the handlers, each refusing with a message that says what to type."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from commands.errors import Refused
from storage import components as component_store
from storage import incidents as incident_store
from storage.models import Component, Incident, IncidentKind


def ref(incident_id: int | None) -> str:
    """The id people see: INC-42."""
    return f"INC-{incident_id}"


def get_incident(session: Session, incident_id: int, *, for_change: bool = False) -> Incident:
    """The incident, or a refusal that points at `list`."""
    incident = incident_store.get_incident(
        session=session, incident_id=incident_id, for_change=for_change
    )
    if incident is None:
        raise Refused(f"There is no {ref(incident_id)}; type `list --all` to see the incidents.")
    return incident


def get_maintenance(session: Session, incident_id: int) -> Incident:
    """A maintenance, or a refusal saying which verbs fit an incident."""
    incident = get_incident(session, incident_id, for_change=True)
    if incident.kind != IncidentKind.MAINTENANCE:
        raise Refused(
            f"{ref(incident_id)} is an incident, not a maintenance; use update or resolve."
        )
    return incident


def get_components(session: Session, keys: Sequence[str]) -> list[Component]:
    """Components by key or name; refuse unknown ones, listing the known keys."""
    if not keys:
        return []
    known = component_store.list_components(session=session)
    by_word = {c.key.lower(): c for c in known} | {c.name.lower(): c for c in known}
    missing = [k for k in keys if k.lower() not in by_word]
    if missing:
        listed = ", ".join(c.key for c in known) or "none yet"
        raise Refused(
            f"Unknown component {', '.join(missing)}. Known: {listed}. "
            "Add one with: components add KEY NAME."
        )
    chosen: dict[int | None, Component] = {}
    for key in keys:
        component = by_word[key.lower()]
        chosen[component.id] = component
    return list(chosen.values())


def short_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment for engineers: `2025-01-28 14:50 CET`."""
    if moment is None:
        return "-"
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def duration(seconds: float) -> str:
    """A span in words: `1 h 40 min`, `3 d 2 h`, `45 s`."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def incident_url(public_url: str, incident_id: int) -> str:
    """The incident's page on the public status site."""
    return f"{public_url.rstrip('/')}/incidents/{incident_id}"
