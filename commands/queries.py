"""Handlers that only read: list and summary."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from commands import verbs as v
from commands.context import Context, Reply
from commands.dates import Period, parse_period
from commands.lookup import duration, ref, short_time
from storage import components as component_store
from storage import incidents as incident_store
from storage.models import Incident, IncidentKind, IncidentStatus

LIST_LIMIT = 50
NO_IMPACT_SEVERITY = 4
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


def _overlap(incident: Incident, start: datetime, end: datetime) -> float:
    closed = incident.closed_at or end
    return max(0.0, (min(closed, end) - max(incident.opened_at, start)).total_seconds())


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
    incidents: list[Incident], names: dict[int, list[str]], start: datetime, end: datetime
) -> tuple[ComponentImpact, ...]:
    """Minutes each component spent under at least one incident with public impact."""
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for incident in incidents:
        if (incident.severity or 4) >= NO_IMPACT_SEVERITY or incident.id is None:
            continue
        begin, until = max(incident.opened_at, start), min(incident.closed_at or end, end)
        if until <= begin:
            continue
        for name in names.get(incident.id) or [NO_COMPONENT]:
            spans[name].append((begin, until))
    impact = []
    for name, intervals in spans.items():
        # Overlapping incidents on one component count its time once.
        total, reach = 0.0, None
        for begin, until in sorted(intervals):
            if reach is not None and begin < reach:
                begin = reach
            if until > begin:
                total += (until - begin).total_seconds()
            reach = until if reach is None else max(reach, until)
        impact.append(ComponentImpact(name, round(total / 60)))
    return tuple(sorted(impact, key=lambda c: (-c.minutes, c.name)))


def summary_view(command: v.Summarize, ctx: Context) -> SummaryView:
    """The numbers of a period: incidents by severity, open now, time to resolve, impact."""
    now = ctx.now()
    period = parse_period(command.period, zone=ctx.zone, now=now)
    with ctx.sessions() as session:
        active = incident_store.list_incidents_overlapping(
            session=session, start=period.start, end=period.end
        )
        open_now = incident_store.count_incidents(session=session)
        incidents = [i for i in active if i.kind == IncidentKind.INCIDENT]
        keys = component_store.list_component_keys_of(
            session=session, incident_ids=[i.id for i in incidents if i.id is not None]
        )
        named = {
            c.key: c.name
            for c in component_store.list_components(session=session, include_removed=True)
        }
    opened = [i for i in incidents if i.opened_at >= period.start]
    resolved = [
        i
        for i in incidents
        if i.status == IncidentStatus.RESOLVED and i.closed_at and i.closed_at >= period.start
    ]
    spans = [(i.closed_at - i.opened_at).total_seconds() for i in resolved if i.closed_at]
    longest = max(resolved, key=lambda i: (i.closed_at or now) - i.opened_at, default=None)
    by_sev = Counter(i.severity for i in opened)
    return SummaryView(
        period=period,
        opened=len(opened),
        opened_by_severity={s: by_sev.get(s, 0) for s in (1, 2, 3, 4)},
        resolved=len(resolved),
        open_now=open_now,
        mean_time_to_resolve=sum(spans) / len(spans) if spans else None,
        longest=None
        if longest is None or longest.id is None
        else LongestIncident(longest.id, longest.title, _overlap(longest, longest.opened_at, now)),
        incident_seconds=sum(_overlap(i, period.start, period.end) for i in incidents),
        impact=_impact_minutes(
            incidents,
            {i: [named.get(k, k) for k in ks] for i, ks in keys.items()},
            period.start,
            period.end,
        ),
        maintenance_done=sum(
            1
            for i in active
            if i.kind == IncidentKind.MAINTENANCE and i.status == IncidentStatus.COMPLETED
        ),
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
