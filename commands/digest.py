"""The weekly digest for managers: a week's figures beside the week before's, as data and text."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from commands.context import Context
from commands.dates import YEARS
from commands.errors import UsageError
from commands.lookup import duration, incident_url, ref, short_time
from commands.queries import NO_COMPONENT, Figures, period_figures
from storage import components as component_store
from storage import incidents as incident_store
from storage import summary as summary_store
from storage.models import Component, IncidentKind

WEEK_HELP = "use an ISO week such as 2025-W05"
OPEN_LIMIT = 20
# Past this many components, the text and the chart show the ones with impact and sum up
# the rest in one line: fifty identical "100.00 %" lines hide the two that matter.
LISTED_COMPONENTS = 12
SEVERITIES = (1, 2, 3, 4)
MINUS = "\N{MINUS SIGN}"
_WEEK = re.compile(r"(?P<y>\d{4})-W(?P<w>\d{1,2})", re.ASCII | re.IGNORECASE)


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week, Monday to Sunday, numbered within its ISO year."""

    year: int
    week: int

    @property
    def label(self) -> str:
        """`2025-W05`."""
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.week, 1)

    def previous(self) -> IsoWeek:
        """The week before this one."""
        return week_of_day(self.monday - timedelta(days=7))

    def midnights(self, zone: ZoneInfo) -> list[datetime]:
        """The eight local midnights from this Monday to the next, in UTC (DST-correct)."""
        return [
            datetime.combine(self.monday + timedelta(days=n), time(), tzinfo=zone).astimezone(UTC)
            for n in range(8)
        ]


def week_of_day(day: date) -> IsoWeek:
    """The ISO week a calendar day belongs to."""
    year, week, _ = day.isocalendar()
    return IsoWeek(year, week)


def last_complete_week(now: datetime, zone: ZoneInfo) -> IsoWeek:
    """The week before the one `now` falls in, in the zone's calendar."""
    return week_of_day(now.astimezone(zone).date()).previous()


def parse_week(text: str) -> IsoWeek:
    """`2025-W05` (or `2025-w5`) as an IsoWeek; a one-line UsageError otherwise."""
    typed = text.strip()
    match = _WEEK.fullmatch(typed)
    if match is None:
        raise UsageError(f"{typed!r} is not a week; {WEEK_HELP}.")
    year, week = int(match["y"]), int(match["w"])
    if not YEARS[0] <= year <= YEARS[1]:
        raise UsageError(f"{typed!r} is outside the years Herald handles; {WEEK_HELP}.")
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise UsageError(f"{year} has no week {week}; {WEEK_HELP}.") from None
    return IsoWeek(year, week)


@dataclass(frozen=True)
class DayCount:
    """Incidents opened on one local day, by severity (1–4)."""

    day: date
    by_severity: dict[int, int]


@dataclass(frozen=True)
class Availability:
    """A component's share of the week without SEV1–3 impact, this week and the one before."""

    name: str
    impact_minutes: int
    previous_impact_minutes: int
    percent: float
    previous_percent: float


@dataclass(frozen=True)
class OpenItem:
    """An incident or maintenance not closed yet when the digest was made."""

    incident_id: int
    kind: IncidentKind
    title: str
    severity: int | None
    status: str
    opened_at: datetime


@dataclass(frozen=True)
class Digest:
    """A week's figures and the previous week's, with what the text and the chart show."""

    week: str
    site_name: str
    zone: ZoneInfo
    figures: Figures
    previous: Figures
    partial: bool
    days: tuple[DayCount, ...]
    availability: tuple[Availability, ...]
    still_open: tuple[OpenItem, ...]
    open_total: int
    longest_url: str | None


def _percent_available(impact_minutes: int, start: datetime, end: datetime) -> float:
    minutes = (end - start).total_seconds() / 60
    if minutes <= 0:
        return 100.0
    return max(0.0, 100.0 - 100.0 * impact_minutes / minutes)


def _reported_components(
    components: Sequence[Component], figures: Figures, previous: Figures
) -> list[str]:
    """Live components, and removed ones with impact in either week, named as the figures do."""
    # A component removed mid-week keeps its impact in `summary`; the digest must not
    # quietly drop it. Incidents without a component have no availability to report.
    impacted = {c.name for c in (*figures.impact, *previous.impact)} - {NO_COMPONENT}
    names = [c.name for c in components if c.removed_at is None or c.name in impacted]
    return list(dict.fromkeys(names))


