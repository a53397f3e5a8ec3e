"""What customers may see of Herald's data, per locale: the facts behind the status page and feeds.

Only public updates are loaded; authors, openers, front-ends, notes, channels and
audit rows never enter these objects, so nothing built from them can leak them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from commands.lookup import ref
from commands.wording import (
    PublicPost,
    display_title,
    impact_label,
    pick_locale,
    render_update,
    status_label,
    window_text,
)
from storage import components as component_store
from storage import incidents as incident_store
from storage import public as public_store
from storage.models import Component, Incident, IncidentKind, IncidentStatus, Update, UpdateKind

# Public impact of a severity, and the state it puts the affected components in; the
# names are Atlassian Statuspage's, so aggregators read them as they are.
IMPACTS = {1: "critical", 2: "major", 3: "minor", 4: "none"}
MAINTENANCE_IMPACT = "maintenance"
COMPONENT_STATES = {
    1: "major_outage",
    2: "partial_outage",
    3: "degraded_performance",
    4: "operational",
}
UNDER_MAINTENANCE = "under_maintenance"
OPERATIONAL = "operational"
STATE_RANK = {
    OPERATIONAL: 0,
    UNDER_MAINTENANCE: 1,
    "degraded_performance": 2,
    "partial_outage": 3,
    "major_outage": 4,
}
INDICATOR_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}


class UnknownComponent(LookupError):
    """A component key that no component ever had."""


@dataclass(frozen=True)
class PublicComponent:
    """A component as customers know it."""

    id: int
    key: str
    name: str
    created_at: datetime
    removed: bool


@dataclass(frozen=True)
class TimelineEntry:
    """One public update, worded for one locale."""

    number: int  # its position in the public timeline
    kind: UpdateKind
    status: IncidentStatus
    at: datetime
    changed_at: datetime
    revision: int
    post: PublicPost


@dataclass(frozen=True)
class PublicIncident:
    """An incident or maintenance with its public timeline (oldest first), in one locale."""

    id: int
    ref: str
    kind: IncidentKind
    title: str
    display_title: str
    status: IncidentStatus
    status_label: str
    severity: int | None
    impact: str
    impact_label: str | None
    opened_at: datetime
    closed_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    window_text: str | None
    components: tuple[PublicComponent, ...]
    timeline: tuple[TimelineEntry, ...]
    updated_at: datetime

    @property
    def is_maintenance(self) -> bool:
        """True for scheduled maintenance."""
        return self.kind == IncidentKind.MAINTENANCE

    @property
    def is_open(self) -> bool:
        """True until resolved, completed or cancelled."""
        return not IncidentStatus(self.status).is_closed

    @property
    def started_at(self) -> datetime:
        """When it began for customers: the opening, or the maintenance's actual start."""
        for entry in self.timeline:
            if entry.kind == UpdateKind.MAINTENANCE_STARTED:
                return entry.at
        if self.is_maintenance and self.window_start is not None:
            return self.window_start
        return self.opened_at

    @property
    def newest_first(self) -> tuple[TimelineEntry, ...]:
        """The timeline as status pages show it, newest update on top."""
        return tuple(reversed(self.timeline))

    @property
    def component_state(self) -> str:
        """The state it puts its components in while it lasts."""
        if self.is_maintenance:
            return UNDER_MAINTENANCE
        return COMPONENT_STATES.get(self.severity or 4, OPERATIONAL)

    @property
    def sequence(self) -> int:
        """A counter that grows with every public change: new updates and corrections."""
        return max(0, len(self.timeline) - 1 + sum(e.revision for e in self.timeline))

    def first_at(self, status: IncidentStatus) -> datetime | None:
        """When the public timeline first reached a status, if it did."""
        return next((e.at for e in self.timeline if e.status == status), None)


@dataclass(frozen=True)
class ComponentStatus:
    """A live component and its current state, derived from what is open now."""

    component: PublicComponent
    state: str
    updated_at: datetime


@dataclass(frozen=True)
class Overall:
    """The page's banner: the worst open impact, and whether maintenance is running."""

    indicator: str
    maintenance: bool


def overall_of(active: Iterable[PublicIncident]) -> Overall:
    """The worst public impact of the open incidents, and any maintenance in progress."""
    indicator, maintenance = "none", False
    for incident in active:
        if incident.is_maintenance:
            maintenance = maintenance or incident.status == IncidentStatus.IN_PROGRESS
        elif incident.is_open and INDICATOR_RANK[incident.impact] > INDICATOR_RANK[indicator]:
            indicator = incident.impact
    return Overall(indicator, maintenance)


def component_statuses(
    components: Iterable[PublicComponent],
    active: Iterable[PublicIncident],
    last_closed: dict[int, datetime] | None = None,
) -> tuple[ComponentStatus, ...]:
    """Each live component's state: the worst of the open incidents and running maintenance.

    Its time is the latest public change of what affects it now, or the end of
    what affected it last.
    """
    worst: dict[int, str] = {}
    changed: dict[int, datetime] = dict(last_closed or {})
    for incident in active:
        if incident.is_maintenance and incident.status != IncidentStatus.IN_PROGRESS:
            continue
        if not incident.is_maintenance and not incident.is_open:
            continue
        for component in incident.components:
            state = incident.component_state
            if STATE_RANK[state] >= STATE_RANK[worst.get(component.id, OPERATIONAL)]:
                worst[component.id] = state
            changed[component.id] = max(
                changed.get(component.id, incident.updated_at), incident.updated_at
            )
    return tuple(
        ComponentStatus(
            component=c,
            state=worst.get(c.id, OPERATIONAL),
            updated_at=max(c.created_at, changed.get(c.id, c.created_at)),
        )
        for c in components
        if not c.removed
    )


