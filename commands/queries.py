"""Handlers that only read: list and summary."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from commands import verbs as v
from commands.context import Context, Reply
from commands.dates import parse_period
from commands.lookup import duration, ref, short_time
from storage import components as component_store
from storage import incidents as incident_store
from storage.models import Incident, IncidentKind, IncidentStatus

LIST_LIMIT = 50


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


def summarize(command: v.Summarize, ctx: Context) -> Reply:
    """Counts for a period: incidents by severity, open now, time to resolve, maintenance."""
    now = ctx.now()
    period = parse_period(command.period, zone=ctx.zone, now=now)
    with ctx.sessions() as session:
        active = incident_store.list_incidents_overlapping(
            session=session, start=period.start, end=period.end
        )
        open_now = incident_store.count_incidents(session=session)
    incidents = [i for i in active if i.kind == IncidentKind.INCIDENT]
    opened = [i for i in incidents if i.opened_at >= period.start]
    resolved = [
        i
        for i in incidents
        if i.status == IncidentStatus.RESOLVED and i.closed_at and i.closed_at >= period.start
    ]
    maintenance_done = [
        i
        for i in active
        if i.kind == IncidentKind.MAINTENANCE and i.status == IncidentStatus.COMPLETED
    ]
    by_sev = Counter(i.severity for i in opened)
    lines = [
        f"Summary for {period.name} ({short_time(period.start, ctx.zone)} → "
        f"{short_time(period.end, ctx.zone)})",
        f"Incidents opened: {len(opened)} ("
        + ", ".join(f"SEV{s}: {by_sev.get(s, 0)}" for s in (1, 2, 3, 4))
        + ")",
        f"Resolved: {len(resolved)} · open now: {open_now}",
    ]
    if resolved:
        spans = [(i.closed_at - i.opened_at).total_seconds() for i in resolved if i.closed_at]
        longest = max(resolved, key=lambda i: (i.closed_at or now) - i.opened_at)
        lines.append(
            f"Mean time to resolve: {duration(sum(spans) / len(spans))} · longest: "
            f"{ref(longest.id)} {duration(_overlap(longest, longest.opened_at, now))}"
        )
    impact = sum(_overlap(i, period.start, period.end) for i in incidents)
    lines.append(f"Incident time in the period: {duration(impact)}")
    lines.append(f"Maintenance completed: {len(maintenance_done)}")
    return Reply("\n".join(lines))
