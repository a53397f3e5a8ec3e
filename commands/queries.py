"""Handlers that only read: list and summary, and the figures of a period they share."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from commands import verbs as v
from commands.context import Context, Reply
from commands.dates import Period, parse_period
from commands.lookup import duration, ref, short_time
from storage import components as component_store
from storage import incidents as incident_store
from storage import summary as summary_store
from storage.models import Incident, IncidentKind

LIST_LIMIT = 50
NO_COMPONENT = "(no component)"


def headline(incident: Incident, zone_ctx: Context, keys: list[str]) -> str:
    what = f"SEV{incident.severity}" if incident.kind == IncidentKind.INCIDENT else "MAINT"
    parts = [f"{ref(incident.id):<8} {what:<5} {incident.status.value:<13} {incident.title}"]
    if incident.kind == IncidentKind.MAINTENANCE:
        parts.append(
            f"window {short_time(incident.window_start, zone_ctx.zone)} → "
            f"{short_time(incident.window_end, zone_ctx.zone)}"
        )
    if keys:
        parts.append(", ".join(keys))
    return " · ".join(parts)


def list_incidents(command: v.ListIncidents, ctx: Context) -> Reply:
    """Open incidents and maintenance, or all of them with --all / --since."""
    with ctx.sessions() as session:
        found = incident_store.list_incidents(
            session=session,
            include_closed=command.include_closed,
            since=command.since,
            limit=LIST_LIMIT,
        )
        total = len(found)
        if total == LIST_LIMIT:
            total = incident_store.count_incidents(
                session=session, include_closed=command.include_closed, since=command.since
            )
        keys = component_store.list_component_keys_of(
            session=session, incident_ids=[i.id for i in found if i.id is not None]
        )
    if not found:
        scope = "since then" if command.since else "open" if not command.include_closed else ""
        return Reply(f"No incidents {scope}. Open one with: open TITLE --sev 2".replace("  ", " "))
    lines = [headline(i, ctx, keys.get(i.id or 0, [])) for i in found]
    if total > len(found):
        lines.append(f"… and {total - len(found)} more; narrow it with --since 7d.")
    return Reply("\n".join(lines))


@dataclass(frozen=True)
class LongestIncident:
    """The incident of the period that took longest to resolve."""

    incident_id: int
    title: str
    seconds: float


@dataclass(frozen=True)
class ComponentImpact:
    """How long a component was affected by an incident (SEV1–3) within the period."""

    name: str
    minutes: int


@dataclass(frozen=True)
class Figures:
    """A period's numbers, computed in one place for the summary and the weekly digest."""

    start: datetime
    end: datetime
    opened_by_severity: dict[int, int]
    resolved: int
    mean_time_to_resolve: float | None
    mean_time_to_first_update: float | None
    longest: LongestIncident | None
    incident_seconds: float
    impact: tuple[ComponentImpact, ...]
    maintenance_done: int
    maintenance_seconds: float

    @property
    def opened(self) -> int:
        """Incidents opened in the period, every severity."""
        return sum(self.opened_by_severity.values())


@dataclass(frozen=True)
class SummaryView:
    """A period's numbers, for any front-end to lay out: plain text, Block Kit, a digest."""

    period: Period
    opened: int
    opened_by_severity: dict[int, int]
    resolved: int
    open_now: int
    mean_time_to_resolve: float | None
    longest: LongestIncident | None
    incident_seconds: float
    impact: tuple[ComponentImpact, ...]
    maintenance_done: int
    share: bool = False


def _impact_minutes(
    spans: list[summary_store.ImpactSpan], start: datetime, end: datetime
) -> tuple[ComponentImpact, ...]:
    """Minutes each component spent under at least one incident with public impact."""
    # Merging overlapping intervals per component is awkward in portable SQL, so the
    # database hands over only (component, opened, closed) of SEV1–3 incidents active
    # in the period, and the merge happens here.
    intervals: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for span in spans:
        begin, until = max(span.opened_at, start), min(span.closed_at or end, end)
        if until > begin:
            intervals[span.component or NO_COMPONENT].append((begin, until))
    impact = []
    for name, found in intervals.items():
        # Overlapping incidents on one component count its time once.
        total, reach = 0.0, None
        for begin, until in sorted(found):
            if reach is not None and begin < reach:
                begin = reach
            if until > begin:
                total += (until - begin).total_seconds()
            reach = until if reach is None else max(reach, until)
        impact.append(ComponentImpact(name, round(total / 60)))
    return tuple(sorted(impact, key=lambda c: (-c.minutes, c.name)))