def _availability(
    names: list[str], figures: Figures, previous: Figures
) -> tuple[Availability, ...]:
    now = {c.name: c.minutes for c in figures.impact}
    before = {c.name: c.minutes for c in previous.impact}
    return tuple(
        Availability(
            name=name,
            impact_minutes=now.get(name, 0),
            previous_impact_minutes=before.get(name, 0),
            percent=_percent_available(now.get(name, 0), figures.start, figures.end),
            previous_percent=_percent_available(before.get(name, 0), previous.start, previous.end),
        )
        for name in names
    )


def build_digest(ctx: Context, week: IsoWeek | None, public_url: str, site_name: str) -> Digest:
    """The digest of a week (by default the last complete one) in the context's zone."""
    now = ctx.now()
    week = week or last_complete_week(now, ctx.zone)
    midnights = week.midnights(ctx.zone)
    start, end = midnights[0], midnights[-1]
    if start >= now:
        raise UsageError(
            f"{week.label} has not begun yet; give {last_complete_week(now, ctx.zone).label} "
            "or an earlier week."
        )
    before = week.previous().midnights(ctx.zone)
    with ctx.sessions() as session:
        figures = period_figures(session, start=start, end=min(end, now), now=now)
        previous = period_figures(session, start=before[0], end=before[-1], now=now)
        per_day = summary_store.count_opened_by_day_and_severity(session=session, bounds=midnights)
        components = component_store.list_components(session=session, include_removed=True)
        names = _reported_components(components, figures, previous)
        found = incident_store.list_incidents(session=session, limit=OPEN_LIMIT)
        still_open = tuple(
            OpenItem(i.id, i.kind, i.title, i.severity, i.status.value, i.opened_at)
            for i in found
            if i.id is not None
        )
        open_total = len(still_open)
        if open_total == OPEN_LIMIT:
            open_total = incident_store.count_incidents(session=session)
    days = tuple(
        DayCount(week.monday + timedelta(days=n), {s: per_day.get((n, s), 0) for s in SEVERITIES})
        for n in range(7)
    )
    longest = figures.longest
    return Digest(
        week=week.label,
        site_name=site_name,
        zone=ctx.zone,
        figures=figures,
        previous=previous,
        partial=end > now,
        days=days,
        availability=_availability(names, figures, previous),
        still_open=still_open,
        open_total=open_total,
        longest_url=None if longest is None else incident_url(public_url, longest.incident_id),
    )


# -- text ---------------------------------------------------------------------------------


def _signed(text: str, negative: bool) -> str:
    return f"{MINUS if negative else '+'}{text}"


def count_change(now: int, before: int) -> str:
    """`+1`, `−2` or `±0`."""
    if now == before:
        return "±0"
    return _signed(str(abs(now - before)), now < before)


def duration_change(now: float | None, before: float | None) -> str:
    """`+1 h 12 min`, `−18 min`, `±0`, or `n/a` when either side is missing."""
    if now is None or before is None:
        return "n/a"
    if int(now) == int(before):
        return "±0"
    return _signed(duration(abs(now - before)), now < before)


def _floored(percent: float) -> float:
    # Down, not to the nearest: any impact at all must keep a component under 100 %.
    return math.floor(percent * 100 + 1e-6) / 100


def shown_percent(percent: float) -> str:
    """`99.98 %`, never rounded up to 100 % while there was any impact."""
    return f"{_floored(percent):.2f} %"


def percent_change(now: float, before: float) -> str:
    """`+0.25 pt`, `−1.03 pt` or `±0 pt`: percentage points between the shown figures."""
    difference = round(_floored(now) - _floored(before), 2)
    if difference == 0:
        return "±0 pt"
    return _signed(f"{abs(difference):.2f} pt", difference < 0)


def digest_title(digest: Digest) -> str:
    """`Herald status · weekly digest 2025-W05`."""
    return f"{digest.site_name} · weekly digest {digest.week}"


def _open_line(item: OpenItem, zone: ZoneInfo) -> str:
    what = f"SEV{item.severity}" if item.kind == IncidentKind.INCIDENT else "maintenance"
    return (
        f"  {ref(item.incident_id)} {what} {item.status} “{item.title}” · "
        f"opened {short_time(item.opened_at, zone)}"
    )


def _dated(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%a %d/%m/%Y}"


