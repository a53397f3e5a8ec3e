"""Ninety days of availability per component, one mark per day, from incidents and maintenance."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from commands.lookup import duration
from commands.public_view import (
    OPERATIONAL,
    STATE_RANK,
    PublicComponent,
    PublicIncident,
)
from storage.models import IncidentStatus

NO_DATA = "no_data"
DAYS = 90
EVENTS_SHOWN = 3
# Like Statuspage: a major outage counts fully as downtime, a partial outage for 30%,
# degraded performance and maintenance not at all.
DOWNTIME_WEIGHT = {"major_outage": 1.0, "partial_outage": 0.3}
_DAY_FORMAT = {"it": "d MMM y", "en": "d MMM y"}

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class DayEvent:
    """An incident or maintenance that touched a component on a day."""

    ref: str
    incident_id: int
    title: str
    state: str
    minutes: int
    took: str


@dataclass(frozen=True)
class DayMark:
    """One day of one component: its worst state, the worst events, and how many more."""

    day: date
    label: str
    state: str
    events: tuple[DayEvent, ...]
    more: int


@dataclass(frozen=True)
class UptimeBar:
    """A component's last ninety days, oldest first, and its availability over them."""

    component: PublicComponent
    days: tuple[DayMark, ...]
    percent: float | None

    @property
    def troubled_days(self) -> int:
        """How many days had any outage, degradation or maintenance."""
        return sum(1 for d in self.days if d.state not in (OPERATIONAL, NO_DATA))


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of a day, in UTC (23- and 25-hour days included)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def incident_span(incident: PublicIncident, now: datetime) -> Span | None:
    """When an incident or maintenance affected customers; None if it never did."""
    if incident.is_maintenance:
        if incident.status in (IncidentStatus.SCHEDULED, IncidentStatus.CANCELLED):
            return None
        end = incident.closed_at or now
        start = incident.started_at
    else:
        start, end = incident.opened_at, incident.closed_at or now
    return (start, end) if end > start else None


def _covered(spans: Iterable[Span]) -> float:
    """Seconds covered by the union of spans."""
    total, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            total += (end - start).total_seconds()
            reach = end
        elif end > reach:
            total += (end - reach).total_seconds()
            reach = end
    return total


def _clip(span: Span, lower: datetime, upper: datetime) -> Span | None:
    start, end = max(span[0], lower), min(span[1], upper)
    return (start, end) if end > start else None


def build_uptime(
    components: Sequence[PublicComponent],
    incidents: Iterable[PublicIncident],
    *,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    data_since: datetime,
    days: int = DAYS,
) -> tuple[UptimeBar, ...]:
    """One bar per component: the worst state of each local day and the availability."""
    today = now.astimezone(zone).date()
    calendar = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    starts = [day_start(d, zone) for d in calendar]
    bounds = [(start, min(end, now)) for start, end in zip(starts, [*starts[1:], now], strict=True)]
    pieces: dict[int, list[list[tuple[PublicIncident, Span]]]] = {
        c.id: [[] for _ in calendar] for c in components
    }
    for incident in incidents:
        span = incident_span(incident, now)
        if span is None or span[1] <= starts[0] or span[0] >= now:
            continue
        index = max(0, bisect_right(starts, span[0]) - 1)
        while index < len(bounds) and bounds[index][0] < span[1]:
            piece = _clip(span, *bounds[index])
            for component in incident.components if piece is not None else ():
                by_day = pieces.get(component.id)
                if by_day is not None and piece is not None:
                    by_day[index].append((incident, piece))
            index += 1
    labels = [format_date(day, _DAY_FORMAT[locale], locale=locale) for day in calendar]
    return tuple(
        _bar(c, pieces[c.id], calendar, labels, bounds, zone, data_since) for c in components
    )


def _day_events(touching: list[tuple[PublicIncident, Span]]) -> tuple[tuple[DayEvent, ...], int]:
    """The worst and longest few events of a day, and how many more there were."""
    ranked = sorted(
        touching,
        key=lambda item: (
            -STATE_RANK[item[0].component_state],
            item[1][0] - item[1][1],  # the longest first
            item[0].id,
        ),
    )
    shown = []
    for incident, (start, end) in ranked[:EVENTS_SHOWN]:
        seconds = (end - start).total_seconds()
        shown.append(
            DayEvent(
                ref=incident.ref,
                incident_id=incident.id,
                title=incident.title,
                state=incident.component_state,
                minutes=round(seconds / 60),
                took=duration(seconds),
            )
        )
    return tuple(shown), max(0, len(touching) - EVENTS_SHOWN)


def _bar(
    component: PublicComponent,
    pieces: list[list[tuple[PublicIncident, Span]]],
    calendar: list[date],
    labels: list[str],
    bounds: list[Span],
    zone: ZoneInfo,
    data_since: datetime,
) -> UptimeBar:
    first = min(component.created_at, data_since).astimezone(zone).date()
    marks: list[DayMark] = []
    observed = downtime = 0.0
    for day, label, (lower, upper), touching in zip(calendar, labels, bounds, pieces, strict=True):
        if day < first or upper <= lower:
            marks.append(DayMark(day, label, NO_DATA, (), 0))
            continue
        observed += (upper - lower).total_seconds()
        by_state: dict[str, list[Span]] = {}
        for incident, span in touching:
            by_state.setdefault(incident.component_state, []).append(span)
        major = _covered(by_state.get("major_outage", []))
        either = _covered(by_state.get("major_outage", []) + by_state.get("partial_outage", []))
        downtime += major + DOWNTIME_WEIGHT["partial_outage"] * (either - major)
        worst = max(by_state, key=STATE_RANK.__getitem__, default=OPERATIONAL)
        events, more = _day_events(touching)
        marks.append(DayMark(day, label, worst, events, more))
    percent = None if observed <= 0 else max(0.0, 100.0 * (1 - downtime / observed))
    return UptimeBar(component=component, days=tuple(marks), percent=percent)
