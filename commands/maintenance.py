"""Handlers for scheduled maintenance, and the clock that starts and completes it on time."""

from __future__ import annotations

from datetime import datetime

from commands import verbs as v
from commands.context import SCHEDULER, Context, Reply
from commands.errors import Refused
from commands.incidents import append_update, reach
from commands.lookup import get_components, get_maintenance, ref, short_time
from storage import components as component_store
from storage import incidents as incident_store
from storage.models import Incident, IncidentKind, IncidentStatus, UpdateKind

STEPS = {
    "start": (
        (IncidentStatus.SCHEDULED,),
        IncidentStatus.IN_PROGRESS,
        UpdateKind.MAINTENANCE_STARTED,
    ),
    "complete": (
        (IncidentStatus.SCHEDULED, IncidentStatus.IN_PROGRESS),
        IncidentStatus.COMPLETED,
        UpdateKind.MAINTENANCE_COMPLETED,
    ),
    "cancel": (
        (IncidentStatus.SCHEDULED, IncidentStatus.IN_PROGRESS),
        IncidentStatus.CANCELLED,
        UpdateKind.MAINTENANCE_CANCELLED,
    ),
}
PAST_TENSE = {"start": "Started", "complete": "Completed", "cancel": "Cancelled"}


def schedule_maintenance(command: v.ScheduleMaintenance, ctx: Context) -> Reply:
    """Announce a maintenance window."""
    at = command.at or ctx.now()
    with ctx.sessions() as session, session.begin():
        components = get_components(session, command.components or ())
        incident = incident_store.create_incident(
            session=session,
            kind=IncidentKind.MAINTENANCE,
            title=command.title,
            status=IncidentStatus.SCHEDULED,
            opened_by=ctx.actor.name,
            at=at,
            window_start=command.start,
            window_end=command.end,
            auto_transitions=not command.manual,
        )
        assert incident.id is not None
        component_store.set_components_of(
            session=session, incident_id=incident.id, components=components
        )
        update = append_update(
            session,
            ctx,
            incident,
            kind=UpdateKind.MAINTENANCE_SCHEDULED,
            text=command.message,
            at=at,
        )
        how = "by hand (--manual)" if command.manual else "on time by itself"
        return Reply(
            f"Scheduled {ref(incident.id)} “{incident.title}” from "
            f"{short_time(command.start, ctx.zone)} to {short_time(command.end, ctx.zone)}; "
            f"it starts and completes {how}. {reach(session, update)}",
            incident_id=incident.id,
            changed=True,
        )


def _step(incident: Incident, action: str, at: datetime) -> UpdateKind:
    allowed, target, kind = STEPS[action]
    if incident.status not in allowed:
        raise Refused(
            f"{ref(incident.id)} is {incident.status.value}; it cannot {action} now "
            f"(it can from: {', '.join(s.value for s in allowed)})."
        )
    incident.status = target
    if target != IncidentStatus.IN_PROGRESS:
        incident.closed_at = at
    return kind


def step_maintenance(command: v.StepMaintenance, ctx: Context) -> Reply:
    """Start, complete or cancel a maintenance by hand."""
    at = command.at or ctx.now()
    with ctx.sessions() as session, session.begin():
        incident = get_maintenance(session, command.incident_id)
        kind = _step(incident, command.action, at)
        session.add(incident)
        update = append_update(session, ctx, incident, kind=kind, text=command.text, at=at)
        return Reply(
            f"{PAST_TENSE[command.action]} {ref(incident.id)} “{incident.title}”. "
            f"{reach(session, update)}",
            incident_id=incident.id,
            changed=True,
        )


def extend_maintenance(command: v.ExtendMaintenance, ctx: Context) -> Reply:
    """Move the end of a maintenance window and tell customers."""
    at = ctx.now()
    with ctx.sessions() as session, session.begin():
        incident = get_maintenance(session, command.incident_id)
        if incident.status.is_closed:
            raise Refused(f"{ref(incident.id)} is {incident.status.value}; it cannot be extended.")
        assert incident.window_start is not None
        if command.end <= incident.window_start:
            raise Refused(
                f"The new end must come after the start, "
                f"{short_time(incident.window_start, ctx.zone)}."
            )
        if incident.status == IncidentStatus.IN_PROGRESS and command.end <= at:
            raise Refused(
                "The new end is already past; complete it instead: "
                f"maintenance complete {ref(incident.id)}"
            )
        incident.window_end = command.end
        session.add(incident)
        update = append_update(
            session, ctx, incident, kind=UpdateKind.MAINTENANCE_EXTENDED, text=command.text, at=at
        )
        return Reply(
            f"{ref(incident.id)} now ends {short_time(command.end, ctx.zone)}. "
            f"{reach(session, update)}",
            incident_id=incident.id,
            changed=True,
        )


def advance_due_maintenance(ctx: Context) -> list[int]:
    """Start and complete automatic maintenance whose time has come; return their ids."""
    now = ctx.now()
    moved: list[int] = []
    scheduler = Context(ctx.sessions, ctx.zone, ctx.locale, SCHEDULER, ctx.now)
    with ctx.sessions() as session, session.begin():
        for due in incident_store.list_due_maintenance(session=session, now=now):
            assert due.id is not None
            incident = get_maintenance(session, due.id)
            if incident.status == IncidentStatus.SCHEDULED and incident.window_start:
                start = incident.window_start
                kind = _step(incident, "start", start)
                append_update(session, scheduler, incident, kind=kind, text="", at=start)
            end = incident.window_end
            if incident.status == IncidentStatus.IN_PROGRESS and end and end <= now:
                kind = _step(incident, "complete", end)
                append_update(session, scheduler, incident, kind=kind, text="", at=end)
            session.add(incident)
            moved.append(due.id)
    return moved
