"""Herald's data in the shapes of Atlassian Statuspage's public API v2, for aggregators."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from commands.public_view import (
    ComponentStatus,
    Overall,
    PublicIncident,
    PublicView,
    TimelineEntry,
    component_statuses,
    overall_of,
)
from storage import public as public_store
from storage.models import IncidentKind, IncidentStatus

LIST_LIMIT = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Statuspage has no "cancelled": a cancelled window ends as completed, its last update says why.
STATUSES = {IncidentStatus.CANCELLED: "completed"}
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
UNDER_MAINTENANCE = "Service Under Maintenance"

Json = dict[str, Any]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _status(status: IncidentStatus) -> str:
    return STATUSES.get(status, IncidentStatus(status).value)


@dataclass(frozen=True)
class ApiPage:
    """The page every response starts with."""

    site: str
    public_url: str
    time_zone: str

    @property
    def id(self) -> str:
        """A stable page id derived from the public URL."""
        return hashlib.blake2b(self.public_url.encode(), digest_size=6).hexdigest()

    def as_json(self, updated_at: datetime) -> Json:
        """The `page` object."""
        return {
            "id": self.id,
            "name": self.site,
            "url": self.public_url,
            "time_zone": self.time_zone,
            "updated_at": _iso(updated_at),
        }


def status_json(overall: Overall) -> Json:
    """The `status` object: an indicator and its description."""
    description = DESCRIPTIONS[overall.indicator]
    if overall.indicator == "none" and overall.maintenance:
        description = UNDER_MAINTENANCE
    return {"indicator": overall.indicator, "description": description}


def component_json(status: ComponentStatus, position: int, page: ApiPage) -> Json:
    """A `component` object with its current status."""
    component = status.component
    return {
        "id": component.key,
        "name": component.name,
        "status": status.state,
        "created_at": _iso(component.created_at),
        "updated_at": _iso(status.updated_at),
        "position": position,
        "description": None,
        "showcase": False,
        "start_date": component.created_at.date().isoformat(),
        "group_id": None,
        "page_id": page.id,
        "group": False,
        "only_show_if_degraded": False,
    }


def components_json(statuses: Sequence[ComponentStatus], page: ApiPage) -> list[Json]:
    """Every live component, positioned in the order they were added."""
    return [component_json(s, n, page) for n, s in enumerate(statuses, start=1)]


def _update_json(incident: PublicIncident, entry: TimelineEntry) -> Json:
    return {
        "id": f"{incident.id}-{entry.number}",
        "status": _status(entry.status),
        "body": entry.post.body,
        "incident_id": str(incident.id),
        "created_at": _iso(entry.at),
        "updated_at": _iso(entry.changed_at),
        "display_at": _iso(entry.at),
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident_json(
    incident: PublicIncident, page: ApiPage, statuses: dict[int, ComponentStatus]
) -> Json:
    """An `incident`, or a `scheduled_maintenance` with its window, updates newest first."""
    closed = incident.status in (IncidentStatus.RESOLVED, IncidentStatus.COMPLETED)
    found: Json = {
        "id": str(incident.id),
        "name": incident.title,
        "status": _status(incident.status),
        "created_at": _iso(incident.opened_at),
        "updated_at": _iso(incident.updated_at),
        "monitoring_at": _iso(incident.first_at(IncidentStatus.MONITORING)),
        "resolved_at": _iso(incident.closed_at if closed else None),
        "impact": incident.impact,
        "shortlink": f"{page.public_url}/incidents/{incident.ref}",
        "started_at": _iso(incident.started_at),
        "page_id": page.id,
        "incident_updates": [_update_json(incident, e) for e in incident.newest_first],
        "components": [
            component_json(statuses[c.id], n, page)
            for n, c in enumerate(incident.components, start=1)
            if c.id in statuses
        ],
    }
    if incident.is_maintenance:
        found["scheduled_for"] = _iso(incident.window_start)
        found["scheduled_until"] = _iso(incident.window_end)
    return found


def latest(items: Iterable[PublicIncident], statuses: Iterable[ComponentStatus]) -> datetime:
    """When the public content of a response last changed."""
    moments = [i.updated_at for i in items] + [s.updated_at for s in statuses]
    return max(moments, default=_EPOCH)


def encode(document: Json) -> bytes:
    """Compact UTF-8 JSON, as Statuspage serves it."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


# -- the documents, one per endpoint -------------------------------------------------------


