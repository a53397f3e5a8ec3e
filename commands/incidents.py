"""Handlers that open, update, resolve, reopen and annotate incidents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from commands import verbs as v
from commands.context import Context, Reply
from commands.errors import Refused
from commands.lookup import get_components, get_incident, ref, short_time
from storage import audit as audit_store
from storage import components as component_store
from storage import incidents as incident_store
from storage import updates as update_store
from storage.models import Component, Incident, IncidentKind, IncidentStatus, UpdateKind
from storage.updates import Posted

DUPLICATE_WINDOW = timedelta(seconds=60)
DEFAULT_SEVERITY = 3


def component_ids(session: Session, incident: Incident) -> set[int]:
    """The ids of the components an incident affects."""
    assert incident.id is not None
    found = component_store.list_components_of(session=session, incident_id=incident.id)
    return {c.id for c in found if c.id is not None}


def append_update(
    session: Session,
    ctx: Context,
    incident: Incident,
    *,
    kind: UpdateKind,
    text: str,
    at: datetime,
    public: bool = True,
    opened_with: Sequence[Component] | None = None,
) -> Posted:
    """Add an update and its deliveries, and audit it, in the caller's transaction.

    `opened_with`, for the first update of an incident opened in this transaction, is the
    components it was given: they are linked to it here, and nothing earlier is read back
    (updates, component links).
    """
    assert incident.id is not None
    if opened_with is not None:
        component_store.link_components(
            session=session, incident_id=incident.id, components=opened_with
        )
    if at < incident.opened_at:
        opened = short_time(incident.opened_at, ctx.zone)
        raise Refused(
            f"--at is before {ref(incident.id)} was opened ({opened}); give a later time."
        )
    posted = update_store.create_update(
        session=session,
        incident=incident,
        kind=kind,
        text=text,
        author=ctx.actor.name,
        front_end=ctx.actor.front_end,
        at=at,
        public=public,
        component_ids=(
            component_ids(session, incident)
            if opened_with is None
            else {c.id for c in opened_with if c.id is not None}
        ),
        first=opened_with is not None,
        locale=ctx.locale,
        recorded_at=ctx.now(),
    )
    audit_store.create_audit_event(
        session=session,
        actor=ctx.actor.name,
        front_end=ctx.actor.front_end,
        action=kind.value,
        at=ctx.now(),
        incident_id=incident.id,
        detail={"update": posted.update.number, "status": incident.status.value},
    )
    return posted


def reach(posted: Posted) -> str:
    """How many channels an update was queued for, in words."""
    if not posted.update.public:
        return "Internal: not sent to customers."
    count = posted.reached
    if count == 0:
        return "No channel follows it; it shows on the status page."
    return f"Queued for {count} channel{'s' * (count != 1)}."


def open_incident(command: v.OpenIncident, ctx: Context) -> Reply:
    """Open an incident and queue its opening post."""
    now = ctx.now()
    at = command.at or now
    with ctx.sessions() as session, session.begin():
        duplicate = incident_store.get_recent_duplicate(
            session=session,
            title=command.title,
            opened_by=ctx.actor.name,
            since=now - DUPLICATE_WINDOW,
        )
        if duplicate is not None:
            return Reply(
                f"{ref(duplicate.id)} “{duplicate.title}” was opened moments ago with the same "
                f"title; nothing new was posted. To add to it: update {ref(duplicate.id)} TEXT…",
                incident_id=duplicate.id,
            )
        components = get_components(session, command.components or ())
        incident = incident_store.create_incident(
            session=session,
            kind=IncidentKind.INCIDENT,
            title=command.title,
            severity=command.severity or DEFAULT_SEVERITY,
            status=command.status or IncidentStatus.INVESTIGATING,
            opened_by=ctx.actor.name,
            at=at,
        )
        assert incident.id is not None
        # The chat it was opened in gets its nudges (saved with the opening's flush below).
        incident.opened_in = ctx.actor.place
        posted = append_update(
            session,
            ctx,
            incident,
            kind=UpdateKind.OPENED,
            text=command.message,
            at=at,
            opened_with=components,
        )
        names = ", ".join(c.key for c in components) or "no component"
        return Reply(
            f"Opened {ref(incident.id)} “{incident.title}” (SEV{incident.severity}, "
            f"{incident.status.value}, {names}). {reach(posted)}",
            incident_id=incident.id,
            changed=True,
        )


def _changeable(session: Session, incident_id: int) -> Incident:
    incident = get_incident(session, incident_id, for_change=True)
    if incident.status == IncidentStatus.RESOLVED:
        raise Refused(
            f"{ref(incident_id)} is resolved; to post on it again, reopen it first: "
            f"reopen {ref(incident_id)} TEXT…"
        )
    if incident.status.is_closed:
        raise Refused(f"{ref(incident_id)} is {incident.status.value}; it takes no more updates.")
    return incident


def post_update(command: v.PostUpdate, ctx: Context) -> Reply:
    """Post an update, changing status, severity or components on the way."""
    at = command.at or ctx.now()
    with ctx.sessions() as session, session.begin():
        incident = _changeable(session, command.incident_id)
        is_maintenance = incident.kind == IncidentKind.MAINTENANCE
        if is_maintenance and (command.status or command.severity):
            raise Refused(
                f"{ref(incident.id)} is a maintenance: it has no incident status or severity. "
                f"Post the text alone: update {ref(incident.id)} TEXT…"
            )
        changes = []
        if command.status and command.status != incident.status:
            changes.append(f"status {incident.status.value} → {command.status.value}")
            incident.status = command.status
        if command.severity and command.severity != incident.severity:
            changes.append(f"SEV{incident.severity} → SEV{command.severity}")
            incident.severity = command.severity
        if command.components is not None:
            components = get_components(session, command.components)
            assert incident.id is not None
            component_store.set_components_of(
                session=session, incident_id=incident.id, components=components
            )
            changes.append("components " + (", ".join(c.key for c in components) or "none"))
        session.add(incident)
        posted = append_update(
            session, ctx, incident, kind=UpdateKind.UPDATE, text=command.text, at=at
        )
        changed = f" ({'; '.join(changes)})" if changes else ""
        return Reply(
            f"Posted update #{posted.update.number} on {ref(incident.id)}{changed}. "
            f"{reach(posted)}",
            incident_id=incident.id,
            changed=True,
        )


def resolve_incident(command: v.ResolveIncident, ctx: Context) -> Reply:
    """Resolve an incident and queue its closing post."""
    at = command.at or ctx.now()
    with ctx.sessions() as session, session.begin():
        incident = _changeable(session, command.incident_id)
        if incident.kind == IncidentKind.MAINTENANCE:
            raise Refused(
                f"{ref(incident.id)} is a maintenance; close it with: "
                f"maintenance complete {ref(incident.id)} [TEXT…]"
            )
        incident.status = IncidentStatus.RESOLVED
        incident.closed_at = at
        session.add(incident)
        posted = append_update(
            session, ctx, incident, kind=UpdateKind.RESOLVED, text=command.text, at=at
        )
        return Reply(
            f"Resolved {ref(incident.id)} “{incident.title}”. {reach(posted)}",
            incident_id=incident.id,
            changed=True,
        )


def reopen_incident(command: v.ReopenIncident, ctx: Context) -> Reply:
    """Reopen a resolved incident."""
    at = command.at or ctx.now()
    with ctx.sessions() as session, session.begin():
        incident = get_incident(session, command.incident_id, for_change=True)
        if incident.status != IncidentStatus.RESOLVED:
            raise Refused(
                f"{ref(incident.id)} is {incident.status.value}, not resolved; "
                f"post to it with: update {ref(incident.id)} TEXT…"
            )
        incident.status = IncidentStatus.INVESTIGATING
        incident.closed_at = None
        session.add(incident)
        posted = append_update(
            session, ctx, incident, kind=UpdateKind.REOPENED, text=command.text, at=at
        )
        return Reply(
            f"Reopened {ref(incident.id)} “{incident.title}”. {reach(posted)}",
            incident_id=incident.id,
            changed=True,
        )


def add_note(command: v.AddNote, ctx: Context) -> Reply:
    """Add an internal note; it is never sent to customers."""
    at = command.at or ctx.now()
    with ctx.sessions() as session, session.begin():
        incident = get_incident(session, command.incident_id, for_change=True)
        posted = append_update(
            session, ctx, incident, kind=UpdateKind.NOTE, text=command.text, at=at, public=False
        )
        return Reply(
            f"Noted on {ref(incident.id)} as #{posted.update.number}. {reach(posted)}",
            incident_id=incident.id,
            changed=True,
        )


def edit_update(command: v.EditUpdate, ctx: Context) -> Reply:
    """Correct an update's text everywhere it was posted."""
    with ctx.sessions() as session, session.begin():
        incident = get_incident(session, command.incident_id, for_change=True)
        assert incident.id is not None
        if command.number is None:
            update = update_store.get_last_public_update(session=session, incident_id=incident.id)
            if update is None:
                raise Refused(f"{ref(incident.id)} has no public update to correct.")
        else:
            update = update_store.get_update_by_number(
                session=session, incident_id=incident.id, number=command.number
            )
            if update is None:
                raise Refused(
                    f"{ref(incident.id)} has no update #{command.number}; "
                    f"see the numbers with: show {ref(incident.id)}"
                )
        if update.text == command.text:
            return Reply(f"Update #{update.number} of {ref(incident.id)} already says that.")
        previous = update.text
        update_store.correct_update(session=session, update=update, text=command.text, at=ctx.now())
        audit_store.create_audit_event(
            session=session,
            actor=ctx.actor.name,
            front_end=ctx.actor.front_end,
            action="edit",
            at=ctx.now(),
            incident_id=incident.id,
            detail={"update": update.number, "previous": previous, "revision": update.revision},
        )
        where = "Corrections are queued where it was posted." if update.public else "Internal."
        return Reply(
            f"Corrected update #{update.number} of {ref(incident.id)}. {where}",
            incident_id=incident.id,
            changed=True,
        )