class PublicView:
    """Loads public objects in one locale from one session, with batched queries."""

    def __init__(self, session: Session, *, locale: str, zone: ZoneInfo) -> None:
        self.session = session
        self.locale = pick_locale(locale)
        self.zone = zone
        everything = component_store.list_components(session=session, include_removed=True)
        self.components = {c.id: _public_component(c) for c in everything if c.id is not None}

    def live_components(self) -> tuple[PublicComponent, ...]:
        """The components customers see, in the order they were added."""
        return tuple(c for c in self.components.values() if not c.removed)

    def component_by_key(self, key: str) -> PublicComponent:
        """A component by key in any case, removed ones included, or UnknownComponent."""
        for component in self.components.values():
            if component.key.lower() == key.strip().lower():
                return component
        raise UnknownComponent(key)

    def last_closings(self) -> dict[int, datetime]:
        """When what affected each component last ended."""
        return public_store.list_last_closing_by_component(session=self.session)

    def incident(self, incident_id: int) -> PublicIncident | None:
        """One incident or maintenance with its whole public timeline."""
        found = incident_store.get_incident(session=self.session, incident_id=incident_id)
        if found is None:
            return None
        return self.build([found])[0]

    def active(self, *, timelines: bool = True) -> list[PublicIncident]:
        """Open incidents, and maintenance scheduled or in progress."""
        rows = public_store.list_active_incidents(session=self.session)
        return self.build(rows, timelines=timelines)

    def build(self, rows: Sequence[Incident], *, timelines: bool = True) -> list[PublicIncident]:
        """Public objects for incident rows, components and timelines loaded in batches."""
        ids = [i.id for i in rows if i.id is not None]
        links = public_store.list_component_ids_by_incident(session=self.session, incident_ids=ids)
        updates = (
            public_store.list_public_updates_by_incident(session=self.session, incident_ids=ids)
            if timelines
            else {}
        )
        return [
            self._public(row, links.get(row.id or 0, []), updates.get(row.id or 0), timelines)
            for row in rows
        ]

    def _public(
        self,
        incident: Incident,
        component_ids: list[int],
        updates: list[Update] | None,
        timelines: bool,
    ) -> PublicIncident:
        assert incident.id is not None
        components = tuple(self.components[c] for c in component_ids if c in self.components)
        names = tuple(c.name for c in components)
        entries = _timeline(incident, updates or [], self.locale, self.zone, names)
        kind = IncidentKind(incident.kind)
        status = IncidentStatus(incident.status)
        window = None
        if kind == IncidentKind.MAINTENANCE and incident.window_start and incident.window_end:
            window = window_text(
                incident.window_start, incident.window_end, locale=self.locale, zone=self.zone
            )
        if timelines:
            updated = max((e.changed_at for e in entries), default=incident.opened_at)
        else:
            updated = incident.changed_at
        return PublicIncident(
            id=incident.id,
            ref=ref(incident.id),
            kind=kind,
            title=incident.title,
            display_title=display_title(incident, locale=self.locale),
            status=status,
            status_label=status_label(status, locale=self.locale),
            severity=incident.severity,
            impact=(
                MAINTENANCE_IMPACT
                if kind == IncidentKind.MAINTENANCE
                else IMPACTS.get(incident.severity or 4, "none")
            ),
            impact_label=impact_label(incident.severity, locale=self.locale),
            opened_at=incident.opened_at,
            closed_at=incident.closed_at,
            window_start=incident.window_start,
            window_end=incident.window_end,
            window_text=window,
            components=components,
            timeline=entries,
            updated_at=updated,
        )


def _public_component(component: Component) -> PublicComponent:
    assert component.id is not None
    return PublicComponent(
        id=component.id,
        key=component.key,
        name=component.name,
        created_at=component.created_at,
        removed=component.removed_at is not None,
    )


def _timeline(
    incident: Incident,
    updates: Sequence[Update],
    locale: str,
    zone: ZoneInfo,
    names: tuple[str, ...],
) -> tuple[TimelineEntry, ...]:
    started = next((u.at for u in updates if u.kind == UpdateKind.MAINTENANCE_STARTED), None)
    entries: list[TimelineEntry] = []
    for update in updates:
        if not update.public:
            continue
        post = render_update(
            incident, update, locale=locale, zone=zone, components=names, started_at=started
        )
        entries.append(
            TimelineEntry(
                # Counted among public updates only: gaps in the raw numbers would tell
                # customers how many internal notes there are.
                number=len(entries) + 1,
                kind=UpdateKind(update.kind),
                status=IncidentStatus(update.status),
                at=update.at,
                changed_at=max(update.at, update.edited_at or update.at),
                revision=update.revision,
                post=post,
            )
        )
    return tuple(entries)
