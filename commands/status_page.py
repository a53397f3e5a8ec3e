"""The facts of the public status page: banner, components, what is open, history and uptime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from babel.dates import format_date

from commands.public_view import (
    ComponentStatus,
    Overall,
    PublicIncident,
    PublicView,
    component_statuses,
    overall_of,
)
from commands.uptime import DAYS, UptimeBar, build_uptime, day_start
from storage import public as public_store
from storage.models import IncidentKind, IncidentStatus

# When the last ninety days hold fewer than this, older ones fill the history up,
# so a quiet page still shows what happened last.
HISTORY_MINIMUM = 10
RECENT_MAINTENANCE = 5
_HISTORY_DAY = {"it": "EEEE d MMMM y", "en": "EEEE, d MMMM y"}


@dataclass(frozen=True)
class HistoryDay:
    """The incidents and maintenance that began on one local day, newest first."""

    day: date
    label: str
    items: tuple[PublicIncident, ...]


@dataclass(frozen=True)
class StatusPage:
    """Everything the home page shows, in one locale."""

    now: datetime
    locale: str
    overall: Overall
    components: tuple[ComponentStatus, ...]
    incidents: tuple[PublicIncident, ...]
    maintenance_in_progress: tuple[PublicIncident, ...]
    maintenance_upcoming: tuple[PublicIncident, ...]
    maintenance_recent: tuple[PublicIncident, ...]
    history: tuple[HistoryDay, ...]
    uptime: tuple[UptimeBar, ...]


def _began(incident: PublicIncident) -> datetime:
    return (
        incident.window_start
        if incident.is_maintenance and incident.window_start
        else (incident.opened_at)
    )


def build_status_page(view: PublicView, *, now: datetime) -> StatusPage:
    """Load and derive the home page: a few indexed queries, whatever the history's size."""
    session = view.session
    active = view.active()
    window_start = day_start(now.astimezone(view.zone).date() - timedelta(days=DAYS - 1), view.zone)
    changed = public_store.list_incidents_changed_since(session=session, since=window_start)
    known = {i.id for i in active}
    recent = view.build([row for row in changed if row.id not in known], timelines=False)
    history = [
        i
        for i in [*active, *recent]
        if window_start <= _began(i) <= now and i.status != IncidentStatus.SCHEDULED
    ]
    if len(history) < HISTORY_MINIMUM:
        seen = {i.id for i in history}
        latest = public_store.list_recently_changed(session=session, limit=HISTORY_MINIMUM * 2)
        older = view.build([r for r in latest if r.id not in seen], timelines=False)
        for incident in older:
            if len(history) >= HISTORY_MINIMUM:
                break
            if incident.status != IncidentStatus.SCHEDULED and _began(incident) <= now:
                history.append(incident)
    finished = public_store.list_recently_changed(
        session=session,
        limit=RECENT_MAINTENANCE,
        kind=IncidentKind.MAINTENANCE,
        statuses=(IncidentStatus.COMPLETED, IncidentStatus.CANCELLED),
    )
    maintenance = [i for i in active if i.is_maintenance]
    earliest = min((_began(i) for i in [*history, *active]), default=now)
    return StatusPage(
        now=now,
        locale=view.locale,
        overall=overall_of(active),
        components=component_statuses(view.live_components(), active),
        incidents=tuple(i for i in active if not i.is_maintenance),
        maintenance_in_progress=tuple(
            i for i in maintenance if i.status == IncidentStatus.IN_PROGRESS
        ),
        maintenance_upcoming=tuple(
            sorted(
                (i for i in maintenance if i.status == IncidentStatus.SCHEDULED),
                key=lambda i: (i.window_start or i.opened_at, i.id),
            )
        ),
        maintenance_recent=tuple(view.build(finished, timelines=False)),
        history=_group_by_day(history, view),
        uptime=build_uptime(
            view.live_components(),
            [*active, *recent],
            now=now,
            zone=view.zone,
            locale=view.locale,
            data_since=earliest,
        ),
    )


def _group_by_day(items: list[PublicIncident], view: PublicView) -> tuple[HistoryDay, ...]:
    days: dict[date, list[PublicIncident]] = {}
    for incident in sorted(items, key=lambda i: (_began(i), i.id), reverse=True):
        days.setdefault(_began(incident).astimezone(view.zone).date(), []).append(incident)
    return tuple(
        HistoryDay(
            day=day,
            label=format_date(day, _HISTORY_DAY[view.locale], locale=view.locale),
            items=tuple(found),
        )
        for day, found in days.items()
    )