def _longest(found: summary_store.ResolvedIncident | None, now: datetime) -> LongestIncident | None:
    if found is None:
        return None
    seconds = max(0.0, (min(found.closed_at, now) - found.opened_at).total_seconds())
    return LongestIncident(found.incident_id, found.title, seconds)


def period_figures(session: Session, *, start: datetime, end: datetime, now: datetime) -> Figures:
    """Every figure of [start, end) that the summary and the digest report."""
    span = {"start": start, "end": end}
    by_sev = summary_store.count_opened_by_severity(session=session, **span)
    longest = summary_store.get_longest_resolved(session=session, **span)
    maintenance = summary_store.get_maintenance_done(session=session, **span)
    return Figures(
        start=start,
        end=end,
        opened_by_severity={s: by_sev.get(s, 0) for s in (1, 2, 3, 4)},
        resolved=summary_store.count_resolved(session=session, **span),
        mean_time_to_resolve=summary_store.get_mean_seconds_to_resolve(session=session, **span),
        mean_time_to_first_update=summary_store.get_mean_seconds_to_first_update(
            session=session, **span
        ),
        longest=_longest(longest, now),
        incident_seconds=summary_store.sum_incident_seconds(session=session, **span),
        impact=_impact_minutes(
            summary_store.list_impact_spans(session=session, **span), start, end
        ),
        maintenance_done=maintenance.completed,
        maintenance_seconds=maintenance.seconds,
    )


def summary_view(command: v.Summarize, ctx: Context) -> SummaryView:
    """The numbers of a period: incidents by severity, open now, time to resolve, impact."""
    now = ctx.now()
    period = parse_period(command.period, zone=ctx.zone, now=now)
    with ctx.sessions() as session:
        figures = period_figures(session, start=period.start, end=period.end, now=now)
        open_now = incident_store.count_incidents(session=session)
    return SummaryView(
        period=period,
        opened=figures.opened,
        opened_by_severity=figures.opened_by_severity,
        resolved=figures.resolved,
        open_now=open_now,
        mean_time_to_resolve=figures.mean_time_to_resolve,
        longest=figures.longest,
        incident_seconds=figures.incident_seconds,
        impact=figures.impact,
        maintenance_done=figures.maintenance_done,
        share=command.share,
    )


def summary_text(view: SummaryView, zone: ZoneInfo) -> str:
    """The summary as plain text, one fact a line."""
    period = view.period
    lines = [
        f"Summary for {period.name} ({short_time(period.start, zone)} → "
        f"{short_time(period.end, zone)})",
        f"Incidents opened: {view.opened} ("
        + ", ".join(f"SEV{s}: {n}" for s, n in view.opened_by_severity.items())
        + ")",
        f"Resolved: {view.resolved} · open now: {view.open_now}",
    ]
    if view.mean_time_to_resolve is not None and view.longest is not None:
        lines.append(
            f"Mean time to resolve: {duration(view.mean_time_to_resolve)} · longest: "
            f"{ref(view.longest.incident_id)} {duration(view.longest.seconds)}"
        )
    lines.append(f"Incident time in the period: {duration(view.incident_seconds)}")
    if view.impact:
        lines.append(
            "Impact (SEV1–3): " + ", ".join(f"{c.name} {c.minutes} min" for c in view.impact)
        )
    lines.append(f"Maintenance completed: {view.maintenance_done}")
    return "\n".join(lines)


def summarize(command: v.Summarize, ctx: Context) -> Reply:
    """Counts for a period: incidents by severity, open now, time to resolve, maintenance."""
    return Reply(summary_text(summary_view(command, ctx), ctx.zone))