def _heading(digest: Digest) -> list[str]:
    this, zone = digest.figures, digest.zone
    last_day = digest.days[-1].day if digest.days else this.end.date()
    so_far = f", so far until {short_time(this.end, zone)}" if digest.partial else ""
    return [
        f"{digest_title(digest)} ({_dated(this.start, zone)} → {last_day:%a %d/%m/%Y}, "
        f"{zone.key}{so_far}); changes are from the week before."
    ]


def _count_line(label: str, now: int, before: int) -> str:
    return f"{label}: {now} ({count_change(now, before)})"


def _incident_counts(digest: Digest) -> list[str]:
    this, last = digest.figures, digest.previous
    return [
        _count_line("Incidents opened", this.opened, last.opened),
        *(
            _count_line(
                f"  SEV{severity}",
                this.opened_by_severity[severity],
                last.opened_by_severity[severity],
            )
            for severity in SEVERITIES
        ),
        _count_line("Resolved", this.resolved, last.resolved),
    ]


def _mean_line(label: str, now: float | None, before: float | None) -> str:
    shown = "n/a" if now is None else f"{duration(now)} ({duration_change(now, before)})"
    return f"{label}: {shown}"


def _mean_times(digest: Digest) -> list[str]:
    this, last = digest.figures, digest.previous
    return [
        _mean_line(
            "Mean time to first public update",
            this.mean_time_to_first_update,
            last.mean_time_to_first_update,
        ),
        _mean_line("Mean time to resolve", this.mean_time_to_resolve, last.mean_time_to_resolve),
    ]


def _incident_time(digest: Digest) -> list[str]:
    this, last = digest.figures, digest.previous
    if this.longest is None:
        longest = "Longest incident: n/a (none resolved)"
    else:
        before = None if last.longest is None else last.longest.seconds
        longest = (
            f"Longest incident: {ref(this.longest.incident_id)} “{this.longest.title}”, "
            f"{duration(this.longest.seconds)} "
            f"({duration_change(this.longest.seconds, before)}) · {digest.longest_url}"
        )
    total = (
        f"Incident time: {duration(this.incident_seconds)} "
        f"({duration_change(this.incident_seconds, last.incident_seconds)})"
    )
    return [longest, total]


def _availability_line(row: Availability) -> str:
    return (
        f"  {row.name}: {shown_percent(row.percent)} "
        f"({percent_change(row.percent, row.previous_percent)}) · "
        f"{row.impact_minutes} min of impact "
        f"({count_change(row.impact_minutes, row.previous_impact_minutes)} min)"
    )


def had_impact(row: Availability) -> bool:
    """Whether a component had any impact this week or the week before."""
    return row.impact_minutes > 0 or row.previous_impact_minutes > 0


def _availability_section(digest: Digest) -> list[str]:
    rows = digest.availability
    if not rows:
        return []
    listed = rows if len(rows) <= LISTED_COMPONENTS else tuple(filter(had_impact, rows))
    lines = [
        "Availability per component (SEV1–3 impact):",
        *(_availability_line(row) for row in listed),
    ]
    others = len(rows) - len(listed)
    if others:
        # Without impact in either week each of them is at 100 % both weeks.
        what = "other component" if others == 1 else "other components"
        lines.append(f"  {others} {what}: {shown_percent(100.0)} ({percent_change(100, 100)})")
    return lines


def _maintenance(digest: Digest) -> list[str]:
    this, last = digest.figures, digest.previous
    minutes, before = round(this.maintenance_seconds / 60), round(last.maintenance_seconds / 60)
    return [
        f"Maintenance done: {this.maintenance_done} "
        f"({count_change(this.maintenance_done, last.maintenance_done)}) · "
        f"{minutes} min ({count_change(minutes, before)} min)"
    ]


def _still_open(digest: Digest) -> list[str]:
    lines = [f"Still open now: {digest.open_total}"]
    lines.extend(_open_line(item, digest.zone) for item in digest.still_open)
    if digest.open_total > len(digest.still_open):
        lines.append(f"  … and {digest.open_total - len(digest.still_open)} more: herald list")
    return lines


_SECTIONS = (
    _heading,
    _incident_counts,
    _mean_times,
    _incident_time,
    _availability_section,
    _maintenance,
    _still_open,
)


def digest_text(digest: Digest) -> str:
    """The digest as plain text for managers, one fact a line, each with its weekly change."""
    return "\n".join(line for section in _SECTIONS for line in section(digest))