class _Now:
    """What is open now, and the component statuses it makes: every document starts here."""

    def __init__(self, view: PublicView, *, timelines: bool) -> None:
        self.view = view
        self.active = view.active(timelines=timelines)
        self.statuses = component_statuses(
            view.live_components(), self.active, view.last_closings()
        )

    def document(self, page: ApiPage, shown: Sequence[PublicIncident], **parts: Any) -> Json:
        """The page object, dated by what the document shows, then the given parts."""
        return {"page": page.as_json(latest(shown, self.statuses)), **parts}

    def objects(self, page: ApiPage, items: Iterable[PublicIncident]) -> list[Json]:
        """Incident or maintenance objects, their components with today's status."""
        by_id = {s.component.id: s for s in self.statuses}
        return [incident_json(i, page, by_id) for i in items]

    def maintenance(self, *statuses: IncidentStatus) -> list[PublicIncident]:
        """Active maintenance in these statuses, the soonest window first."""
        found = [i for i in self.active if i.is_maintenance and i.status in statuses]
        return sorted(found, key=lambda i: (i.window_start or i.opened_at, i.id))


def summary(view: PublicView, page: ApiPage) -> Json:
    """`summary.json`: components, unresolved incidents, upcoming and active maintenance."""
    now = _Now(view, timelines=True)
    incidents = [i for i in now.active if not i.is_maintenance]
    maintenance = now.maintenance(IncidentStatus.IN_PROGRESS, IncidentStatus.SCHEDULED)
    return {
        "page": page.as_json(latest(now.active, now.statuses)),
        "components": components_json(now.statuses, page),
        "incidents": now.objects(page, incidents),
        "scheduled_maintenances": now.objects(page, maintenance),
        "status": status_json(overall_of(now.active)),
    }


def status(view: PublicView, page: ApiPage) -> Json:
    """`status.json`: the indicator and its description."""
    now = _Now(view, timelines=False)
    return now.document(page, now.active, status=status_json(overall_of(now.active)))


def components(view: PublicView, page: ApiPage) -> Json:
    """`components.json`: every live component with its status."""
    now = _Now(view, timelines=False)
    return now.document(page, [], components=components_json(now.statuses, page))


def incidents(view: PublicView, page: ApiPage) -> Json:
    """`incidents.json`: the most recent incidents, resolved ones included."""
    now = _Now(view, timelines=False)
    rows = public_store.list_latest_opened(
        session=view.session, kind=IncidentKind.INCIDENT, limit=LIST_LIMIT
    )
    items = view.build(rows)
    return now.document(page, items, incidents=now.objects(page, items))


def unresolved(view: PublicView, page: ApiPage) -> Json:
    """`incidents/unresolved.json`: investigating, identified or monitoring."""
    now = _Now(view, timelines=True)
    items = [i for i in now.active if not i.is_maintenance]
    return now.document(page, items, incidents=now.objects(page, items))


def scheduled_maintenances(view: PublicView, page: ApiPage) -> Json:
    """`scheduled-maintenances.json`: the most recent windows, finished ones included."""
    now = _Now(view, timelines=False)
    rows = public_store.list_latest_opened(
        session=view.session, kind=IncidentKind.MAINTENANCE, limit=LIST_LIMIT
    )
    items = view.build(rows)
    return now.document(page, items, scheduled_maintenances=now.objects(page, items))


def upcoming(view: PublicView, page: ApiPage) -> Json:
    """`scheduled-maintenances/upcoming.json`: windows still to start."""
    now = _Now(view, timelines=True)
    items = now.maintenance(IncidentStatus.SCHEDULED)
    return now.document(page, items, scheduled_maintenances=now.objects(page, items))


def active(view: PublicView, page: ApiPage) -> Json:
    """`scheduled-maintenances/active.json`: windows in progress."""
    now = _Now(view, timelines=True)
    items = now.maintenance(IncidentStatus.IN_PROGRESS)
    return now.document(page, items, scheduled_maintenances=now.objects(page, items))


Document = Callable[[PublicView, ApiPage], Json]
DOCUMENTS: dict[str, Document] = {
    "summary.json": summary,
    "status.json": status,
    "components.json": components,
    "incidents.json": incidents,
    "incidents/unresolved.json": unresolved,
    "scheduled-maintenances.json": scheduled_maintenances,
    "scheduled-maintenances/upcoming.json": upcoming,
    "scheduled-maintenances/active.json": active,
}
