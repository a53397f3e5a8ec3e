"""Handlers for scheduled maintenance, and the clock that starts and completes it on time."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from commands import verbs as v
from commands.context import SCHEDULER, Context, Reply
from commands.errors import Refused
from commands.incidents import append_update, reach
from commands.lookup import duration, get_components, get_maintenance, ref, short_time
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

log = logging.getLogger(__name__)


def _reminder_moment(incident: Incident) -> datetime | None:
    """When customers are reminded of this window, or None when they are not."""
    if not incident.remind_before_seconds or incident.window_start is None:
        return None
    return incident.window_start - timedelta(seconds=incident.remind_before_seconds)


def _plan_reminder(incident: Incident, now: datetime) -> str:
    """Arm the reminder when its moment is still ahead; say in words what will happen."""
    moment = _reminder_moment(incident)
    if moment is None:
        incident.reminded_at = None
        return "No reminder before it."
    before = duration(float(incident.remind_before_seconds or 0))
    if moment <= now:
        # The window is nearer than the reminder: the announcement itself is the reminder.
        incident.reminded_at = now
        return f"No reminder: it starts in less than {before}."
    incident.reminded_at = None
    return f"Customers are reminded {before} before it."


def schedule_maintenance(command: v.ScheduleMaintenance, ctx: Context) -> Reply:
    """Announce a maintenance window."""
    at = command.at or ctx.now()
    remind = command.remind if command.remind is not None else ctx.remind_before
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
        incident.remind_before_seconds = int(remind.total_seconds()) or None
        reminder = _plan_reminder(incident, ctx.now())
        session.add(incident)
        posted = append_update(
            session,
            ctx,
            incident,
            kind=UpdateKind.MAINTENANCE_SCHEDULED,
            text=command.message,
            at=at,
            opened_with=components,
        )
        how = "by hand (--manual)" if command.manual else "on time by itself"
        return Reply(
            f"Scheduled {ref(incident.id)} “{incident.title}” from "
            f"{short_time(command.start, ctx.zone)} to {short_time(command.end, ctx.zone)}; "
            f"it starts and completes {how}. {reminder} {reach(posted)}",
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
        posted = append_update(session, ctx, incident, kind=kind, text=command.text, at=at)
        return Reply(
            f"{PAST_TENSE[command.action]} {ref(incident.id)} “{incident.title}”. {reach(posted)}",
            incident_id=incident.id,
            changed=True,
        )


def extend_maintenance(command: v.ExtendMaintenance, ctx: Context) -> Reply:
    """Move the end of a maintenance window, or its start too before it begins; tell customers."""
    at = ctx.now()
    with ctx.sessions() as session, session.begin():
        incident = get_maintenance(session, command.incident_id)
        if incident.status.is_closed:
            raise Refused(f"{ref(incident.id)} is {incident.status.value}; it cannot be extended.")
        assert incident.window_start is not None
        assert incident.window_end is not None
        if command.start is not None and incident.status != IncidentStatus.SCHEDULED:
            raise Refused(
                f"{ref(incident.id)} has already started; only its end can move: "
                f"maintenance extend {ref(incident.id)} --end WHEN"
            )
        if command.start is not None and command.start <= at:
            raise Refused(
                "The new start is already past; give a later --start, or start it now: "
                f"maintenance start {ref(incident.id)}"
            )
        start = command.start or incident.window_start
        end = command.end
        if end <= start:
            raise Refused(f"The new end must come after the start, {short_time(start, ctx.zone)}.")
        if incident.status == IncidentStatus.IN_PROGRESS and end <= at:
            raise Refused(
                "The new end is already past; complete it instead: "
                f"maintenance complete {ref(incident.id)}"
            )
        moved = start != incident.window_start
        incident.window_start, incident.window_end = start, end
        reminder = _plan_reminder(incident, at) + " " if moved else ""
        session.add(incident)
        kind = UpdateKind.MAINTENANCE_RESCHEDULED if moved else UpdateKind.MAINTENANCE_EXTENDED
        posted = append_update(session, ctx, incident, kind=kind, text=command.text, at=at)
        window = f"runs from {short_time(start, ctx.zone)} to " if moved else "ends "
        return Reply(
            f"{ref(incident.id)} now {window}{short_time(end, ctx.zone)}. "
            f"{reminder}{reach(posted)}",
            incident_id=incident.id,
            changed=True,
        )


def remind_due_maintenance(ctx: Context) -> list[int]:
    """Remind customers of the windows whose reminder moment has come; return their ids.

    Each reminder is claimed on the incident row in the transaction that queues it, so
    it goes out once whatever the number of schedulers; one missed while Herald was down
    goes out late but still before the window, never after it has begun.
    """
    now = ctx.now()
    reminded: list[int] = []
    scheduler = Context(ctx.sessions, ctx.zone, ctx.locale, SCHEDULER, ctx.now)
    with ctx.sessions() as session:
        due = [
            i.id
            for i in incident_store.list_reminder_candidates(session=session, now=now)
            if (moment := _reminder_moment(i)) is not None and moment <= now and i.id is not None
        ]
    for incident_id in due:
        with ctx.sessions() as session, session.begin():
            incident = get_maintenance(session, incident_id)
            moment = _reminder_moment(incident)
            start = incident.window_start
            if (
                incident.status != IncidentStatus.SCHEDULED
                or incident.reminded_at is not None
                or moment is None
                or moment > now
                or start is None
                or start <= now
            ):
                continue  # another scheduler got there first, or the window moved
            incident.reminded_at = now
            session.add(incident)
            append_update(
                session, scheduler, incident, kind=UpdateKind.MAINTENANCE_REMINDER, text="", at=now
            )
            late = now - moment
            if late > timedelta(minutes=1):
                log.info(
                    "reminder for %s sent %s late", ref(incident_id), duration(late.total_seconds())
                )
            reminded.append(incident_id)
    return reminded


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
